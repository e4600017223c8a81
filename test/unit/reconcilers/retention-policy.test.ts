// The RetentionPolicy reconciler against an in-memory API server: the owned CronJob, steady state
// without writes, backend problems suspending it, manual runs, and results counted exactly once.
import { describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../../src/api/generated/types.js';
import { ApiError, TransportError, type KubeRequest } from '../../../src/controller/kube-api.js';
import { CRONJOBS, JOBS, PODS, RETENTION_POLICIES, STORAGE_BACKENDS, type KubeObject } from '../../../src/controller/resources.js';
import { reconcileRetentionPolicy } from '../../../src/reconcilers/retention-policy.js';
import { ACCOUNTED_ANNOTATION, RUN_FINALIZER } from '../../../src/reconcilers/names.js';
import type { CronJob, Job, Pod } from '../../../src/reconcilers/workloads.js';
import { NS, policy, sqliteBackend, testBed, type TestBed } from './fake-cluster.js';
import { finishRun, report } from './runs.js';

const signal = new AbortController().signal;
const key = `${NS}/purge`;

async function reconcile(bed: TestBed): Promise<{ requeueAfterMs?: number }> {
  return reconcileRetentionPolicy(bed.ctx, key, signal);
}
const getPolicy = (bed: TestBed): RetentionPolicy => bed.cluster.get<RetentionPolicy>(RETENTION_POLICIES, NS, 'purge')!;
const getCron = (bed: TestBed): CronJob | undefined => bed.cluster.get<CronJob>(CRONJOBS, NS, 'rp-purge');
const cond = (p: RetentionPolicy, type: string): { status: string; reason: string; message: string } | undefined => p.status?.conditions?.find((c) => c.type === type);

function setup(spec: Record<string, unknown> = {}, annotations?: Record<string, string>): TestBed {
  const bed = testBed();
  bed.cluster.put(STORAGE_BACKENDS, sqliteBackend());
  bed.cluster.put(RETENTION_POLICIES, policy('purge', spec, annotations));
  return bed;
}

describe('RetentionPolicy reconciler: the CronJob', () => {
  it('creates one owned CronJob, reports Ready, and then writes nothing on later reconciles', async () => {
    const bed = setup();
    const result = await reconcile(bed);
    const cron = getCron(bed)!;
    const p = getPolicy(bed);
    expect(cron.metadata.ownerReferences).toEqual([{ apiVersion: 'retention.pyworkflow.io/v1alpha1', kind: 'RetentionPolicy', name: 'purge', uid: p.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    expect(cond(p, 'LastRunSucceeded')).toMatchObject({ status: 'Unknown', reason: 'NoRunYet' });
    expect(p.status).toMatchObject({ observedGeneration: 1, cronJobName: 'rp-purge', nextScheduleTime: '2026-03-02T03:00:00Z', totals: { runs: 0, runsSucceeded: 0 } });
    expect(bed.events.events.map((e) => e.reason)).toEqual(['CronJobCreated']);
    // Requeued to move nextScheduleTime on once it passes (15 h away: capped at an hour).
    expect(result.requeueAfterMs).toBe(3_600_000);

    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    await bed.clock.advance(60_000);
    await reconcile(bed);
    expect(bed.cluster.writes.slice(writes)).toEqual([]);
    expect(bed.events.events).toHaveLength(1);
  });

  it('updates the CronJob when the policy changes, and restores a hand-edited schedule', async () => {
    const bed = setup();
    await reconcile(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, spec: { ...p.spec, schedule: '@weekly', retentionDays: 7 } });
    await reconcile(bed);
    let cron = getCron(bed)!;
    expect(cron.spec.schedule).toBe('@weekly');
    expect(cron.spec.jobTemplate.spec?.template.spec?.containers[0]?.args).toContain('7');
    expect(bed.events.events.at(-1)).toMatchObject({ reason: 'CronJobUpdated' });

    bed.cluster.put(CRONJOBS, { ...cron, spec: { ...cron.spec, schedule: '* * * * *' } });
    await reconcile(bed);
    cron = getCron(bed)!;
    expect(cron.spec.schedule).toBe('@weekly');
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
  });

  it('does not treat defaults the API server adds to the CronJob as a difference', async () => {
    const bed = setup();
    await reconcile(bed);
    const cron = getCron(bed)!;
    const podSpec = cron.spec.jobTemplate.spec!.template.spec!;
    bed.cluster.put(CRONJOBS, {
      ...cron,
      spec: {
        ...cron.spec,
        jobTemplate: {
          ...cron.spec.jobTemplate,
          spec: { ...cron.spec.jobTemplate.spec!, completions: 1, parallelism: 1, template: { ...cron.spec.jobTemplate.spec!.template, spec: { ...podSpec, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', terminationGracePeriodSeconds: 30 } } },
        },
      },
      status: { lastScheduleTime: undefined },
    });
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
  });

  it('a missing backend: Ready=False BackendNotFound, no CronJob, one event', async () => {
    const bed = setup({ backendRef: { name: 'nope' } });
    await reconcile(bed);
    expect(getCron(bed)).toBeUndefined();
    const ready = cond(getPolicy(bed), 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(ready.message).toMatch(/StorageBackend "nope" does not exist in namespace team-a/);
    expect(bed.events.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'BackendNotFound']]);
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(bed.events.events).toHaveLength(1);
  });

  it('suspends the CronJob while the backend is gone or invalid, and resumes it when fixed', async () => {
    const bed = setup();
    await reconcile(bed);
    bed.cluster.delete(STORAGE_BACKENDS, NS, 'store');
    await reconcile(bed);
    expect(getCron(bed)!.spec.suspend).toBe(true);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(getPolicy(bed).status?.nextScheduleTime).toBeUndefined();

    bed.cluster.put(STORAGE_BACKENDS, { ...sqliteBackend(), spec: { type: 'sqlite' } });
    await reconcile(bed);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'BackendInvalid' });
    expect(getCron(bed)!.spec.suspend).toBe(true);

    bed.cluster.put(STORAGE_BACKENDS, sqliteBackend());
    await reconcile(bed);
    expect(getCron(bed)!.spec.suspend).toBe(false);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
  });

  it('never touches a CronJob of that name it does not own', async () => {
    const bed = setup();
    bed.cluster.put(CRONJOBS, { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'rp-purge', namespace: NS }, spec: { schedule: '1 1 * * *', jobTemplate: {} } });
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(getCron(bed)!.spec.schedule).toBe('1 1 * * *');
    expect(bed.cluster.writesSince(writes).map((w) => w.path)).toEqual([`/apis/retention.pyworkflow.io/v1alpha1/namespaces/${NS}/retentionpolicies/purge/status`]);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'CronJobConflict' });
  });

  it('an invalid policy (admission bypassed) suspends its CronJob and says what is wrong', async () => {
    const bed = setup();
    await reconcile(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, spec: { ...p.spec, retentionDays: 0 } });
    await reconcile(bed);
    expect(getCron(bed)!.spec.suspend).toBe(true);
    const ready = cond(getPolicy(bed), 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready.message).toMatch(/retentionDays/);
  });
});

