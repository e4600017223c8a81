// Reading a finished run's result (validated before trusted) and folding runs into the status.
import { describe, expect, it } from 'vitest';
import { zeroCounts } from '../../../src/engine/records.js';
import { buildSweepArgs, decodeResult as parseRunResult } from '../../../src/engine/run-contract.js';
import { accountRuns, readFinishedRun, type FinishedRun } from '../../../src/reconcilers/run-results.js';
import { nextScheduleTime } from '../../../src/reconcilers/schedule.js';
import { setCondition } from '../../../src/reconcilers/conditions.js';
import type { Job, Pod } from '../../../src/reconcilers/workloads.js';
import { report } from './runs.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function job(conditions: Job['status'], args: string[] = []): Job {
  return {
    metadata: { name: 'rp-p-1', namespace: 'ns', uid: 'job-uid' },
    spec: { template: { spec: { containers: [{ name: 'sweep', args }] } } },
    status: conditions,
  };
}
const complete = (at = '2026-03-01T11:00:00Z'): Job['status'] => ({ startTime: '2026-03-01T10:59:00Z', completionTime: at, conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: at }] });
const failed = (reason: string, at = '2026-03-01T11:00:00Z'): Job['status'] => ({ startTime: '2026-03-01T10:59:00Z', conditions: [{ type: 'Failed', status: 'True', reason, message: `because ${reason}`, lastTransitionTime: at }] });

function pod(name: string, exitCode: number | undefined, message?: unknown, finishedAt = '2026-03-01T10:59:59Z'): Pod {
  return {
    metadata: { name, namespace: 'ns', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'rp-p-1', uid: 'job-uid', controller: true }] },
    status: {
      phase: exitCode === undefined ? 'Running' : exitCode === 0 ? 'Succeeded' : 'Failed',
      containerStatuses: [{
        name: 'sweep',
        state: exitCode === undefined ? { running: {} } : { terminated: { exitCode, finishedAt, ...(message === undefined ? {} : { message: typeof message === 'string' ? message : JSON.stringify(message) }) } },
      }],
    },
  };
}

describe('parseRunResult', () => {
  it('accepts a valid result and refuses everything else with a reason', () => {
    expect(parseRunResult(JSON.stringify(report())).ok).toBe(true);
    const problem = (m: string | undefined): string => {
      const r = parseRunResult(m);
      return r.ok ? '' : r.problem;
    };
    expect(problem(undefined)).toMatch(/no result/);
    expect(problem('panic: oops')).toMatch(/not JSON/);
    expect(problem(JSON.stringify({ ...report(), resultVersion: 2 }))).toMatch(/result schema/);
    expect(parseRunResult(JSON.stringify({ ...report(), deleted: { ...zeroCounts(), runs: -1 } })).ok).toBe(false);
    expect(parseRunResult(JSON.stringify({ ...report(), extra: 1 })).ok).toBe(false);
  });

  it('accepts results with and without skippedUnsafe (older releases never write it; a sweep writes it only when > 0)', () => {
    expect(parseRunResult(JSON.stringify(report())).ok).toBe(true);
    expect(parseRunResult(JSON.stringify({ ...report(), skippedUnsafe: 3 })).ok).toBe(true);
    expect(parseRunResult(JSON.stringify({ ...report(), skippedUnsafe: -1 })).ok).toBe(false);
    expect(parseRunResult(JSON.stringify({ ...report(), skippedUnsafe: 'x' })).ok).toBe(false);
  });
});

