// Needs: the real control plane (kube-apiserver, etcd, kube-controller-manager of `npm run env:up kube`)
// and the test node running run pods as local processes against a seeded SQLite store.
//
// One RetentionPolicy from `kubectl apply` to `kubectl get rp`: the owned CronJob, manual runs that
// delete exactly the eligible runs, a failing run and its recovery, a controller restart that counts
// nothing twice and writes nothing in steady state, a broken backend reference, and garbage collection.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import { seedSqliteStore } from '../../src/backends/sqlite/seed.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { generateDataset } from '../../src/model/generate.js';
import type { Dataset } from '../../src/model/dataset.js';
import type { CronJob, Job } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectlOk } from '../support/kubectl.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';
import type { TestNode } from '../support/test-node.js';
import { REPO_ROOT } from '../support/test-env.js';
import { apply, AuditLog, buildOnce, ControllerProcess, controllerArgs, describeWrites, getJson, sleep, startNode, tryGetJson } from './harness.js';

const ns = `e2e-rp-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'pywr-e2e-rp-'));
const storeDir = join(work, 'wf-data');
const dbPath = join(storeDir, 'pyworkflow.db');
const audit = new AuditLog();
let node: TestNode;
let controller: ControllerProcess;
let dataset: Dataset;

const API = 'retention.pyworkflow.io/v1alpha1';
const policyManifest = (name: string, backend: string, extra: Record<string, unknown> = {}): RetentionPolicy => ({
  apiVersion: API,
  kind: 'RetentionPolicy',
  metadata: { name },
  spec: { retentionDays: 30, backendRef: { name: backend }, schedule: '0 0 1 1 *', ...extra } as RetentionPolicy['spec'],
});

const getPolicy = (name = 'purge'): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', name, '-n', ns]);
const condition = (p: RetentionPolicy, type: string) => p.status?.conditions?.find((c) => c.type === type);
const jobsWithToken = async (token: string): Promise<Job[]> =>
  (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.filter((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === token);

/** Annotates the policy with a run-now token and waits until that run's result is in the status. */
async function runNow(token: string): Promise<{ policy: RetentionPolicy; job: Job }> {
  await kubectlOk(['annotate', '--overwrite', 'rp', 'purge', '-n', ns, `retention.pyworkflow.io/run-now=${token}`]);
  const job = await eventually(`the Job of run-now token ${token}`, 30_000, async () => (await jobsWithToken(token))[0]);
  const policy = await eventually(`the result of ${job.metadata.name} in status.lastRun`, 60_000, async () => {
    const p = await getPolicy();
    return p.status?.lastRun?.jobName === job.metadata.name ? p : undefined;
  });
  return { policy, job };
}

function remainingRunIds(): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT run_id FROM workflow_runs ORDER BY run_id').all() as Array<{ run_id: string }>).map((r) => r.run_id);
  } finally {
    db.close();
  }
}

describe('RetentionPolicy end to end (sqlite store, real control plane)', () => {
  beforeAll(async () => {
    buildOnce();
    await installCrds(join(REPO_ROOT, 'crds'));
    await createNamespace(ns);
    mkdirSync(storeDir, { recursive: true });
    dataset = sqliteFixture.adapt(generateDataset({ seed: 1105, runs: 400, now: new Date(), spanDays: 60, eventsPerRun: 3, extras: true }));
    seedSqliteStore(dbPath, dataset);
    node = await startNode(`pywr-e2e-${ns}`, ns, join(work, 'node'), { 'wf-data': storeDir });
    await apply(
      ns,
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'wf-data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } },
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'sqlite-store' }, spec: { type: 'sqlite', sqlite: { volume: 'wf-data', path: 'pyworkflow.db' } } } satisfies StorageBackend,
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'pg' }, spec: { type: 'postgres', postgres: { host: 'db.example', user: 'sweeper', passwordSecretRef: { name: 'pg-credentials', key: 'password' } } } },
      policyManifest('purge', 'sqlite-store'),
      policyManifest('pg-purge', 'pg', { jobTemplate: { podLabels: { team: 'a' } } }),
    );
    audit.mark();
    controller = ControllerProcess.start('controller-a', controllerArgs(ns));
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader');
  });

  afterAll(async () => {
    await controller?.stop();
    await node?.stop();
    await deleteNamespace(ns);
    rmSync(work, { recursive: true, force: true });
  });

  it('reconciles each policy into one owned CronJob: Forbid, schedule, restricted pod, secrets only by reference', async () => {
    const cron = await eventually('CronJob rp-purge', 20_000, () => tryGetJson<CronJob>(['get', 'cronjob', 'rp-purge', '-n', ns]));
    const policy = await getPolicy();
    expect(cron.metadata.ownerReferences).toEqual([{ apiVersion: API, kind: 'RetentionPolicy', name: 'purge', uid: policy.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(cron.spec).toMatchObject({ schedule: '0 0 1 1 *', concurrencyPolicy: 'Forbid', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3 });
    const pod = cron.spec.jobTemplate.spec!.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0]!;
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c).toMatchObject({ command: ['node', '/app/dist/src/cli/main.js'], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    expect(c.args).toEqual(expect.arrayContaining(['sweep', '--output', 'json', '--termination-log', '/dev/termination-log', '--retention-days', '30']));
    expect(cron.spec.jobTemplate.spec).toMatchObject({ ttlSecondsAfterFinished: 86400, backoffLimit: 0, activeDeadlineSeconds: 3600 });

    const pgCron = await eventually('CronJob rp-pg-purge', 20_000, () => tryGetJson<CronJob>(['get', 'cronjob', 'rp-pg-purge', '-n', ns]));
    const pg = pgCron.spec.jobTemplate.spec!.template.spec!.containers[0]!;
    expect(pg.env).toEqual([{ name: 'PYWR_PASSWORD', valueFrom: { secretKeyRef: { name: 'pg-credentials', key: 'password' } } }]);
    expect(JSON.parse(pg.args![pg.args!.indexOf('--storage') + 1]!)).toMatchObject({ type: 'postgres', host: 'db.example', user: 'sweeper', password: '${PYWR_PASSWORD}' });
    expect(pgCron.spec.jobTemplate.spec!.template.metadata!.labels).toMatchObject({ team: 'a', 'app.kubernetes.io/managed-by': 'pyworkflow-retention-operator' });

    const ready = await eventually('Ready=True', 20_000, async () => {
      const p = await getPolicy();
      return condition(p, 'Ready')?.status === 'True' ? p : undefined;
    });
    expect(ready.status?.cronJobName).toBe('rp-purge');
    expect(ready.status?.nextScheduleTime).toMatch(/^\d{4}-01-01T00:00:00Z$/);
  });

  it('one manual run per token deletes exactly the eligible runs, and kubectl get rp shows the count', async () => {
    const before = remainingRunIds();
    const { policy, job } = await runNow('first');
    expect(policy.status?.lastRun?.outcome).toBe('Succeeded');
    const cutoff = new Date(policy.status!.lastRun!.cutoff!);
    const expected = expectedAfterSweep(dataset, { cutoff, statuses: TERMINAL_STATUSES, housekeeping: true });
    expect(expected.counts.runs).toBeGreaterThan(50);
    expect(policy.status?.lastRun?.deleted).toEqual(expected.counts);
    expect(remainingRunIds()).toEqual(expected.remaining.runs.map((r) => r.run_id).sort());
    expect(before.length - remainingRunIds().length).toBe(expected.counts.runs);
    expect(policy.status?.totals).toEqual({ ...expected.counts, runsSucceeded: 1, runsFailed: 0 });
    expect(condition(policy, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
    expect(await jobsWithToken('first')).toHaveLength(1);
    expect(job.metadata.name).toMatch(/^rp-purge-now-[0-9a-f]{10}$/);

    const table = await kubectlOk(['get', 'rp', 'purge', '-n', ns]);
    const [header, row] = table.trim().split('\n');
    const columns = header!.split(/\s{2,}/);
    const values = row!.split(/\s{2,}/);
    expect(values[columns.indexOf('RUNS DELETED')]).toBe(String(expected.counts.runs));
    expect(values[columns.indexOf('READY')]).toBe('True');
    const events = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=RunSucceeded', '-o', 'jsonpath={.items[*].note}']);
    expect(events).toContain(`Deleted ${expected.counts.runs} runs`);

    // A second token: one more Job, which finds nothing left to delete; the first token never runs again.
    const second = await runNow('second');
    expect(second.policy.status?.lastRun).toMatchObject({ outcome: 'Succeeded', deleted: { runs: 0 } });
    expect(second.policy.status?.totals).toMatchObject({ runs: expected.counts.runs, runsSucceeded: 2 });
    expect(second.policy.status?.lastRunNowToken).toBe('second');
    await sleep(3_000);
    expect(await jobsWithToken('first')).toHaveLength(1);
    expect(await jobsWithToken('second')).toHaveLength(1);
  });

  it('a failing run (store file gone) shows LastRunSucceeded=False with the cause; after the fix the next run succeeds', async () => {
    renameSync(dbPath, `${dbPath}.away`);
    const failed = await runNow('store-gone');
    expect(failed.policy.status?.lastRun?.outcome).toBe('Failed');
    const lrs = condition(failed.policy, 'LastRunSucceeded')!;
    expect(lrs).toMatchObject({ status: 'False', reason: 'RunFailed' });
    expect(lrs.message).toMatch(/pyworkflow\.db/);
    expect(failed.policy.status?.totals?.runsFailed).toBe(1);
    const warnings = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=RunFailed', '-o', 'jsonpath={.items[*].note}']);
    expect(warnings).toMatch(/pyworkflow\.db/);

    renameSync(`${dbPath}.away`, dbPath);
    const fixed = await runNow('store-back');
    expect(fixed.policy.status?.lastRun?.outcome).toBe('Succeeded');
    expect(condition(fixed.policy, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
    expect(fixed.policy.status?.history?.map((h) => h.outcome)).toEqual(['Succeeded', 'Failed', 'Succeeded', 'Succeeded']);
  });

  it('a restarted controller counts nothing twice and, in steady state (resyncs included), writes nothing', async () => {
    const before = (await getPolicy()).status!;
    expect(await controller.stop()).toBe(0);
    expect(controller.has((l) => l.msg === 'released the lease')).toBe(true);
    audit.mark();
    controller = ControllerProcess.start('controller-b', controllerArgs(ns));
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader', 30_000);
    await sleep(5_000);
    const cpuBefore = controller.cpuSeconds();
    // Two resync periods (20 s each) pass; every policy, backend and finished Job is looked at again.
    await sleep(40_000);
    const idleCpu = (controller.cpuSeconds() - cpuBefore) / 40;
    const after = (await getPolicy()).status!;
    expect(after.totals).toEqual(before.totals);
    expect(after.history).toEqual(before.history);
    expect(after.lastRun).toEqual(before.lastRun);
    const writes = audit.controllerWrites(ns, { excludeLeases: true });
    expect(describeWrites(writes)).toEqual([]);
    const rss = controller.rssMiB();
    console.log(`controller idle after restart and two resyncs: RSS ${rss.toFixed(1)} MiB, CPU ${(idleCpu * 100).toFixed(1)} % of a core (pid ${controller.pid})`);
    expect(rss).toBeLessThan(160);
    expect(idleCpu).toBeLessThan(0.05);
  });

  it('a StorageBackend reference that does not resolve: Ready=False BackendNotFound and the CronJob suspended; fixing it makes it Ready', async () => {
    await kubectlOk(['patch', 'rp', 'purge', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { backendRef: { name: 'no-such-backend' } } })]);
    const broken = await eventually('Ready=False BackendNotFound', 20_000, async () => {
      const p = await getPolicy();
      return condition(p, 'Ready')?.reason === 'BackendNotFound' ? p : undefined;
    });
    expect(condition(broken, 'Ready')!.message).toMatch(/no-such-backend/);
    expect(broken.status?.nextScheduleTime).toBeUndefined();
    const suspended = await getJson<CronJob>(['get', 'cronjob', 'rp-purge', '-n', ns]);
    expect(suspended.spec.suspend).toBe(true);
    const warn = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=BackendNotFound', '-o', 'jsonpath={.items[*].type}']);
    expect(warn).toContain('Warning');

    await kubectlOk(['patch', 'rp', 'purge', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { backendRef: { name: 'sqlite-store' } } })]);
    await eventually('Ready=True again', 20_000, async () => {
      const p = await getPolicy();
      return condition(p, 'Ready')?.status === 'True' ? p : undefined;
    });
    expect((await getJson<CronJob>(['get', 'cronjob', 'rp-purge', '-n', ns])).spec.suspend).toBe(false);

    // A policy created with a dangling reference gets no CronJob at all until the backend exists.
    await apply(ns, policyManifest('dangling', 'later'));
    await eventually('dangling: BackendNotFound', 20_000, async () => (condition(await getPolicy('dangling'), 'Ready')?.reason === 'BackendNotFound' ? true : undefined));
    expect(await tryGetJson(['get', 'cronjob', 'rp-dangling', '-n', ns])).toBeUndefined();
    await apply(ns, { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'later' }, spec: { type: 'sqlite', sqlite: { volume: 'wf-data', path: 'pyworkflow.db' } } });
    await eventually('CronJob rp-dangling', 20_000, () => tryGetJson(['get', 'cronjob', 'rp-dangling', '-n', ns]));
  });

  it('deleting the policy garbage-collects its CronJob and Jobs', async () => {
    expect((await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns, '-l', 'retention.pyworkflow.io/policy=purge'])).items.length).toBeGreaterThan(0);
    await kubectlOk(['delete', 'rp', 'purge', '-n', ns, '--wait=false']);
    await eventually('CronJob rp-purge garbage-collected', 60_000, async () => ((await tryGetJson(['get', 'cronjob', 'rp-purge', '-n', ns])) === undefined ? true : undefined));
    await eventually("purge's Jobs garbage-collected", 60_000, async () =>
      (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns, '-l', 'retention.pyworkflow.io/policy=purge'])).items.length === 0 ? true : undefined,
    );
    expect(existsSync(dbPath)).toBe(true);
  });
});
