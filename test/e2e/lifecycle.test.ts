// Needs: the real control plane of `npm run env:up kube` (kube-apiserver, etcd). Issue 10:
// - finding 1: a newer CRD (a defaulted spec field, a new status field, objects using both) read by this
//   (older) controller, and then a rollback of the CRD, leave every policy and backend Ready, their
//   CronJob running, and the controller writing nothing in steady state. The CRDs are changed on a private kube-apiserver of the same
//   cluster (test/support/private-apiserver.ts), so suites running at the same time never see them.
// - finding 6: a CronJob the API server refuses (here: a ValidatingAdmissionPolicy bound to this test's
//   namespace) shows as Ready=False CronJobInvalid and Stalled=True with the API server's message,
//   without a retry loop, and clears when the spec is fixed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import type { CronJob } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectl, kubectlOk } from '../support/kubectl.js';
import { startPrivateApiServer, type PrivateApiServer } from '../support/private-apiserver.js';
import { REPO_ROOT } from '../support/test-env.js';
import { apply, AuditLog, buildOnce, ControllerProcess, controllerArgs, describeWrites, getJson, sleep, tryGetJson } from './harness.js';

const API = 'retention.pyworkflow.io/v1alpha1';
const CRDS = join(REPO_ROOT, 'crds');
type Condition = { type: string; status: string; reason: string; message: string; observedGeneration?: number };
type WithConditions = { metadata: { generation?: number }; status?: { conditions?: Condition[]; observedGeneration?: number } };
const condition = (o: WithConditions, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
/** Resyncs every 10 s (the shortest the controller allows), so a steady-state window sees two of them quickly. */
const RESYNC = ['--resync-period', '10s'];

const backendManifest = {
  apiVersion: API,
  kind: 'StorageBackend',
  metadata: { name: 'pg' },
  spec: { type: 'postgres', postgres: { host: 'db.example', user: 'sweeper', passwordSecretRef: { name: 'pg', key: 'password' } } },
};
const policyManifest = (name: string, extra: Record<string, unknown> = {}): RetentionPolicy => ({
  apiVersion: API,
  kind: 'RetentionPolicy',
  metadata: { name },
  spec: { retentionDays: 30, backendRef: { name: 'pg' }, schedule: '0 0 1 1 *', ...extra } as RetentionPolicy['spec'],
});

type Crd = { metadata: { name: string }; spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: Record<string, { properties: Record<string, unknown> }> } } }> } };

/** The CRDs of a hypothetical next release: one more defaulted spec field and one more status field per kind. */
function newerCrds(): string {
  const docs = readdirCrds().map((crd) => {
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema.properties;
    const spec = root.spec!.properties;
    const status = root.status!.properties;
    spec.concurrencyHint = { type: 'string', default: 'auto', description: 'A field of a later release.' };
    status.observedShards = { type: 'integer', default: 1, description: 'A status field of a later release.' };
    if (crd.metadata.name.startsWith('retentionpolicies')) {
      const jobTemplate = spec.jobTemplate as { properties: Record<string, unknown> };
      jobTemplate.properties.runtimeClassName = { type: 'string', description: 'A jobTemplate field of a later release.' };
    }
    return stringify(crd);
  });
  return docs.join('---\n');
}

function readdirCrds(): Crd[] {
  return ['retention.pyworkflow.io_storagebackends.yaml', 'retention.pyworkflow.io_retentionpolicies.yaml'].flatMap((f) =>
    parseAllDocuments(readFileSync(join(CRDS, f), 'utf8')).map((d) => d.toJS() as Crd),
  );
}