describe('RetentionPolicy reconciler: manual runs', () => {
  it('starts exactly one Job per distinct run-now token', async () => {
    const bed = setup({}, { 'retention.pyworkflow.io/run-now': 'first' });
    await reconcile(bed);
    let jobs = bed.cluster.list<Job>(JOBS, NS);
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.metadata.name).toMatch(/^rp-purge-now-[0-9a-f]{10}$/);
    expect(job.metadata.annotations?.['retention.pyworkflow.io/run-now-token']).toBe('first');
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'RetentionPolicy', name: 'purge', controller: true });
    expect(job.spec?.template.spec?.containers[0]?.command).toEqual(['node', '/app/dist/src/cli/main.js']);
    expect(getPolicy(bed).status?.lastRunNowToken).toBe('first');
    await reconcile(bed);
    expect(bed.cluster.list(JOBS, NS)).toHaveLength(1);

    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, metadata: { ...p.metadata, annotations: { 'retention.pyworkflow.io/run-now': 'second' } } });
    await reconcile(bed);
    jobs = bed.cluster.list<Job>(JOBS, NS);
    expect(jobs).toHaveLength(2);
    expect(bed.events.events.filter((e) => e.reason === 'RunStarted')).toHaveLength(2);
  });

  it('after a crash between creating the Job and recording the token: AlreadyExists means done', async () => {
    const bed = setup({}, { 'retention.pyworkflow.io/run-now': 't1' });
    bed.cluster.failNext = { match: (r) => r.method === 'PUT' && r.path.endsWith('/status'), error: new TransportError('connection reset') };
    await expect(reconcile(bed)).rejects.toThrow(/connection reset/);
    expect(bed.cluster.list(JOBS, NS)).toHaveLength(1);
    // The restarted controller's job cache has not seen the Job yet: it tries to create it again.
    const jobsCache = bed.ctx.jobs;
    bed.ctx.jobs = { get: () => undefined, list: () => [] };
    await reconcile(bed);
    bed.ctx.jobs = jobsCache;
    expect(bed.cluster.list(JOBS, NS)).toHaveLength(1);
    expect(getPolicy(bed).status?.lastRunNowToken).toBe('t1');
  });

  it('refuses a manual run while the backend is unusable, once', async () => {
    const bed = setup({ backendRef: { name: 'nope' } }, { 'retention.pyworkflow.io/run-now': 'x' });
    await reconcile(bed);
    await reconcile(bed);
    expect(bed.cluster.list(JOBS, NS)).toHaveLength(0);
    expect(bed.events.events.filter((e) => e.reason === 'RunNowRefused')).toHaveLength(1);
  });
});

