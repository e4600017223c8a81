// Needs: the real control plane (kube-apiserver, etcd, kube-controller-manager of `npm run env:up kube`:
// the real CronJob, Job, garbage-collector and TTL controllers, ValidatingAdmissionPolicy) and the test
// node running run pods as local processes against a seeded SQLite store.
//
// Every run counted exactly once, also when its Job or pod disappears before the controller reads it:
// a Job deleted while the controller is down (its pod is kept by the run-result finalizer), more Jobs
// than the CronJob's history limit while it is down, a pod deleted by force (ResultLost, not
// InvalidResult), an accounting write denied by admission for a while, and a run that finds another
// run of its store holding the sweep lock (it waits, or steps aside: never a failed run).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import { seedSqliteStore } from '../../src/backends/sqlite/seed.js';
import { acquireSqliteSweepLock } from '../../src/backends/sqlite/sweep-lock.js';
import { generateDataset } from '../../src/model/generate.js';
import type { CronJob, Job, Pod } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectl, kubectlOk } from '../support/kubectl.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';
import type { TestNode } from '../support/test-node.js';
import { REPO_ROOT } from '../support/test-env.js';
import { apply, buildOnce, ControllerProcess, controllerArgs, getJson, sleep, startNode, tryGetJson } from './harness.js';

