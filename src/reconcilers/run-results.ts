// Results into status: reads a finished run Job's result (its pods' termination messages, validated
// with the run contract's decodeResult before anything is trusted) and folds it into the policy's
// lastRun, totals, history and LastRunSucceeded condition. Why each run is counted exactly once is
// in run-accounting.ts.

import { HISTORY_LIMIT, type RunOutcome } from '../api/retention-policy.js';
import type { Condition, LastRun, RetentionPolicyStatus, RunRecord, RunTotals } from '../api/generated/types.js';
import { RECORD_KINDS, addCounts, zeroCounts, type KindCounts } from '../engine/records.js';
import type { SweepReport } from '../engine/report.js';
import { decodeResult, readSweepArgs } from '../engine/run-contract.js';
import { setCondition } from './conditions.js';
import { CONTAINER_NAME } from './desired-cronjob.js';
import { jobEnd, podsOfJob, type ContainerStateTerminated, type Job, type Pod } from './workloads.js';

/** How long after a Job finished its pods may still be missing from the cache before we go without them. */
export const RESULT_GRACE_MS = 30_000;

export type LastRunReason = 'RunSucceeded' | 'RunFailed' | 'RunCancelled' | 'RunSkipped' | 'DeadlineExceeded' | 'OOMKilled' | 'ResultLost' | 'InvalidResult';

export interface FinishedRun {
  jobName: string;
  jobUID: string;
  startTime?: string;
  completionTime?: string;
  outcome: RunOutcome;
  /** Reason of the LastRunSucceeded condition this run sets. */
  reason: LastRunReason;
  message: string;
  dryRun: boolean;
  /** Summed over the Job's attempts; undefined when no attempt left a readable result. */
  deleted?: KindCounts;
  cutoff?: string;
  /** Layout version the run found; '' or undefined when it did not reach the store. */
  schemaVersion?: string;
  /**
   * It stepped aside for another run of the same store (its sweep lock) and did nothing: in history,
   * but not a run of its own (no totals, lastRun and LastRunSucceeded stay with the run that ran).
   */
  skipped?: boolean;
}

export type RunRead = { kind: 'finished'; run: FinishedRun } | { kind: 'waiting'; why: string };

const KIND_WORDS: Record<(typeof RECORD_KINDS)[number], string> = {
  runs: 'runs',
  events: 'events',
  steps: 'steps',
  hooks: 'hooks',
  cancellationFlags: 'cancellation flags',
  checkpoints: 'checkpoints',
  streamRecords: 'stream records',
  schedules: 'schedules',
};

export function describeCounts(c: KindCounts): string {
  return RECORD_KINDS.map((k) => `${c[k]} ${KIND_WORDS[k]}`).join(', ');
}

function terminatedState(pod: Pod): ContainerStateTerminated | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  const c = statuses.find((s) => s.name === CONTAINER_NAME) ?? statuses[0];
  return c?.state?.terminated ?? c?.lastState?.terminated;
}

