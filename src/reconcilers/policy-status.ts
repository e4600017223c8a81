// The status a RetentionPolicy should have, computed purely from what the reconcile observed and did:
// Ready, the CronJob's name and schedule times, run results folded in (run-results.ts) and the last
// run-now token. Deterministic for unchanged inputs, so a steady state compares equal and writes nothing.

import type { RetentionPolicyStatus } from '../api/generated/types.js';
import { apiTime, setCondition, setStalled, type ConditionInput } from './conditions.js';
import { accountRuns, type FinishedRun } from './run-results.js';
import { lastRunCondition, type Stall } from './run-stalls.js';
import { nextScheduleTime } from './schedule.js';
import type { CronJob } from './workloads.js';

export interface PolicyStatusInput {
  current: RetentionPolicyStatus | undefined;
  generation: number | undefined;
  /** Ready without observedGeneration (added here). */
  ready: Omit<ConditionInput, 'type' | 'observedGeneration'>;
  /** The policy's CronJob when it is in place (created/updated by this reconcile or observed). */
  cronJob: CronJob | undefined;
  runs: readonly FinishedRun[];
  /** UIDs of counted runs not yet released: kept in history (run-accounting.ts). */
  protect?: ReadonlySet<string>;
  /** A run of this policy that cannot start (run-stalls.ts). */
  stall?: Stall;
  runNowToken: string | undefined;
  nowMs: number;
}

export interface PolicyStatusResult {
  status: RetentionPolicyStatus;
  /** Runs counted by this status (not already in history). */
  counted: FinishedRun[];
}

export function desiredPolicyStatus(input: PolicyStatusInput): PolicyStatusResult {
  const { current, generation, nowMs } = input;
  const gen = generation === undefined ? {} : { observedGeneration: generation };
  const accounting = accountRuns(current, input.runs, generation, nowMs, input.protect);
  let conditions = setCondition(accounting.conditions, { type: 'Ready', ...input.ready, ...gen }, nowMs);
  conditions = setStalled(conditions, { ...input.ready, ...gen }, nowMs);
  const stalled = lastRunCondition({ conditions, ...(accounting.lastRun ? { lastRun: accounting.lastRun } : {}) }, input.stall);
  if (stalled) conditions = setCondition(conditions, { ...stalled, ...gen }, nowMs);
  if (!conditions.some((c) => c.type === 'LastRunSucceeded')) {
    conditions = setCondition(conditions, { type: 'LastRunSucceeded', status: 'Unknown', reason: 'NoRunYet', message: 'No run of this policy has finished yet.', ...gen }, nowMs);
  }
  // Ready first, then Stalled, then LastRunSucceeded, then anything else: a stable order compares equal.
  const rank = (t: string): number => (t === 'Ready' ? 0 : t === 'Stalled' ? 1 : t === 'LastRunSucceeded' ? 2 : 3);
  conditions.sort((a, b) => rank(a.type) - rank(b.type));

  const cron = input.cronJob;
  const next = cron && cron.spec.suspend !== true ? nextScheduleTime(cron.spec.schedule, cron.spec.timeZone, nowMs) : undefined;
  const status: RetentionPolicyStatus = {
    ...gen,
    conditions,
    ...(cron ? { cronJobName: cron.metadata.name } : {}),
    ...(cron?.status?.lastScheduleTime ? { lastScheduleTime: apiTime(Date.parse(cron.status.lastScheduleTime)) } : {}),
    ...(next ? { nextScheduleTime: apiTime(next.getTime()) } : {}),
    ...(accounting.lastRun ? { lastRun: accounting.lastRun } : {}),
    totals: accounting.totals,
    history: accounting.history,
    ...(input.runNowToken !== undefined ? { lastRunNowToken: input.runNowToken } : {}),
  };
  return { status, counted: accounting.counted };
}