describe('readFinishedRun', () => {
  it('says in the message how many unsafe run ids the run skipped', () => {
    const r = readFinishedRun(job(complete()), [pod('a', 0, report({ skippedUnsafe: 2 }, { runs: 1 }))], NOW);
    expect(r?.kind === 'finished' ? r.run.message : '').toMatch(/Skipped 2 unsafe run id\(s\)/);
  });

  it('undefined while the Job runs', () => {
    expect(readFinishedRun(job({ startTime: 'x' }), [pod('a', undefined)], NOW)).toBeUndefined();
  });

  it('a completed Job with its result', () => {
    const r = readFinishedRun(job(complete()), [pod('a', 0, report({}, { runs: 3, events: 9 }))], NOW);
    expect(r).toEqual({
      kind: 'finished',
      run: {
        jobName: 'rp-p-1', jobUID: 'job-uid', startTime: '2026-03-01T10:59:00Z', completionTime: '2026-03-01T11:00:00Z', outcome: 'Succeeded', reason: 'RunSucceeded',
        message: 'Deleted 3 runs, 9 events, 0 steps, 0 hooks, 0 cancellation flags, 0 checkpoints, 0 stream records, 0 schedules (cutoff 2026-01-30T12:00:00.000Z).',
        dryRun: false, deleted: { ...zeroCounts(), runs: 3, events: 9 }, cutoff: '2026-01-30T12:00:00.000Z', schemaVersion: 'sqlite-v2',
      },
    });
  });

  it('sums the counts of every attempt: a failed attempt deleted what it deleted', () => {
    const r = readFinishedRun(
      job(complete()),
      [pod('a', 1, report({ outcome: 'failed', error: { code: 'BACKEND_ERROR', message: 'lost connection' } }, { runs: 4 }), '2026-03-01T10:58:00Z'), pod('b', 0, report({}, { runs: 6 }))],
      NOW,
    );
    expect(r?.kind === 'finished' && r.run.deleted?.runs).toBe(10);
    expect(r?.kind === 'finished' && r.run.outcome).toBe('Succeeded');
  });

  it('a run cancelled by its max duration', () => {
    const r = readFinishedRun(job(failed('BackoffLimitExceeded')), [pod('a', 1, report({ outcome: 'cancelled', error: { code: 'CANCELLED', message: 'sweep stopped between batches: --max-duration of 570 s reached' } }, { runs: 2 }))], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Cancelled', reason: 'RunCancelled', deleted: { runs: 2 } } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/max-duration.*Deleted before it stopped: 2 runs/);
  });

  it('a pod that never started: the Job condition and the waiting reason', () => {
    const never: Pod = { ...pod('a', undefined), status: { phase: 'Pending', containerStatuses: [{ name: 'sweep', state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "db" not found' } } }] } };
    const r = readFinishedRun(job(failed('DeadlineExceeded')), [{ ...never, metadata: { ...never.metadata, deletionTimestamp: '2026-03-01T11:00:00Z' } }], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Failed', reason: 'DeadlineExceeded' } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/secret "db" not found/);
    expect(r?.kind === 'finished' && r.run.deleted).toBeUndefined();
  });

  it('a crash without a result (exit 137): RunFailed naming the pod and exit code', () => {
    const r = readFinishedRun(job(failed('BackoffLimitExceeded')), [pod('a', 137)], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Failed', reason: 'RunFailed' } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/pod a exited with code 137/);
  });

  it('a completed Job whose result cannot be trusted: InvalidResult, no counts', () => {
    const r = readFinishedRun(job(complete()), [pod('a', 0, 'not json')], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Failed', reason: 'InvalidResult' } });
  });

  it('waits (within a grace period) for pods whose end has not reached the cache', () => {
    expect(readFinishedRun(job(complete('2026-03-01T11:59:50Z')), [pod('a', undefined)], NOW)?.kind).toBe('waiting');
    expect(readFinishedRun(job(complete('2026-03-01T11:59:50Z')), [], NOW)?.kind).toBe('waiting');
    // After the grace period, a completed Job without its pod: the result is lost, not invalid (finding 3 of issue 10).
    expect(readFinishedRun(job(complete('2026-03-01T11:00:00Z')), [], NOW)).toMatchObject({ kind: 'finished', run: { outcome: 'Succeeded', reason: 'ResultLost' } });
  });

  it('dry run known from the Job args when no result says so', () => {
    const args = buildSweepArgs({ storage: { type: 'sqlite' }, retentionDays: 3, batchSize: 5, statuses: ['completed'], dryRun: true, housekeeping: true, orphans: false, maxDurationSeconds: 9, lockWaitSeconds: 4 });
    const r = readFinishedRun(job(failed('BackoffLimitExceeded'), args), [pod('a', 1)], NOW);
    expect(r?.kind === 'finished' && r.run.dryRun).toBe(true);
  });

  it('a failed Job whose pods are gone: ResultLost with what the Job knows, never InvalidResult', () => {
    const gone = job({ ...failed('BackoffLimitExceeded'), failed: 1 });
    const r = readFinishedRun(gone, [], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Failed', reason: 'ResultLost' } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/deleted before the operator read.*0 succeeded and 1 failed/);
  });

  it('an OOM-killed run: reason OOMKilled naming the memory limit', () => {
    const oom: Pod = { ...pod('a', 137), status: { phase: 'Failed', containerStatuses: [{ name: 'sweep', state: { terminated: { exitCode: 137, reason: 'OOMKilled', message: '\n', finishedAt: '2026-03-01T10:59:59Z' } } }] } };
    const j = job(failed('BackoffLimitExceeded'));
    j.spec!.template.spec!.containers[0]!.resources = { limits: { memory: '128Mi' } };
    const r = readFinishedRun(j, [oom], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Failed', reason: 'OOMKilled' } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/OOMKilled: it ran out of memory \(limit 128Mi\).*limits\.memory/);
  });

  it('a pod never scheduled before the deadline says so', () => {
    const pending: Pod = {
      metadata: { ...pod('a', undefined).metadata, deletionTimestamp: '2026-03-01T11:00:00Z' },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 node(s) had untolerated taint' }] },
    };
    const r = readFinishedRun(job(failed('DeadlineExceeded')), [pending], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { reason: 'DeadlineExceeded' } });
    expect(r?.kind === 'finished' && r.run.message).toMatch(/pod a was never scheduled: Unschedulable: 0\/2 nodes/);
    // The pods gone with the deadline: the stall recorded in the status tells why.
    const stalled = readFinishedRun(job(failed('DeadlineExceeded')), [], NOW, 'Job rp-p-1 cannot start: pod a is not scheduled (Unschedulable).');
    expect(stalled?.kind === 'finished' && stalled.run.message).toMatch(/its pod never started\. Before that: Job rp-p-1 cannot start: .*Unschedulable/);
  });

  it('a run that waited in vain for the store lock of another run: skipped, not failed, counted nowhere', () => {
    const locked = report({ outcome: 'failed', error: { code: 'SWEEP_LOCKED', message: 'another retention sweep is running against sqlite (waited 15 s for its lock)' } });
    const r = readFinishedRun(job(failed('BackoffLimitExceeded')), [pod('a', 1, locked)], NOW);
    expect(r).toMatchObject({ kind: 'finished', run: { outcome: 'Cancelled', reason: 'RunSkipped', skipped: true } });
    if (r?.kind !== 'finished') throw new Error('unreachable');
    const earlier: FinishedRun = { jobName: 'earlier', jobUID: 'e', completionTime: '2026-03-01T10:00:00Z', outcome: 'Succeeded', reason: 'RunSucceeded', message: 'ok', dryRun: false, deleted: { ...zeroCounts(), runs: 1 } };
    const before = accountRuns(undefined, [earlier], 1, NOW);
    const after = accountRuns({ totals: before.totals, history: before.history, conditions: before.conditions, ...(before.lastRun ? { lastRun: before.lastRun } : {}) }, [r.run], 1, NOW + 60_000);
    expect(after.totals).toEqual(before.totals);
    expect(after.lastRun).toEqual(before.lastRun);
    expect(after.conditions).toEqual(before.conditions);
    expect(after.history.map((h) => h.jobName)).toEqual(['rp-p-1', 'earlier']);
  });
});

describe('accountRuns', () => {
  const run = (uid: string, at: string, over: Partial<FinishedRun> = {}): FinishedRun => ({
    jobName: `job-${uid}`, jobUID: uid, completionTime: at, outcome: 'Succeeded', reason: 'RunSucceeded', message: 'ok', dryRun: false, deleted: { ...zeroCounts(), runs: 1 }, ...over,
  });

  it('is idempotent: a UID already in history is never counted again', () => {
    const first = accountRuns(undefined, [run('a', '2026-03-01T10:00:00Z')], 1, NOW);
    const second = accountRuns({ totals: first.totals, history: first.history, ...(first.lastRun ? { lastRun: first.lastRun } : {}), conditions: first.conditions }, [run('a', '2026-03-01T10:00:00Z')], 1, NOW);
    expect(second.totals.runs).toBe(1);
    expect(second.counted).toEqual([]);
  });

  it('failed and cancelled runs count as runsFailed; dry runs count nowhere', () => {
    const a = accountRuns(undefined, [run('a', '2026-03-01T10:00:00Z', { outcome: 'Failed', reason: 'RunFailed' }), run('b', '2026-03-01T10:01:00Z', { outcome: 'Cancelled', reason: 'RunCancelled' }), run('c', '2026-03-01T10:02:00Z', { dryRun: true })], 1, NOW);
    expect(a.totals).toMatchObject({ runs: 2, runsFailed: 2, runsSucceeded: 0 });
    expect(a.lastRun?.jobName).toBe('job-c');
    expect(a.history.map((h) => h.jobUID)).toEqual(['c', 'b', 'a']);
  });

  it('LastRunSucceeded keeps its transition time while its status stays', () => {
    const c1 = setCondition(undefined, { type: 'LastRunSucceeded', status: 'True', reason: 'RunSucceeded', message: 'one' }, Date.parse('2026-01-01T00:00:00Z'));
    const c2 = setCondition(c1, { type: 'LastRunSucceeded', status: 'True', reason: 'RunSucceeded', message: 'two' }, NOW);
    expect(c2[0]).toMatchObject({ lastTransitionTime: '2026-01-01T00:00:00Z', message: 'two' });
    const c3 = setCondition(c2, { type: 'LastRunSucceeded', status: 'False', reason: 'RunFailed', message: 'x' }, NOW);
    expect(c3[0]?.lastTransitionTime).toBe('2026-03-01T12:00:00Z');
  });
});

describe('nextScheduleTime', () => {
  const at = Date.parse('2026-03-01T12:30:00Z');
  it('cron expressions and macros, in UTC or the policy’s time zone', () => {
    expect(nextScheduleTime('0 3 * * *', undefined, at)?.toISOString()).toBe('2026-03-02T03:00:00.000Z');
    expect(nextScheduleTime('@hourly', undefined, at)?.toISOString()).toBe('2026-03-01T13:00:00.000Z');
    expect(nextScheduleTime('@midnight', undefined, at)?.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(nextScheduleTime('@weekly', undefined, at)?.toISOString()).toBe('2026-03-08T00:00:00.000Z');
    expect(nextScheduleTime('0 3 * * *', 'Europe/Berlin', at)?.toISOString()).toBe('2026-03-02T02:00:00.000Z');
    expect(nextScheduleTime('0 0 1 1 *', undefined, at)?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
  it('undefined for what a CronJob would not run', () => {
    expect(nextScheduleTime('* * * * * *', undefined, at)).toBeUndefined();
    expect(nextScheduleTime('nonsense', undefined, at)).toBeUndefined();
  });
});