function isDone(pod: Pod): boolean {
  return terminatedState(pod) !== undefined || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function podProblem(pod: Pod): string {
  const t = terminatedState(pod);
  if (t) return `pod ${pod.metadata.name} exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`;
  const waiting = pod.status?.containerStatuses?.find((s) => s.state?.waiting)?.state?.waiting;
  if (waiting) return `pod ${pod.metadata.name} never started: ${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return `pod ${pod.metadata.name} was never scheduled: ${unscheduled.reason ?? 'Unschedulable'}${unscheduled.message ? `: ${unscheduled.message}` : ''}`;
  if (pod.status?.reason) return `pod ${pod.metadata.name}: ${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ''}`;
  if (!pod.spec?.nodeName) return `pod ${pod.metadata.name} was never scheduled to a node`;
  return `pod ${pod.metadata.name} is ${pod.status?.phase ?? 'unknown'}`;
}

function isDryRunJob(job: Job): boolean {
  return readSweepArgs(job.spec?.template.spec?.containers[0]?.args)?.dryRun ?? false;
}

/** What is known of a Job whose pods are gone: how many of them the Job controller saw succeed or fail. */
function jobPodCounts(job: Job): string {
  return `the Job counted ${job.status?.succeeded ?? 0} succeeded and ${job.status?.failed ?? 0} failed pod(s)`;
}

const deletedNothing = (r: SweepReport): boolean => RECORD_KINDS.every((k) => r.deleted[k] === 0);

/**
 * The result of a finished Job (undefined while it runs), or 'waiting' while its pods' final states
 * may still be on their way into the cache. `stalledAs` is the RunStalled message the policy's status
 * recorded for this Job while it was stuck: once the deadline has removed the pods, it is the only
 * account of why the run never started.
 */
export function readFinishedRun(job: Job, allPods: readonly Pod[], nowMs: number, stalledAs?: string): RunRead | undefined {
  const end = jobEnd(job);
  if (!end) return undefined;
  const endMs = end.at ? Date.parse(end.at) : nowMs;
  const inGrace = nowMs - endMs < RESULT_GRACE_MS;
  const pods = podsOfJob(job, allPods);
  if (inGrace && pods.some((p) => !isDone(p) && !p.metadata.deletionTimestamp)) return { kind: 'waiting', why: 'a pod of the finished Job has not reported its end yet' };
  if (inGrace && end.kind === 'Complete' && !pods.some((p) => terminatedState(p)?.exitCode === 0)) {
    return { kind: 'waiting', why: 'the successful pod of the completed Job is not visible yet' };
  }

  const finished = pods
    .map((pod) => ({ pod, t: terminatedState(pod) }))
    .filter((x): x is { pod: Pod; t: ContainerStateTerminated } => x.t !== undefined)
    .sort((a, b) => (a.t.finishedAt ?? '').localeCompare(b.t.finishedAt ?? ''));
  const parsed = finished.map((x) => ({ ...x, result: decodeResult(x.t.message) }));
  const reports = parsed.flatMap((x) => (x.result.ok ? [x.result.report] : []));
  const last = parsed[parsed.length - 1];
  const finalReport = last?.result.ok ? last.result.report : reports[reports.length - 1];
  // Every attempt is a sweep of its own: what a failed attempt deleted stays deleted.
  const deleted = reports.length > 0 ? reports.reduce((sum, r) => addCounts(sum, r.deleted), zeroCounts()) : undefined;

  const base = {
    jobName: job.metadata.name,
    jobUID: job.metadata.uid ?? '',
    ...(job.status?.startTime ? { startTime: job.status.startTime } : {}),
    ...(end.at ? { completionTime: end.at } : {}),
    dryRun: finalReport?.dryRun ?? isDryRunJob(job),
    ...(deleted ? { deleted } : {}),
    ...(finalReport ? { cutoff: finalReport.cutoff, schemaVersion: finalReport.schemaVersion } : {}),
  };
  const beforeFailure = deleted && RECORD_KINDS.some((k) => deleted[k] > 0) ? ` Deleted before it stopped: ${describeCounts(deleted)}.` : '';
  const result = (outcome: RunOutcome, reason: LastRunReason, message: string, extra: Partial<FinishedRun> = {}): RunRead => ({
    kind: 'finished',
    run: { ...base, outcome, reason, message, ...extra },
  });

  if (end.kind === 'Complete') {
    if (finalReport?.outcome === 'succeeded') {
      const verb = finalReport.dryRun ? 'Dry run: would delete' : 'Deleted';
      const unsafe = (finalReport.skippedUnsafe ?? 0) > 0 ? ` Skipped ${finalReport.skippedUnsafe} unsafe run id(s) read from the store; the run's log names them.` : '';
      return result('Succeeded', 'RunSucceeded', `${verb} ${describeCounts(deleted ?? finalReport.deleted)} (cutoff ${finalReport.cutoff}).${unsafe}`);
    }
    if (!pods.some((p) => terminatedState(p)?.exitCode === 0)) {
      // Operator-outage guard: the run succeeded (the Job says so) but its pod, and with it the
      // termination message, was deleted before anyone read it. Say that, not "invalid result".
      return result(
        'Succeeded',
        'ResultLost',
        `Job ${job.metadata.name} completed, but its pod was deleted before the operator read its result (${jobPodCounts(job)}): what this run deleted is not in the totals.${beforeFailure}`,
      );
    }
    const problem = last && !last.result.ok ? last.result.problem : 'no attempt left a successful result';
    return result('Failed', 'InvalidResult', `The run's Job completed but its result cannot be trusted: ${problem}. Check that the run image matches the operator's version.`);
  }

  // The Job failed.
  const jobDetail = `Job ${job.metadata.name} failed (${end.reason}${end.message ? `: ${end.message}` : ''})`;
  if (last?.t.reason === 'OOMKilled') {
    const limit = job.spec?.template.spec?.containers[0]?.resources?.limits?.memory;
    return result(
      'Failed',
      'OOMKilled',
      `${jobDetail}; pod ${last.pod.metadata.name} was OOMKilled: it ran out of memory${limit !== undefined ? ` (limit ${String(limit)})` : ''}. ` +
        `Raise spec.jobTemplate.resources.limits.memory or lower spec.batchSize.${beforeFailure}`,
    );
  }
  if (last?.result.ok) {
    const r = last.result.report;
    const cause = r.error ? `${r.error.message} [${r.error.code}]` : `the run reported outcome ${r.outcome}`;
    if (r.error?.code === 'SWEEP_LOCKED' && reports.every(deletedNothing)) {
      // Another run of the same store (a run-now Job next to a scheduled one) held the sweep lock for
      // all of this run's lock wait: this one did nothing, and is not a failed run.
      return result('Cancelled', 'RunSkipped', `The run stepped aside: ${cause}. It deleted nothing; the run that held the lock did the work.`, { skipped: true });
    }
    if (r.outcome === 'cancelled') return result('Cancelled', 'RunCancelled', `The run stopped before it finished: ${cause}.${beforeFailure}`);
    return result('Failed', 'RunFailed', `The run failed: ${cause}.${beforeFailure}`);
  }
  const stallNote = stalledAs ? ` Before that: ${stalledAs}` : '';
  const podDetail = last ? podProblem(last.pod) : pods[0] ? podProblem(pods[0]) : undefined;
  if (end.reason === 'DeadlineExceeded') {
    const why = podDetail ?? (stalledAs ? 'its pod never started' : `no pod of the Job is left to inspect (${jobPodCounts(job)})`);
    const advice = stalledAs ? 'Fix what kept the pod from starting.' : 'Raise spec.activeDeadlineSeconds or lower spec.batchSize.';
    return result('Failed', 'DeadlineExceeded', `${jobDetail}; ${why}.${stallNote} ${advice}${beforeFailure}`);
  }
  if (podDetail === undefined) {
    return result('Failed', 'ResultLost', `${jobDetail}; its pods were deleted before the operator read their result (${jobPodCounts(job)}).${stallNote}${beforeFailure}`);
  }
  if (last && !last.result.ok && last.t.message?.trim()) {
    return result('Failed', 'InvalidResult', `${jobDetail}; ${last.result.problem}.${beforeFailure}`);
  }
  return result('Failed', 'RunFailed', `${jobDetail}; ${podDetail}.${stallNote}${beforeFailure}`);
}

