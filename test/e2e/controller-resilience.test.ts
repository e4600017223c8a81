// Needs: the real control plane of `npm run env:up kube` (kube-apiserver, etcd, kube-controller-manager);
// restarts kube-apiserver and etcd through KUBE_ENV_SCRIPT.
//
// Two replicas never act at once and the standby takes over a killed leader; the controller survives a
// restart of kube-apiserver and etcd and reconciles a change made right after it within 30 s.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../src/api/generated/types.js';
import type { CronJob } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectlOk } from '../support/kubectl.js';
import { REPO_ROOT, requireEnv } from '../support/test-env.js';
import { apply, AuditLog, buildOnce, ControllerProcess, controllerArgs, describeWrites, getJson, sleep, tryGetJson } from './harness.js';
import { join } from 'node:path';

const API = 'retention.pyworkflow.io/v1alpha1';
const namespaces: string[] = [];
const controllers: ControllerProcess[] = [];

async function freshNamespace(prefix: string): Promise<string> {
  const ns = `e2e-${prefix}-${randomBytes(3).toString('hex')}`;
  await createNamespace(ns);
  namespaces.push(ns);
  await apply(
    ns,
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'wf-data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } },
    { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'files' }, spec: { type: 'file', file: { volume: 'wf-data' } } },
    { apiVersion: API, kind: 'RetentionPolicy', metadata: { name: 'purge' }, spec: { retentionDays: 14, backendRef: { name: 'files' }, schedule: '0 0 1 1 *' } },
  );
  return ns;
}

function start(name: string, ns: string): ControllerProcess {
  const c = ControllerProcess.start(name, controllerArgs(ns));
  controllers.push(c);
  return c;
}

async function cronSchedule(ns: string): Promise<string | undefined> {
  return (await tryGetJson<CronJob>(['get', 'cronjob', 'rp-purge', '-n', ns]))?.spec.schedule;
}

async function setSchedule(ns: string, schedule: string): Promise<void> {
  await kubectlOk(['patch', 'rp', 'purge', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { schedule } })]);
}

function kubeScript(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [requireEnv('KUBE_ENV_SCRIPT'), ...args], { timeout: 300_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout + stderr)));
  });
}

const identityOf = async (c: ControllerProcess): Promise<string> => String((await c.waitFor('startup', (l) => l.msg === 'controller starting')).identity);

describe('controller resilience (real control plane)', () => {
  beforeAll(async () => {
    buildOnce();
    await installCrds(join(REPO_ROOT, 'crds'));
  });

  afterEach(async () => {
    await Promise.all(controllers.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    for (const ns of namespaces) await deleteNamespace(ns);
  });

  it('two replicas: only the leader writes; killing it hands over to the standby', async () => {
    const ns = await freshNamespace('ha');
    const audit = new AuditLog();
    audit.mark();
    const a = start('replica-a', ns);
    await a.waitFor('acting as leader', (l) => l.msg === 'acting as leader');
    const b = start('replica-b', ns);
    const [idA, idB] = [await identityOf(a), await identityOf(b)];
    await b.waitFor('the standby sees the leader', (l) => l.msg === 'leader observed' && l.leader === idA);
    const lease = await getJson<{ spec: { holderIdentity: string } }>(['get', 'lease', 'pyworkflow-retention-e2e', '-n', ns]);
    expect(lease.spec.holderIdentity).toBe(idA);

    await eventually('the CronJob', 20_000, () => cronSchedule(ns));
    await setSchedule(ns, '30 1 * * *');
    await eventually('the new schedule', 20_000, async () => ((await cronSchedule(ns)) === '30 1 * * *' ? true : undefined));
    await sleep(3_000);
    expect(a.count((l) => l.msg === 'updated CronJob')).toBe(1);
    expect(b.has((l) => l.msg === 'acting as leader' || l.msg === 'created CronJob' || l.msg === 'updated CronJob')).toBe(false);
    const byB = audit.controllerWrites(ns).filter((e) => e.userAgent?.includes(idB));
    expect(describeWrites(byB)).toEqual([]);
    expect(audit.controllerWrites(ns).filter((e) => e.userAgent?.includes(idA)).length).toBeGreaterThan(0);

    // The leader crashes: nothing released; the standby waits out the lease (15 s) and takes over.
    const killedAt = Date.now();
    await a.kill();
    await b.waitFor('the standby acting as leader', (l) => l.msg === 'acting as leader', 40_000);
    const takeoverMs = Date.now() - killedAt;
    console.log(`leader killed: the standby took over after ${(takeoverMs / 1000).toFixed(1)} s (lease duration 15 s)`);
    expect(takeoverMs).toBeGreaterThanOrEqual(10_000);
    await setSchedule(ns, '45 2 * * *');
    await eventually('the standby reconciles', 20_000, async () => ((await cronSchedule(ns)) === '45 2 * * *' ? true : undefined));
    await b.waitFor('the new leader updated the CronJob', (l) => l.msg === 'updated CronJob');
    const policy = await getJson<RetentionPolicy>(['get', 'rp', 'purge', '-n', ns]);
    expect(policy.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('survives a kube-apiserver and etcd restart and reconciles a change made right after it within 30 s', async () => {
    const ns = await freshNamespace('restart');
    const c = start('restart', ns);
    await c.waitFor('acting as leader', (l) => l.msg === 'acting as leader');
    await eventually('the CronJob', 20_000, () => cronSchedule(ns));
    const linesBefore = c.lines.length;

    const outageStarted = Date.now();
    await kubeScript('restart-apiserver', '5');
    const apiBackAt = Date.now();
    await setSchedule(ns, '15 4 * * *');
    const changedAt = Date.now();
    await eventually('the change reconciled after the restart', 60_000, async () => ((await cronSchedule(ns)) === '15 4 * * *' ? true : undefined));
    const recoveredAt = Date.now();
    const recoveryMs = recoveredAt - changedAt;
    const during = c.lines.slice(linesBefore);
    const watchEnds = during.filter((l) => l.msg === 'watch ended').length;
    const listFailures = during.filter((l) => l.msg === 'list failed; retrying').length;
    console.log(
      `kube-apiserver+etcd restart: API down for ${((apiBackAt - outageStarted) / 1000).toFixed(1)} s; ` +
        `change made ${((changedAt - apiBackAt) / 1000).toFixed(1)} s after the API was back was reconciled ${(recoveryMs / 1000).toFixed(1)} s later ` +
        `(${watchEnds} watch restarts, ${listFailures} failed lists across 5 informers during the outage)`,
    );
    expect(recoveryMs).toBeLessThanOrEqual(30_000);
    expect(c.child.exitCode).toBeNull();
    // No hammering: with backoff capped at 8 s, a short outage costs a handful of retries per informer.
    expect(watchEnds + listFailures).toBeLessThan(5 * 15);
    const policy = await eventually('status after recovery', 20_000, async () => {
      const p = await getJson<RetentionPolicy>(['get', 'rp', 'purge', '-n', ns]);
      return p.status?.observedGeneration === p.metadata.generation ? p : undefined;
    });
    expect(policy.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
  });
});