describe('RetentionPolicy reconciler: results into status', () => {
  async function withCron(spec: Record<string, unknown> = {}): Promise<{ bed: TestBed; cron: CronJob }> {
    const bed = setup(spec);
    await reconcile(bed);
    return { bed, cron: getCron(bed)! };
  }

  it('records a successful run once: lastRun, totals, history, condition, event, metrics, accounted mark', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-100', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 12, events: 340, steps: 56 }) }] });
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(p.status?.lastRun).toMatchObject({ jobName: 'rp-purge-100', outcome: 'Succeeded', dryRun: false, cutoff: '2026-01-30T12:00:00.000Z', deleted: { runs: 12, events: 340, steps: 56 } });
    expect(p.status?.totals).toMatchObject({ runs: 12, events: 340, steps: 56, runsSucceeded: 1, runsFailed: 0 });
    expect(p.status?.history?.map((h) => h.jobName)).toEqual(['rp-purge-100']);
    expect(cond(p, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
    expect(cond(p, 'LastRunSucceeded')!.message).toMatch(/Deleted 12 runs, 340 events, 56 steps/);
    expect(bed.events.events.at(-1)).toMatchObject({ type: 'Normal', reason: 'RunSucceeded' });
    expect(bed.cluster.get<Job>(JOBS, NS, 'rp-purge-100')!.metadata.annotations?.[ACCOUNTED_ANNOTATION]).toBe('true');
    const metrics = await bed.metrics.registry.metrics();
    expect(metrics).toMatch(/pyworkflow_retention_deleted_records_total\{namespace="team-a",policy="purge",kind="runs"\} 12/);
    expect(metrics).toMatch(/pyworkflow_retention_runs_total\{namespace="team-a",policy="purge",outcome="Succeeded"\} 1/);

    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(getPolicy(bed).status?.totals?.runs).toBe(12);
  });

  it('exports the outcome of the last run and the longest gap of the schedule for the alerts, and no gap while suspended', async () => {
    const series = async (bed: TestBed): Promise<string[]> =>
      (await bed.metrics.registry.metrics()).split('\n').filter((l) => /^pyworkflow_retention_(last_run_failed|schedule_interval_seconds)\{/.test(l));
    const { bed, cron } = await withCron({ schedule: '0 3 * * 1-5' });
    // Weekdays at 03:00: the longest gap is the weekend (Friday to Monday, 3 days), not one day.
    expect(await series(bed)).toEqual(['pyworkflow_retention_schedule_interval_seconds{namespace="team-a",policy="purge"} 259200']);
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }, endedAt: '2026-03-01T11:00:06Z', pods: [] });
    await reconcile(bed);
    expect(await series(bed)).toContain('pyworkflow_retention_last_run_failed{namespace="team-a",policy="purge"} 1');
    finishRun(bed.cluster, getCron(bed)!, { name: 'rp-purge-2', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:30:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 1 }) }] });
    await reconcile(bed);
    expect(await series(bed)).toContain('pyworkflow_retention_last_run_failed{namespace="team-a",policy="purge"} 0');
    bed.cluster.put(RETENTION_POLICIES, { ...getPolicy(bed), spec: { ...getPolicy(bed).spec, suspend: true } });
    await reconcile(bed);
    expect(await series(bed)).toEqual(['pyworkflow_retention_last_run_failed{namespace="team-a",policy="purge"} 0']);
  });

  it('crash after the status update, before the accounted mark: counted once', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 5 }) }] });
    bed.cluster.failNext = { match: (r) => r.method === 'PATCH', error: new TransportError('connection reset') };
    // The failed release is retried soon; the count is in the status already.
    expect((await reconcile(bed)).requeueAfterMs).toBeLessThanOrEqual(5_000);
    expect(getPolicy(bed).status?.totals?.runs).toBe(5);
    expect(bed.cluster.get<Job>(JOBS, NS, 'rp-purge-1')!.metadata.annotations?.[ACCOUNTED_ANNOTATION]).toBeUndefined();
    await reconcile(bed);
    expect(getPolicy(bed).status?.totals?.runs).toBe(5);
    expect(bed.cluster.get<Job>(JOBS, NS, 'rp-purge-1')!.metadata.annotations?.[ACCOUNTED_ANNOTATION]).toBe('true');
  });

  it('status update lost in transit (applied, answer lost): re-read shows the UID, counted once', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 5 }) }] });
    // The first status PUT reaches the server, but the answer is lost.
    const real = bed.cluster.request.bind(bed.cluster);
    let dropped = false;
    bed.cluster.request = async <T>(req: Parameters<typeof real>[0]): Promise<T> => {
      const out = await real<T>(req);
      if (!dropped && req.method === 'PUT' && req.path.endsWith('/status')) {
        dropped = true;
        throw new TransportError('timeout');
      }
      return out;
    };
    await expect(reconcile(bed)).rejects.toThrow(/timeout/);
    await reconcile(bed);
    expect(getPolicy(bed).status?.totals?.runs).toBe(5);
    expect(getPolicy(bed).status?.history).toHaveLength(1);
  });

  it('a concurrent writer (a deposed leader) counted the Job first: Conflict, re-read, not counted again', async () => {
    const { bed, cron } = await withCron();
    const job = finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 5 }) }] });
    bed.cluster.beforeNext = {
      match: (r) => r.method === 'PUT' && r.path.endsWith('/status'),
      run: () => {
        const p = getPolicy(bed);
        bed.cluster.put(RETENTION_POLICIES, {
          ...p,
          status: { ...p.status, totals: { ...p.status!.totals!, runs: 5, runsSucceeded: 1 }, history: [{ jobName: 'rp-purge-1', jobUID: job.metadata.uid, outcome: 'Succeeded', dryRun: false }] },
        });
      },
    };
    await reconcile(bed);
    expect(getPolicy(bed).status?.totals).toMatchObject({ runs: 5, runsSucceeded: 1 });
    expect(bed.events.events.filter((e) => e.reason === 'RunSucceeded')).toHaveLength(0);
  });

  it('dry runs are reported but not added to totals', async () => {
    const { bed, cron } = await withCron({ dryRun: true });
    expect(cron.spec.jobTemplate.spec?.template.spec?.containers[0]?.args).toContain('--dry-run');
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({ dryRun: true }, { runs: 9 }) }] });
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(p.status?.lastRun).toMatchObject({ dryRun: true, deleted: { runs: 9 } });
    expect(p.status?.totals).toMatchObject({ runs: 0, runsSucceeded: 0 });
    expect(cond(p, 'LastRunSucceeded')!.message).toMatch(/Dry run: would delete 9 runs/);
  });

  it('a failed run with a result: RunFailed with the cause, counts deleted before the failure', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, {
      name: 'rp-purge-1', end: { kind: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }, endedAt: '2026-03-01T11:00:06Z',
      pods: [{ exitCode: 1, message: report({ outcome: 'failed', error: { code: 'CONNECTION_FAILED', message: 'sqlite /data/pyworkflow.db: open failed: no such file' } }, { runs: 2 }) }],
    });
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(p.status?.lastRun).toMatchObject({ outcome: 'Failed' });
    expect(cond(p, 'LastRunSucceeded')).toMatchObject({ status: 'False', reason: 'RunFailed' });
    expect(cond(p, 'LastRunSucceeded')!.message).toMatch(/no such file \[CONNECTION_FAILED\].*Deleted before it stopped: 2 runs/);
    expect(p.status?.totals).toMatchObject({ runs: 2, runsFailed: 1 });
    expect(bed.events.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'RunFailed' });
  });

  it('a Job killed at its deadline without a result: Failed, DeadlineExceeded', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }, endedAt: '2026-03-01T11:00:06Z', pods: [] });
    bed.clock.now = () => Date.parse('2026-03-01T12:00:00Z');
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(p.status?.lastRun).toMatchObject({ outcome: 'Failed' });
    expect(p.status?.lastRun?.deleted).toBeUndefined();
    expect(cond(p, 'LastRunSucceeded')).toMatchObject({ status: 'False', reason: 'DeadlineExceeded' });
    expect(cond(p, 'LastRunSucceeded')!.message).toMatch(/active longer than specified deadline.*activeDeadlineSeconds/);
  });

  it('a garbage termination message: InvalidResult, nothing trusted', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: '{"resultVersion":1,"deleted":{"runs":-5}}' }] });
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(cond(p, 'LastRunSucceeded')).toMatchObject({ status: 'False', reason: 'InvalidResult' });
    expect(p.status?.totals?.runs).toBe(0);
  });

  it('counts an old Job read late without moving lastRun backwards; history stays bounded', async () => {
    const { bed, cron } = await withCron();
    for (let i = 0; i < 12; i++) {
      finishRun(bed.cluster, cron, { name: `rp-purge-${10 + i}`, end: { kind: 'Complete' }, endedAt: `2026-03-01T10:${String(10 + i).padStart(2, '0')}:00Z`, pods: [{ exitCode: 0, message: report({}, { runs: 1 }) }] });
    }
    const first = await reconcile(bed);
    expect(first.requeueAfterMs).toBe(0); // a batch at a time
    for (let i = 0; i < 3; i++) await reconcile(bed);
    let p = getPolicy(bed);
    expect(p.status?.totals?.runs).toBe(12);
    expect(p.status?.history).toHaveLength(10);
    expect(p.status?.lastRun?.jobName).toBe('rp-purge-21');
    finishRun(bed.cluster, cron, { name: 'rp-purge-old', end: { kind: 'Complete' }, endedAt: '2026-03-01T09:00:00Z', pods: [{ exitCode: 0, message: report({}, { runs: 100 }) }] });
    await reconcile(bed);
    p = getPolicy(bed);
    expect(p.status?.totals?.runs).toBe(112);
    expect(p.status?.lastRun?.jobName).toBe('rp-purge-21');
    expect(p.status?.history?.[0]?.jobName).toBe('rp-purge-old');
  });

  it('waits for the pod of a just-finished Job to show its end before counting it', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:59:55Z', pods: [] });
    const r = await reconcile(bed);
    expect(r.requeueAfterMs).toBe(2000);
    expect(getPolicy(bed).status?.history).toEqual([]);
  });
});