export function zeroTotals(): RunTotals {
  return { ...zeroCounts(), runsSucceeded: 0, runsFailed: 0 };
}

export interface Accounting {
  lastRun?: LastRun;
  totals: RunTotals;
  history: RunRecord[];
  conditions: Condition[];
  /** The runs this fold counted (not those already in history). */
  counted: FinishedRun[];
}

/**
 * How many new runs one status update may add to `history` without pushing out a UID in `protect`.
 * History is newest first and bounded by HISTORY_LIMIT; new runs go to its front.
 */
export function historyRoom(history: ReadonlyArray<{ jobUID?: string }> | undefined, protect: ReadonlySet<string>): number {
  let last = -1;
  (history ?? []).forEach((h, i) => {
    if (h.jobUID !== undefined && protect.has(h.jobUID)) last = i;
  });
  return last < 0 ? Number.POSITIVE_INFINITY : HISTORY_LIMIT - 1 - last;
}

const timeOf = (t: string | undefined): number => (t ? Date.parse(t) : 0);

/**
 * Folds finished runs into the status: skips runs whose Job UID is already in history, adds real
 * runs to totals, prepends to history (bounded), and moves lastRun/LastRunSucceeded forward only to a
 * run that finished later than the current lastRun (an old Job read late never hides a newer result).
 */
