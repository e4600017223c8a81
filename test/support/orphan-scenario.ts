// The store every orphan-sweep test (--orphans, H24) starts from, as a neutral Dataset: old orphan
// groups (purged), an orphan group with one young record, an idle and a live stream-step pseudo run,
// a stream-step checkpoint, and runs that have a record (all untouched).

import { expect } from 'vitest';
import type { SweepReport } from '../../src/engine/report.js';
import { sweep, type SweepOptions } from '../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { silentLogger } from '../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../src/model/dataset.js';
import type { Snapshot, StoreHandle } from './stores/store-fixture.js';

export const NOW = new Date('2026-06-01T12:00:00.000Z');
export const CUTOFF = new Date('2026-05-01T00:00:00.000Z');
export const OLD = new Date('2026-04-01T00:00:00.000Z');
export const YOUNG = new Date('2026-05-25T00:00:00.000Z');

/** Orphan groups the sweep purges. */
export const PURGED = ['run_gone_a', 'run_gone_b', 'run_gone_c', 'stream_step_consume_0123456789ab'] as const;
/** Run ids whose every record stays byte-identical: a young orphan group, a live stream step, runs with a record. */
export const KEPT = ['run_young', 'stream_step_consume_ba9876543210', 'run_live', 'run_recent'] as const;
/** A stream-step checkpoint (no `:`): belongs to no run, stays although old. */
export const STREAM_CHECKPOINT = 'stream_step_consume_0123456789ab';

/** What the sweep reports for the scenario (no run record is deleted). */
export const ORPHAN_COUNTS = { runs: 0, events: 3 + 2 + 4, hooks: 2 + 1, steps: 1, cancellationFlags: 1, checkpoints: 1 };

/** Engine options for sweeping the scenario with --orphans: batches of 2, housekeeping off, the clock at NOW. */
export function orphanSweepOptions(over: Partial<SweepOptions> = {}): SweepOptions {
  return {
    cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], batchSize: 2, dryRun: false, housekeeping: false, orphanCutoff: CUTOFF, lockWaitMs: 1000,
    signal: new AbortController().signal, now: () => NOW, logger: silentLogger, ...over,
  };
}

/**
 * The common start of every orphan-sweep test on a store seeded with the scenario: the young groups and
 * the runs with a record are really there; a dry run predicts ORPHAN_COUNTS and changes nothing; the
 * sweep deletes exactly what the dry run predicted. Returns the dumps before and after, for the
 * store-specific comparison.
 */
export async function dryRunThenSweep(store: StoreHandle, keptRows: (row: string) => boolean = (r) => KEPT.some((id) => r.includes(id))): Promise<{ before: Snapshot; after: Snapshot; report: SweepReport }> {
  const before = await store.dump();
  expect(Object.values(before).flat().filter(keptRows).length).toBeGreaterThanOrEqual(30);
  const dry = await sweep(store.backend(), orphanSweepOptions({ dryRun: true }));
  expect(dry.outcome, dry.error?.message).toBe('succeeded');
  expect(dry.deleted).toMatchObject(ORPHAN_COUNTS);
  expect(await store.dump()).toEqual(before);

  const report = await sweep(store.backend(), orphanSweepOptions());
  expect(report.outcome, report.error?.message).toBe('succeeded');
  expect(report.deleted).toEqual(dry.deleted);
  return { before, after: await store.dump(), report };
}

/** The dataset without the records of the `purged` groups: what a store must hold after the sweep. */
export function withoutPurgedGroups(d: Dataset, purged: readonly string[] = PURGED): Dataset {
  const gone = new Set<string>(purged);
  return {
    ...d,
    events: d.events.filter((e) => !gone.has(e.run_id)),
    steps: d.steps.filter((s) => !gone.has(s.run_id)),
    hooks: d.hooks.filter((h) => !gone.has(h.run_id)),
    cancellationFlags: d.cancellationFlags.filter((f) => !gone.has(f.run_id)),
    checkpoints: d.checkpoints.filter((c) => !purged.some((id) => c.step_run_id.startsWith(`${id}:`))),
  };
}

function run(run_id: string, status: string, updated_at: Date): RunRecord {
  return {
    run_id, workflow_name: 'wf', status, created_at: OLD, updated_at, started_at: null, completed_at: null, idempotency_key: null,
    parent_run_id: null, nesting_depth: 0, continued_from_run_id: null, continued_to_run_id: null, input_args: '[]', input_kwargs: '{}',
    result: null, error: null, context: '{}',
  };
}

/** Appends n events to a run's log, numbered on from its last one. */
export function addEvents(d: Dataset, runId: string, n: number, at = OLD): void {
  let next = d.events.filter((e) => e.run_id === runId).length;
  for (let i = 0; i < n; i++, next++) {
    d.events.push({ event_id: `evt_${runId}_${next}`, run_id: runId, sequence: next, type: 'step.completed', timestamp: at, data: { step_id: 'step_a' }, step_id: 'step_a' });
  }
}

/** Every kind of per-run record for `runId`, all old: 3 events, 2 hooks, 1 step, 1 flag, 1 checkpoint. */
export function addFullGroup(d: Dataset, runId: string): void {
  addEvents(d, runId, 3);
  d.hooks.push({ run_id: runId, hook_id: 'hook_approval_1', token: `${runId}:hook_approval_1`, status: 'pending', created_at: OLD });
  d.hooks.push({ run_id: runId, hook_id: 'step_hook_cb_2', token: `${runId}:step_hook_cb_2`, status: 'received', created_at: OLD });
  d.steps.push({ step_id: `step_a_${runId}`, run_id: runId, step_name: 'a', status: 'completed', created_at: OLD });
  d.cancellationFlags.push({ run_id: runId, created_at: OLD });
  d.checkpoints.push({ step_run_id: `${runId}:step_a`, data: { cursor: 1 }, created_at: OLD, updated_at: OLD });
}

export function orphanScenario(): Dataset {
  const d = emptyDataset();
  addFullGroup(d, 'run_gone_a');
  addEvents(d, 'run_gone_b', 2); // what a purge that deleted the run record first leaves (pyworkflow's DynamoDB retention, H12)
  d.hooks.push({ run_id: 'run_gone_c', hook_id: 'hook_x_1', token: 'run_gone_c:hook_x_1', status: 'pending', created_at: OLD }); // H12: hooks are never purged
  addFullGroup(d, 'run_young');
  d.hooks.push({ run_id: 'run_young', hook_id: 'hook_late_3', token: 'run_young:hook_late_3', status: 'pending', created_at: YOUNG });
  addEvents(d, 'stream_step_consume_0123456789ab', 4); // an idle stream-step pseudo run
  addEvents(d, 'stream_step_consume_ba9876543210', 2);
  addEvents(d, 'stream_step_consume_ba9876543210', 1, YOUNG); // a live one: its newest event is recent
  d.checkpoints.push({ step_run_id: STREAM_CHECKPOINT, data: {}, created_at: OLD, updated_at: OLD });
  d.runs.push(run('run_live', 'running', OLD), run('run_recent', 'completed', YOUNG)); // neither is a candidate
  addFullGroup(d, 'run_live');
  addFullGroup(d, 'run_recent');
  return d;
}