const ns = `e2e-acct-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'pywr-e2e-acct-'));
const storeDir = join(work, 'wf-data');
const dbPath = join(storeDir, 'pyworkflow.db');
const API = 'retention.pyworkflow.io/v1alpha1';
const FINALIZER = 'retention.pyworkflow.io/run-result';
const VAP_NAME = `${ns}-deny-release`;
let node: TestNode;
let controller: ControllerProcess | undefined;

const getPolicy = (): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', 'life', '-n', ns]);
const condition = (p: RetentionPolicy, type: string) => p.status?.conditions?.find((c) => c.type === type);
const pods = async (): Promise<Pod[]> => (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns])).items;
const podsOfJob = async (job: string): Promise<Pod[]> => (await pods()).filter((p) => p.metadata.ownerReferences?.some((o) => o.name === job));
const held = async (): Promise<Pod[]> => (await pods()).filter((p) => p.metadata.finalizers?.includes(FINALIZER));

function runCount(): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM workflow_runs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function startController(name: string): Promise<ControllerProcess> {
  const c = ControllerProcess.start(name, controllerArgs(ns));
  await c.waitFor('acting as leader', (l) => l.msg === 'acting as leader', 30_000);
  return c;
}

async function stopController(): Promise<void> {
  expect(await controller?.stop()).toBe(0);
  controller = undefined;
}

/** A Job made from the CronJob the way the CronJob controller makes its Jobs (labels, annotations, owner, spec). */
async function runFromCronJob(name: string): Promise<Job> {
  await kubectlOk(['create', 'job', name, '-n', ns, '--from=cronjob/rp-life']);
  return eventually(`Job ${name} complete`, 60_000, async () => {
    const j = await getJson<Job>(['get', 'job', name, '-n', ns]);
    return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
  });
}

async function runNow(token: string): Promise<Job> {
  await kubectlOk(['annotate', '--overwrite', 'rp', 'life', '-n', ns, `retention.pyworkflow.io/run-now=${token}`]);
  return eventually(`the Job of run-now token ${token}`, 30_000, async () =>
    (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.find((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === token),
  );
}

describe('Exactly-once accounting across lost Jobs and pods (sqlite store, real control plane)', () => {
  beforeAll(async () => {
    buildOnce();
    await installCrds(join(REPO_ROOT, 'crds'));
    await createNamespace(ns);
    mkdirSync(storeDir, { recursive: true });
    seedSqliteStore(dbPath, sqliteFixture.adapt(generateDataset({ seed: 2210, runs: 300, now: new Date(), spanDays: 60, eventsPerRun: 2, extras: true })));
    node = await startNode(`pywr-e2e-${ns}`, ns, join(work, 'node'), { 'wf-data': storeDir });
    await apply(
      ns,
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'wf-data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } },
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'sqlite-store' }, spec: { type: 'sqlite', sqlite: { volume: 'wf-data', path: 'pyworkflow.db' } } } satisfies StorageBackend,
      {
        apiVersion: API,
        kind: 'RetentionPolicy',
        metadata: { name: 'life' },
        // A deadline of 60 s: the run stops itself after 30 s and waits at most 15 s for another run's lock.
        spec: { retentionDays: 30, backendRef: { name: 'sqlite-store' }, schedule: '0 0 1 1 *', successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1, activeDeadlineSeconds: 60 },
      },
    );
    controller = await startController('acct-a');
    await eventually('Ready=True', 30_000, async () => (condition(await getPolicy(), 'Ready')?.status === 'True' ? true : undefined));
  });

  afterAll(async () => {
    await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', VAP_NAME, '--ignore-not-found']);
    // Nothing may keep the namespace from going: let go of every pod this file's runs left held.
    // (The API server may enforce a deleted admission policy for a moment longer: retry.)
    await eventually('no pod held', 30_000, async () => {
      const left = (await pods()).filter((p) => (p.metadata.finalizers ?? []).some((f) => f === FINALIZER || f.startsWith('example.com/')));
      for (const p of left) await kubectl(['patch', 'pod', p.metadata.name, '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}'], undefined, 0);
      return left.length === 0 ? true : undefined;
    }).catch(() => undefined);
    await controller?.stop();
    await node?.stop();
    await deleteNamespace(ns);
    rmSync(work, { recursive: true, force: true });
  });

  it('the run pods carry the finalizer from their template (the CronJob controller copies no Job-template finalizer)', async () => {
    const cron = await getJson<CronJob>(['get', 'cronjob', 'rp-life', '-n', ns]);
    expect(cron.spec.jobTemplate.spec?.template.metadata?.finalizers).toEqual([FINALIZER]);
    expect(cron.spec.jobTemplate.spec?.template.metadata?.annotations?.['retention.pyworkflow.io/policy-uid']).toBe((await getPolicy()).metadata.uid);
  });

  it('why the finalizer is on the pods: the CronJob controller drops a Job-template finalizer, the Job controller keeps a pod-template one', async () => {
    // A plain CronJob (not the operator's) that fires every minute: its Job shows what the real
    // controllers copy. Its pod never runs (no node takes it) and is deleted with it.
    await apply(ns, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'copy-probe' },
      spec: {
        schedule: '* * * * *',
        jobTemplate: {
          metadata: { finalizers: ['example.com/job-template'] },
          spec: {
            template: {
              metadata: { finalizers: ['example.com/pod-template'] },
              spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'none' }] },
            },
          },
        },
      },
    });
    const job = await eventually('the probe CronJob\'s first Job', 90_000, async () =>
      (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.find((j) => j.metadata.ownerReferences?.some((o) => o.name === 'copy-probe')));
    const pod = await eventually('its pod', 30_000, async () => (await podsOfJob(job.metadata.name))[0]);
    expect(job.metadata.finalizers ?? []).not.toContain('example.com/job-template');
    expect(pod.metadata.finalizers).toContain('example.com/pod-template');
    // The Jobs go first (no Job controller left to replace a pod), then the pods are let go.
    await kubectlOk(['delete', 'cronjob', 'copy-probe', '-n', ns, '--cascade=background']);
    await eventually('the probe Jobs gone', 60_000, async () =>
      (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.some((j) => j.metadata.ownerReferences?.some((o) => o.name === 'copy-probe')) ? undefined : true);
    await eventually('the probe pods gone', 60_000, async () => {
      const left = (await pods()).filter((p) => p.metadata.finalizers?.includes('example.com/pod-template'));
      for (const p of left) await kubectl(['patch', 'pod', p.metadata.name, '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}'], undefined, 0);
      return left.length === 0 ? true : undefined;
    });
  });

  it('a Job deleted before the controller saw it finish: its pod is kept, the run is counted once, then the pod goes', async () => {
    await stopController();
    const before = runCount();
    await runFromCronJob('life-deleted');
    const deleted = before - runCount();
    expect(deleted).toBeGreaterThan(20);
    await kubectlOk(['delete', 'job', 'life-deleted', '-n', ns, '--wait=false']);
    await eventually('Job life-deleted gone', 30_000, async () => ((await tryGetJson(['get', 'job', 'life-deleted', '-n', ns])) === undefined ? true : undefined));
    // The garbage collector deleted the pod; the finalizer keeps it, and with it the run's result.
    const kept = await eventually('the orphaned pod marked for deletion', 30_000, async () => (await podsOfJob('life-deleted')).find((p) => p.metadata.deletionTimestamp));
    expect(kept.metadata.finalizers).toContain(FINALIZER);

    controller = await startController('acct-b');
    const p = await eventually('life-deleted counted', 60_000, async () => {
      const x = await getPolicy();
      return x.status?.lastRun?.jobName === 'life-deleted' ? x : undefined;
    });
    expect(p.status?.lastRun).toMatchObject({ outcome: 'Succeeded', deleted: { runs: deleted } });
    expect(p.status?.totals).toMatchObject({ runs: deleted, runsSucceeded: 1, runsFailed: 0 });
    await eventually('the pod released and gone', 30_000, async () => ((await podsOfJob('life-deleted')).length === 0 ? true : undefined));
    expect((await getPolicy()).status?.totals).toEqual(p.status?.totals);
  });

  it('the controller down across more Jobs than the history limit: every run counted once', async () => {
    const totalsBefore = (await getPolicy()).status!.totals!;
    await stopController();
    for (const name of ['life-h1', 'life-h2', 'life-h3']) await runFromCronJob(name);
    // successfulJobsHistoryLimit 1: the CronJob controller deletes the older Jobs; their pods stay, held.
    await eventually('the CronJob controller deleted the older Jobs', 60_000, async () => {
      const jobs = (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.map((j) => j.metadata.name).filter((n) => n.startsWith('life-h'));
      return jobs.length === 1 ? jobs : undefined;
    });
    expect((await held()).map((p) => p.metadata.ownerReferences?.[0]?.name).sort()).toEqual(['life-h1', 'life-h2', 'life-h3']);

    controller = await startController('acct-c');
    const p = await eventually('all three counted', 60_000, async () => {
      const x = await getPolicy();
      return (x.status?.totals?.runsSucceeded ?? 0) >= totalsBefore.runsSucceeded + 3 ? x : undefined;
    });
    const names = p.status!.history!.map((h) => h.jobName);
    for (const n of ['life-h1', 'life-h2', 'life-h3']) expect(names.filter((x) => x === n)).toHaveLength(1);
    await eventually('no pod held any more', 30_000, async () => ((await held()).length === 0 ? true : undefined));
    await sleep(3_000);
    expect((await getPolicy()).status?.totals).toEqual({ ...totalsBefore, runsSucceeded: totalsBefore.runsSucceeded + 3 });
  });

  it('a pod deleted by force before the controller read it: ResultLost with what the Job knows, not InvalidResult', async () => {
    const before = (await getPolicy()).status!.totals!;
    await stopController();
    await runFromCronJob('life-lost');
    const [pod] = await podsOfJob('life-lost');
    await kubectlOk(['patch', 'pod', pod!.metadata.name, '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
    await kubectlOk(['delete', 'pod', pod!.metadata.name, '-n', ns, '--grace-period=0', '--force']);
    await eventually('the pod gone', 30_000, async () => ((await podsOfJob('life-lost')).length === 0 ? true : undefined));

    controller = await startController('acct-d');
    const p = await eventually('life-lost recorded', 60_000, async () => {
      const x = await getPolicy();
      return x.status?.lastRun?.jobName === 'life-lost' ? x : undefined;
    });
    expect(condition(p, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'ResultLost' });
    expect(condition(p, 'LastRunSucceeded')!.message).toMatch(/life-lost completed, but its pod was deleted before the operator read its result \(the Job counted 1 succeeded/);
    expect(p.status?.lastRun?.deleted).toBeUndefined();
    expect(p.status?.totals).toEqual({ ...before, runsSucceeded: before.runsSucceeded + 1 });
    const warnings = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=ResultLost', '-o', 'jsonpath={.items[*].type}']);
    expect(warnings).toContain('Warning');
  });

  it('releases denied by admission for a while (ValidatingAdmissionPolicy): counting waits, nothing is counted twice, then all once', async () => {
    const before = (await getPolicy()).status!.totals!;
    const storeBefore = runCount();
    await apply(
      ns,
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: VAP_NAME },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods'] }],
          },
          validations: [
            {
              expression: `!(has(oldObject.metadata.finalizers) && '${FINALIZER}' in oldObject.metadata.finalizers) || (has(object.metadata.finalizers) && '${FINALIZER}' in object.metadata.finalizers)`,
              message: 'e2e: removing the run-result finalizer is denied for now',
            },
          ],
        },
      },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: VAP_NAME }, spec: { policyName: VAP_NAME, validationActions: ['Deny'] } },
    );
    // The API server enforces a new policy once its informer has it: probe until a removal is refused.
    await kubectlOk(['run', 'vap-probe', '-n', ns, '--image=none', '--restart=Never']);
    await eventually('the admission policy in force', 30_000, async () => {
      // Adding is allowed; removing is what the policy refuses once the API server has it.
      await kubectlOk(['patch', 'pod', 'vap-probe', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ metadata: { finalizers: [FINALIZER] } })]);
      const r = await kubectl(['patch', 'pod', 'vap-probe', '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}'], undefined, 0);
      return r.code !== 0 && /denied for now/.test(r.stderr) ? true : undefined;
    });

    const tokens = Array.from({ length: 12 }, (_, i) => `deny-${i}`);
    const jobs: string[] = [];
    for (const t of tokens) jobs.push((await runNow(t)).metadata.name);
    await eventually('every run of the window finished', 120_000, async () => {
      const done = (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.filter((j) => jobs.includes(j.metadata.name) && j.status?.conditions?.some((c) => c.status === 'True'));
      return done.length === jobs.length ? true : undefined;
    });
    const waiting = await eventually('counting held at the history bound', 60_000, async () => {
      const x = await getPolicy();
      return x.status!.totals!.runsSucceeded === before.runsSucceeded + 10 ? x : undefined;
    });
    await sleep(10_000); // several retries of the denied releases
    expect((await getPolicy()).status?.totals).toEqual(waiting.status?.totals);
    expect((await held()).filter((p) => jobs.includes(p.metadata.ownerReferences?.[0]?.name ?? ''))).toHaveLength(12);
    expect(controller!.has((l) => l.level === 'warn' && /releasing pod .* failed; retrying/.test(l.msg))).toBe(true);

    await kubectlOk(['delete', 'validatingadmissionpolicybinding', VAP_NAME]);
    await eventually('every run released', 90_000, async () => ((await held()).filter((p) => p.metadata.name !== 'vap-probe').length === 0 ? true : undefined));
    await sleep(3_000);
    const after = (await getPolicy()).status!;
    // Exactly once: the runs deleted from the store by these twelve runs, and twelve successes.
    expect(after.totals).toMatchObject({ runs: before.runs + (storeBefore - runCount()), runsSucceeded: before.runsSucceeded + 12, runsFailed: before.runsFailed });
    const names = after.history!.map((h) => h.jobName);
    expect(names).toHaveLength(10);
    expect(new Set(names).size).toBe(10);
    expect(names.every((n) => jobs.includes(n))).toBe(true);
  });

  it('a run that finds another run of its store holding the sweep lock waits for it, or steps aside: never a failed run', async () => {
    const before = (await getPolicy()).status!;
    // The test holds the store's sweep lock, as a scheduled run in progress would.
    let lock = acquireSqliteSweepLock(dbPath, 0, 'e2e');
    const waited = await runNow('lock-wait');
    await eventually('the run waiting for the lock', 30_000, async () => ((await podsOfJob(waited.metadata.name)).some((p) => p.status?.phase === 'Running') ? true : undefined));
    await sleep(3_000);
    await lock.release();
    const ok = await eventually('the waiting run counted', 60_000, async () => {
      const x = await getPolicy();
      return x.status?.lastRun?.jobName === waited.metadata.name ? x : undefined;
    });
    expect(ok.status?.lastRun?.outcome).toBe('Succeeded');

    lock = acquireSqliteSweepLock(dbPath, 0, 'e2e');
    try {
      const aside = await runNow('lock-aside');
      const p = await eventually('the run that stepped aside recorded', 60_000, async () => {
        const x = await getPolicy();
        return x.status?.history?.some((h) => h.jobName === aside.metadata.name) ? x : undefined;
      });
      expect(p.status?.history?.find((h) => h.jobName === aside.metadata.name)?.outcome).toBe('Cancelled');
      expect(p.status?.lastRun?.jobName).toBe(waited.metadata.name);
      expect(condition(p, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
      expect(p.status?.totals).toEqual({ ...before.totals, runsSucceeded: before.totals!.runsSucceeded + 1 });
      const notes = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=RunSkipped', '-o', 'jsonpath={.items[*].note}']);
      expect(notes).toMatch(/stepped aside: another retention sweep is running/);
    } finally {
      await lock.release();
    }
  });
});