describe('RetentionPolicy reconciler: lost Jobs, failing releases and runs that cannot start', () => {
  async function withCron(spec: Record<string, unknown> = {}): Promise<{ bed: TestBed; cron: CronJob }> {
    const bed = setup(spec);
    await reconcile(bed);
    return { bed, cron: getCron(bed)! };
  }
  const podsOf = (bed: TestBed, job: string): Pod[] => bed.cluster.list<Pod>(PODS, NS).filter((p) => p.metadata.ownerReferences?.[0]?.name === job);

  /** An active Job from the CronJob's template with one pod in the given state. */
  function activeRun(bed: TestBed, cron: CronJob, name: string, pod?: Pod['status']): Job {
    const t = cron.spec.jobTemplate;
    const job = bed.cluster.put<Job>(JOBS, {
      apiVersion: 'batch/v1', kind: 'Job',
      metadata: { name, namespace: NS, labels: { ...(t.metadata?.labels ?? {}) }, annotations: { ...(t.metadata?.annotations ?? {}) }, creationTimestamp: '2026-03-01T11:59:00Z' },
      spec: t.spec, status: { startTime: '2026-03-01T11:59:00Z', active: 1 },
    });
    if (pod) {
      bed.cluster.put<Pod>(PODS, {
        metadata: {
          name: `${name}-x`, namespace: NS, labels: { ...(t.spec?.template.metadata?.labels ?? {}) }, annotations: { ...(t.spec?.template.metadata?.annotations ?? {}) },
          finalizers: [...(t.spec?.template.metadata?.finalizers ?? [])],
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid ?? '', controller: true }],
        },
        status: pod,
      });
    }
    return job;
  }

  it('a Job deleted before the controller read it: its pods, kept by the finalizer, are counted once and then let go', async () => {
    const { bed, cron } = await withCron();
    const job = finishRun(bed.cluster, cron, { name: 'rp-purge-7', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 7 }) }] });
    expect(podsOf(bed, 'rp-purge-7')[0]!.metadata.finalizers).toEqual([RUN_FINALIZER]);
    // The CronJob's history limit deletes the Job (background): the garbage collector then deletes its pod, which stays.
    bed.cluster.delete(JOBS, NS, job.metadata.name);
    const pod = podsOf(bed, 'rp-purge-7')[0]!;
    bed.cluster.put(PODS, { ...pod, metadata: { ...pod.metadata, deletionTimestamp: '2026-03-01T11:01:00Z' } });
    await reconcile(bed);
    const p = getPolicy(bed);
    expect(p.status?.totals).toMatchObject({ runs: 7, runsSucceeded: 1 });
    expect(p.status?.lastRun).toMatchObject({ jobName: 'rp-purge-7', outcome: 'Succeeded', deleted: { runs: 7 } });
    expect(podsOf(bed, 'rp-purge-7')).toEqual([]); // finalizer removed: the API server let it go
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(getPolicy(bed).status?.totals?.runs).toBe(7);
  });

  it('releases that keep failing: no UID leaves history while its pods are held, and every run is counted exactly once', async () => {
    const { bed, cron } = await withCron();
    for (let i = 0; i < 17; i++) {
      finishRun(bed.cluster, cron, { name: `rp-purge-${10 + i}`, end: { kind: 'Complete' }, endedAt: `2026-03-01T10:${String(10 + i).padStart(2, '0')}:00Z`, pods: [{ exitCode: 0, message: report({}, { runs: 1 }) }] });
    }
    const real = bed.cluster.request.bind(bed.cluster);
    let denying = true;
    bed.cluster.request = <T,>(req: KubeRequest): Promise<T> =>
      denying && req.method === 'PATCH' && req.path.includes('/pods/') ? Promise.reject(new ApiError(422, 'Invalid', 'denied by a ValidatingAdmissionPolicy')) : real<T>(req);
    for (let i = 0; i < 8; i++) await reconcile(bed);
    // Held up, not spinning: the next try is seconds away.
    expect((await reconcile(bed)).requeueAfterMs).toBeGreaterThanOrEqual(1_000);
    let p = getPolicy(bed);
    // Ten counted and held in history; the other seven wait, none counted twice.
    expect(p.status?.totals?.runs).toBe(10);
    expect(p.status?.history).toHaveLength(10);
    expect(bed.cluster.list<Pod>(PODS, NS).filter((x) => x.metadata.finalizers?.includes(RUN_FINALIZER))).toHaveLength(17);
    denying = false;
    for (let i = 0; i < 8; i++) await reconcile(bed);
    p = getPolicy(bed);
    expect(p.status?.totals).toMatchObject({ runs: 17, runsSucceeded: 17 });
    expect(bed.cluster.list<Pod>(PODS, NS)).toHaveLength(17);
    expect(bed.cluster.list<Pod>(PODS, NS).filter((x) => x.metadata.finalizers?.includes(RUN_FINALIZER))).toEqual([]);
    expect(bed.events.events.filter((e) => e.reason === 'RunSucceeded')).toHaveLength(17);
  });

  it('a pod in ImagePullBackOff: LastRunSucceeded=Unknown RunStalled at once, one Warning event, no writes while it stays', async () => {
    const { bed, cron } = await withCron();
    activeRun(bed, cron, 'rp-purge-5', { phase: 'Pending', containerStatuses: [{ name: 'sweep', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' } } }] });
    await reconcile(bed);
    const c = cond(getPolicy(bed), 'LastRunSucceeded')!;
    expect(c).toMatchObject({ status: 'Unknown', reason: 'RunStalled' });
    expect(c.message).toMatch(/^Job rp-purge-5 cannot start: pod rp-purge-5-x: ImagePullBackOff: Back-off pulling image "nope:1"\. Check spec\.jobTemplate\.image/);
    const writes = bed.cluster.writes.length;
    const pod = podsOf(bed, 'rp-purge-5')[0]!;
    bed.cluster.put(PODS, { ...pod, status: { phase: 'Pending', containerStatuses: [{ name: 'sweep', state: { waiting: { reason: 'ErrImagePull', message: 'pull failed' } } }] } });
    await reconcile(bed);
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(bed.events.events.filter((e) => e.reason === 'RunStalled')).toHaveLength(1);

    // The deadline ends it and its pod goes: the result says why it never ran.
    bed.cluster.delete(PODS, NS, pod.metadata.name);
    const job = bed.cluster.get<Job>(JOBS, NS, 'rp-purge-5')!;
    bed.cluster.put(JOBS, { ...job, status: { startTime: '2026-03-01T11:59:00Z', failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: '2026-03-01T11:59:40Z' }] } });
    await reconcile(bed);
    const after = cond(getPolicy(bed), 'LastRunSucceeded')!;
    expect(after).toMatchObject({ status: 'False', reason: 'DeadlineExceeded' });
    expect(after.message).toMatch(/its pod never started\. Before that: Job rp-purge-5 cannot start: .*ImagePullBackOff/);
  });

  it("a missing Secret: the kubelet's vague first words are replaced once it names the Secret, then nothing is written", async () => {
    const { bed, cron } = await withCron();
    const waiting = (message: string): Pod['status'] => ({ phase: 'Pending', containerStatuses: [{ name: 'sweep', state: { waiting: { reason: 'CreateContainerConfigError', message } } }] });
    activeRun(bed, cron, 'rp-purge-6', waiting('failed to sync secret cache: timed out waiting for the condition'));
    await reconcile(bed);
    expect(cond(getPolicy(bed), 'LastRunSucceeded')!.message).toMatch(/CreateContainerConfigError: failed to sync secret cache/);
    const pod = podsOf(bed, 'rp-purge-6')[0]!;
    bed.cluster.put(PODS, { ...pod, status: waiting('secret "db" not found') });
    await reconcile(bed);
    expect(cond(getPolicy(bed), 'LastRunSucceeded')!.message).toMatch(/CreateContainerConfigError: secret "db" not found\. Check the Secrets/);
    const writes = bed.cluster.writes.length;
    await reconcile(bed);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(bed.events.events.filter((e) => e.reason === 'RunStalled')).toHaveLength(1);
  });

  it('a stall that clears before the run ends puts LastRunSucceeded back to the last run', async () => {
    const { bed, cron } = await withCron();
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T11:00:06Z', pods: [{ exitCode: 0, message: report({}, { runs: 2 }) }] });
    await reconcile(bed);
    activeRun(bed, cron, 'rp-purge-2', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] });
    await reconcile(bed);
    expect(cond(getPolicy(bed), 'LastRunSucceeded')).toMatchObject({ status: 'Unknown', reason: 'RunStalled' });
    expect(cond(getPolicy(bed), 'LastRunSucceeded')!.message).toMatch(/cannot be scheduled: 0\/1 nodes are available/);
    const pod = podsOf(bed, 'rp-purge-2')[0]!;
    bed.cluster.put(PODS, { ...pod, status: { phase: 'Running', containerStatuses: [{ name: 'sweep', state: { running: {} } }] } });
    await reconcile(bed);
    expect(cond(getPolicy(bed), 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
  });

  it("a Job whose pods cannot be created: the Job controller's FailedCreate event names the cause", async () => {
    const { bed, cron } = await withCron();
    activeRun(bed, cron, 'rp-purge-9');
    bed.cluster.objects.set(`/api/v1/namespaces/${NS}/events`, {
      metadata: { name: 'events' },
      items: [{ reason: 'FailedCreate', message: 'Error creating: pods "rp-purge-9-abc" is forbidden: exceeded quota: no-pods', lastTimestamp: '2026-03-01T11:59:05Z' }],
    } as unknown as KubeObject);
    await reconcile(bed);
    const c = cond(getPolicy(bed), 'LastRunSucceeded')!;
    expect(c).toMatchObject({ status: 'Unknown', reason: 'RunStalled' });
    expect(c.message).toMatch(/Job rp-purge-9 cannot start: its pods cannot be created \(FailedCreate\): .*exceeded quota/);
    expect(bed.events.events.filter((e) => e.reason === 'RunStalled')).toHaveLength(1);
  });

  it('the policy deleted: the pods it kept are let go', async () => {
    const { bed, cron } = await withCron();
    const bedPolicies = bed.ctx.policies;
    const held = activeRun(bed, cron, 'rp-purge-3', { phase: 'Running' });
    bed.ctx.policies = { get: () => undefined, list: () => [] };
    await reconcile(bed);
    bed.ctx.policies = bedPolicies;
    expect(podsOf(bed, held.metadata.name)[0]!.metadata.finalizers ?? []).toEqual([]);
  });
});