describe('CRD upgrade and rollback (issue 10, finding 1; a private API server)', () => {
  const ns = `e2e-crd-${randomBytes(3).toString('hex')}`;
  let server: PrivateApiServer;
  let controller: ControllerProcess | undefined;
  let audit: AuditLog;

  const k = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await server.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const get = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await k([...args, '-n', ns, '-o', 'json'])) as T;
  const installOn = async (yaml: string): Promise<void> => {
    await k(['apply', '--server-side', '--force-conflicts', '--field-manager', 'pyworkflow-retention-tests', '-f', '-'], yaml);
    await k(['wait', '--for=condition=Established', '--timeout=60s', 'crd/retentionpolicies.retention.pyworkflow.io', 'crd/storagebackends.retention.pyworkflow.io']);
  };
  /** Both objects Ready=True for their current generation, the CronJob running. */
  const healthy = async (): Promise<{ policy: RetentionPolicy; backend: StorageBackend; cron: CronJob }> =>
    eventually('policy and backend Ready for their generation, CronJob running', 30_000, async () => {
      const policy = await get<RetentionPolicy>(['get', 'rp', 'purge']);
      const backend = await get<StorageBackend>(['get', 'wfsb', 'pg']);
      const cron = await get<CronJob>(['get', 'cronjob', 'rp-purge']);
      const ok = (o: WithConditions): boolean => condition(o, 'Ready')?.status === 'True' && o.status?.observedGeneration === o.metadata.generation;
      return ok(policy) && ok(backend) && cron.spec.suspend === false ? { policy, backend, cron } : undefined;
    });
  /**
   * A controller started now lists every object afresh. A running one may keep a watch opened before the
   * CRD changed (the API server drains those) and see objects as the previous CRD shapes them for a while;
   * a fresh list is also what a rolled-back or restarted controller sees.
   */
  const restartController = async (name: string): Promise<void> => {
    await controller?.stop();
    controller = ControllerProcess.start(name, controllerArgs(ns, RESYNC), server.kubeconfig);
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader', 60_000);
  };
  /** Two resyncs with the controller writing nothing. */
  const expectNoWrites = async (what: string): Promise<void> => {
    audit.mark();
    await sleep(22_000);
    expect(describeWrites(audit.controllerWrites(ns, { excludeLeases: true })), what).toEqual([]);
  };

  beforeAll(async () => {
    buildOnce();
    server = await startPrivateApiServer('crd-upgrade');
    audit = new AuditLog(server.auditLog);
    await installOn(readFileSync(join(CRDS, 'retention.pyworkflow.io_storagebackends.yaml'), 'utf8') + '---\n' + readFileSync(join(CRDS, 'retention.pyworkflow.io_retentionpolicies.yaml'), 'utf8'));
    await k(['create', 'namespace', ns]);
    await k(['apply', '-n', ns, '-f', '-'], [backendManifest, policyManifest('purge')].map((o) => JSON.stringify(o)).join('\n'));
    await restartController('controller-crd-1');
  }, 180_000);

  afterAll(async () => {
    await controller?.stop();
    await server?.stop();
  });

  it('with a newer CRD and objects that use its fields: still Ready, same CronJob, and no writes in steady state', async () => {
    const before = await healthy();
    await installOn(newerCrds());
    // Objects written under the newer CRD: the new spec fields set, a newer controller's status field.
    await k(['patch', 'rp', 'purge', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { concurrencyHint: 'high', jobTemplate: { runtimeClassName: 'gvisor' } } })]);
    await k(['patch', 'wfsb', 'pg', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { concurrencyHint: 'low' } })]);
    await k(['patch', 'rp', 'purge', '-n', ns, '--subresource=status', '--type', 'merge', '-p', JSON.stringify({ status: { observedShards: 4 } })]);
    const upgraded = await get<RetentionPolicy>(['get', 'rp', 'purge']);
    expect(upgraded.spec).toMatchObject({ concurrencyHint: 'high', jobTemplate: { runtimeClassName: 'gvisor' } });
    expect(upgraded.metadata.generation).toBeGreaterThan(before.policy.metadata.generation!);
    await restartController('controller-crd-2');

    const after = await healthy();
    expect(condition(after.policy, 'Stalled')).toBeUndefined();
    expect(condition(after.backend, 'Stalled')).toBeUndefined();
    expect(after.cron.spec).toEqual(before.cron.spec);
    // The newer controller's status field (and the CRD's status default) survive this controller's writes.
    expect(after.policy.status).toMatchObject({ observedShards: 4 });
    expect(after.backend.status).toMatchObject({ observedShards: 1 });
    await expectNoWrites('steady state under the newer CRD');
  });

  it('after rolling the CRD back: still Ready, and no writes in steady state', async () => {
    await installOn(readFileSync(join(CRDS, 'retention.pyworkflow.io_storagebackends.yaml'), 'utf8') + '---\n' + readFileSync(join(CRDS, 'retention.pyworkflow.io_retentionpolicies.yaml'), 'utf8'));
    // A spec change under the old CRD: the controller reconciles it (observedGeneration follows).
    await k(['patch', 'rp', 'purge', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { retentionDays: 31 } })]);
    await restartController('controller-crd-3');
    const after = await healthy();
    expect(after.policy.spec.retentionDays).toBe(31);
    expect(condition(after.policy, 'Stalled')).toBeUndefined();
    expect(after.cron.spec.jobTemplate.spec?.template.spec?.containers[0]?.args).toContain('31');
    await expectNoWrites('steady state after the rollback');
    expect(controller!.count((l) => l.level === 'error')).toBe(0);
  });
});