export function accountRuns(
  status: RetentionPolicyStatus | undefined,
  runs: readonly FinishedRun[],
  generation: number | undefined,
  nowMs: number,
  protect: ReadonlySet<string> = new Set(),
): Accounting {
  const known = new Set((status?.history ?? []).map((h) => h.jobUID).filter((u): u is string => u !== undefined));
  // Oldest first, and only as many as fit without pushing a protected UID (counted, not yet
  // released: run-accounting.ts) out of history; the rest wait for the next update.
  const room = historyRoom(status?.history, protect);
  const fresh = runs
    .filter((r) => r.jobUID !== '' && !known.has(r.jobUID))
    .sort((a, b) => timeOf(a.completionTime) - timeOf(b.completionTime))
    .slice(0, Math.max(0, room));
  const totals: RunTotals = { ...zeroTotals(), ...(status?.totals ?? {}) };
  for (const run of fresh) {
    if (run.dryRun || run.skipped) continue;
    for (const k of RECORD_KINDS) totals[k] += run.deleted?.[k] ?? 0;
    if (run.outcome === 'Succeeded') totals.runsSucceeded += 1;
    else totals.runsFailed += 1;
  }
  const newestFirst = [...fresh].sort((a, b) => timeOf(b.completionTime) - timeOf(a.completionTime));
  const history = [...newestFirst.map(toRecord), ...(status?.history ?? [])].slice(0, HISTORY_LIMIT);
  let lastRun = status?.lastRun;
  let conditions = [...(status?.conditions ?? [])];
  const newest = newestFirst.find((r) => !r.skipped);
  if (newest && (!lastRun || timeOf(newest.completionTime) >= timeOf(lastRun.completionTime))) {
    lastRun = toLastRun(newest);
    conditions = setCondition(
      conditions,
      { type: 'LastRunSucceeded', status: newest.outcome === 'Succeeded' ? 'True' : 'False', reason: newest.reason, message: newest.message, ...(generation === undefined ? {} : { observedGeneration: generation }) },
      nowMs,
    );
  }
  return { ...(lastRun ? { lastRun } : {}), totals, history, conditions, counted: fresh };
}

function toRecord(run: FinishedRun): RunRecord {
  return {
    jobName: run.jobName,
    jobUID: run.jobUID,
    ...(run.startTime ? { startTime: run.startTime } : {}),
    ...(run.completionTime ? { completionTime: run.completionTime } : {}),
    outcome: run.outcome,
    dryRun: run.dryRun,
    ...(run.deleted ? { deleted: { ...run.deleted } } : {}),
  };
}

function toLastRun(run: FinishedRun): LastRun {
  return {
    ...toRecord(run),
    ...(run.cutoff ? { cutoff: run.cutoff } : {}),
    message: run.message.slice(0, 4096),
  };
}