describe('a CronJob the API server refuses (issue 10, finding 6)', () => {
  const ns = `e2e-refused-${randomBytes(3).toString('hex')}`;
  const vap = `pywr-e2e-deny-${ns}`;
  const FORBIDDEN = 'registry.example/forbidden/run:1';
  const DENIAL = 'images from registry.example/forbidden are not allowed';
  let controller: ControllerProcess | undefined;
  const audit = new AuditLog();
  const getPolicy = (): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', 'refused', '-n', ns]);
  const waitForReady = (what: string, pred: (ready: Condition | undefined, p: RetentionPolicy) => boolean): Promise<RetentionPolicy> =>
    eventually(what, 30_000, async () => {
      const p = await getPolicy();
      return pred(condition(p, 'Ready'), p) ? p : undefined;
    });

  beforeAll(async () => {
    buildOnce();
    await installCrds(CRDS);
    await createNamespace(ns);
    const match = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } };
    await kubectlOk(['apply', '-f', '-'], [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: vap },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { ...match, resourceRules: [{ apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['cronjobs'] }] },
          validations: [{ expression: `!object.spec.jobTemplate.spec.template.spec.containers.exists(c, c.image.startsWith('registry.example/forbidden'))`, message: DENIAL, reason: 'Invalid' }],
        },
      },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: vap }, spec: { policyName: vap, validationActions: ['Deny'], matchResources: match } },
    ].map((o) => JSON.stringify(o)).join('\n'));
    // The policy is in force once a CronJob with the image is refused (policies load asynchronously).
    const probe: CronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'probe', namespace: ns },
      spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: FORBIDDEN }] } } } } },
    };
    await eventually('the ValidatingAdmissionPolicy in force', 30_000, async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(probe));
      return r.code !== 0 && r.stderr.includes(DENIAL) ? true : undefined;
    });
    await apply(ns, backendManifest, policyManifest('refused', { jobTemplate: { image: FORBIDDEN } }));
    controller = ControllerProcess.start('controller-refused', controllerArgs(ns, RESYNC));
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader');
  });

  afterAll(async () => {
    await controller?.stop();
    await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', vap, '--ignore-not-found']);
    await deleteNamespace(ns);
  });

  it('create refused: Ready=False CronJobInvalid with the API server message, Stalled=True, one Warning, no retry loop', async () => {
    const p = await waitForReady('Ready=False CronJobInvalid', (r) => r?.reason === 'CronJobInvalid');
    const ready = condition(p, 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', observedGeneration: p.metadata.generation });
    expect(ready.message).toContain(DENIAL);
    expect(ready.message).toContain('rp-refused');
    expect(condition(p, 'Stalled')).toMatchObject({ status: 'True', reason: 'CronJobInvalid', observedGeneration: p.metadata.generation });
    expect(p.status?.observedGeneration).toBe(p.metadata.generation);
    expect(await tryGetJson(['get', 'cronjob', 'rp-refused', '-n', ns])).toBeUndefined();

    // No hot loop: over two resync periods, only the resyncs retry (the policy's own and its backend's,
    // which maps to the policy: at most two attempts per period), and no status write.
    audit.mark();
    await sleep(22_000);
    const writes = audit.controllerWrites(ns, { excludeLeases: true }).filter((e) => e.objectRef?.resource !== 'events');
    const attempts = writes.filter((e) => e.objectRef?.resource === 'cronjobs');
    console.log(`refused CronJob: ${attempts.length} create attempts in 22 s with a 10 s resync (${attempts.map((e) => e.requestReceivedTimestamp?.slice(11, 23)).join(', ')})`);
    expect(attempts.length).toBeLessThanOrEqual(6);
    expect(attempts.every((e) => e.responseStatus?.code === 422)).toBe(true);
    expect(describeWrites(writes.filter((e) => e.objectRef?.resource !== 'cronjobs'))).toEqual([]);
    const warnings = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=CronJobInvalid', '-o', 'jsonpath={.items[*].type}']);
    expect(warnings.trim().split(/\s+/)).toEqual(['Warning']);
  });

  it('fixing the spec clears it; a refused update suspends the previous CronJob and says why', async () => {
    await kubectlOk(['patch', 'rp', 'refused', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { jobTemplate: { image: 'registry.example/allowed/run:1' } } })]);
    const fixed = await waitForReady('Ready=True', (r) => r?.status === 'True');
    expect(condition(fixed, 'Stalled')).toBeUndefined();
    expect((await getJson<CronJob>(['get', 'cronjob', 'rp-refused', '-n', ns])).spec.suspend).toBe(false);

    await kubectlOk(['patch', 'rp', 'refused', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { jobTemplate: { image: FORBIDDEN } } })]);
    const refused = await waitForReady('Ready=False CronJobInvalid after an update', (r, p) => r?.reason === 'CronJobInvalid' && r.observedGeneration === p.metadata.generation);
    expect(condition(refused, 'Ready')!.message).toContain(DENIAL);
    const cron = await getJson<CronJob>(['get', 'cronjob', 'rp-refused', '-n', ns]);
    expect(cron.spec.suspend).toBe(true);
    expect(cron.spec.jobTemplate.spec?.template.spec?.containers[0]?.image).toBe('registry.example/allowed/run:1');
  });
});
