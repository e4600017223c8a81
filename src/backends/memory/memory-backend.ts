// The reference store: pyworkflow's data model held in memory. It is the executable model the
// property tests compare the real backends against, and the simplest example of the Backend contract.

import type {
  Backend, CandidateQuery, HousekeepingRequest, PurgeBatch, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { SweepLockedError } from '../../errors.js';
import {
  isPurgeableAcknowledgment, isPurgeableScheduledSignal, isPurgeableSchedule, isPurgeableSignal, isPurgeableSubscription,
} from '../../engine/housekeeping.js';
import type { KindCounts } from '../../engine/records.js';
import { checkpointPrefix, type Dataset, type RunRecord } from '../../model/dataset.js';

export class ReferenceMemoryBackend implements Backend {
  readonly type = 'reference-memory';
  readonly target = 'reference memory store';
  private locked = false;

  /** The store's data; mutated in place by purges. */
  constructor(readonly data: Dataset) {}

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async detectLayout(): Promise<StoreLayout> {
    return { schemaVersion: 'reference', empty: false };
  }

  async acquireSweepLock(waitMs: number): Promise<SweepLock> {
    if (this.locked) throw new SweepLockedError(this.target, waitMs);
    this.locked = true;
    return { release: async () => void (this.locked = false) };
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    return this.data.runs.filter((r) => matches(r, query)).length;
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    // Keyset pages over run_id, as the SQL backends do, so purges between pages skip nothing.
    let after = '';
    for (;;) {
      const page = this.data.runs
        .filter((r) => r.run_id > after && matches(r, query))
        .sort((a, b) => (a.run_id < b.run_id ? -1 : 1))
        .slice(0, query.pageSize);
      if (page.length === 0) return;
      after = page[page.length - 1]!.run_id;
      yield page.map(toState);
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    const parents = new Set(parentRunIds);
    return this.data.runs.filter((r) => r.parent_run_id !== null && parents.has(r.parent_run_id)).map(toState);
  }

  async purgeRuns(batch: PurgeBatch, options: { dryRun: boolean }): Promise<PurgeResult> {
    const ids = new Set(batch.runs.map((r) => r.runId));
    const current = this.data.runs.filter((r) => ids.has(r.run_id)).map(toState);
    const outside = this.data.runs.filter((r) => r.parent_run_id !== null && ids.has(r.parent_run_id) && !ids.has(r.run_id)).map(toState);
    const confirmed = batch.confirm(current, outside);
    const purge = new Set(confirmed.map((r) => r.runId));
    const prefixes = confirmed.map((r) => checkpointPrefix(r.runId));
    const d = this.data;
    const counts: Partial<KindCounts> = {
      checkpoints: take(d, 'checkpoints', (c) => prefixes.some((p) => c.step_run_id.startsWith(p)), options.dryRun),
      events: take(d, 'events', (e) => purge.has(e.run_id), options.dryRun),
      steps: take(d, 'steps', (s) => purge.has(s.run_id), options.dryRun),
      hooks: take(d, 'hooks', (h) => purge.has(h.run_id), options.dryRun),
      cancellationFlags: take(d, 'cancellationFlags', (f) => purge.has(f.run_id), options.dryRun),
      runs: take(d, 'runs', (r) => purge.has(r.run_id), options.dryRun),
    };
    return { counts, purgedRunIds: confirmed.map((r) => r.runId) };
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    const { cutoff, dryRun } = request;
    const d = this.data;
    const newest = new Map<string, number>();
    for (const s of d.signals) {
      const key = `${s.stream_id}\u0000${s.stream_run_id}`;
      newest.set(key, Math.max(newest.get(key) ?? -Infinity, s.sequence));
    }
    const doomedSignals = new Set(
      d.signals
        .filter((s) => isPurgeableSignal(s, (a, b) => newest.get(`${a}\u0000${b}`) ?? -Infinity, cutoff))
        .map((s) => s.signal_id),
    );
    const remaining = new Set(d.signals.map((s) => s.signal_id).filter((id) => !doomedSignals.has(id)));
    const streamRecords =
      take(d, 'acknowledgments', (a) => isPurgeableAcknowledgment(a, (id) => remaining.has(id), cutoff), dryRun) +
      take(d, 'signals', (s) => doomedSignals.has(s.signal_id), dryRun) +
      take(d, 'subscriptions', (s) => isPurgeableSubscription(s, cutoff), dryRun) +
      take(d, 'scheduledSignals', (s) => isPurgeableScheduledSignal(s, cutoff), dryRun);
    const schedules = take(d, 'schedules', (s) => isPurgeableSchedule(s, cutoff), dryRun);
    request.onBatch({ streamRecords, schedules });
  }
}

function matches(r: RunRecord, q: CandidateQuery): boolean {
  return (q.statuses as readonly string[]).includes(r.status) && r.updated_at.getTime() < q.cutoff.getTime();
}

function toState(r: RunRecord): RunState {
  return { runId: r.run_id, status: r.status, updatedAt: r.updated_at, parentRunId: r.parent_run_id };
}

/** Removes (unless dryRun) the records of one collection that match, returning how many matched. */
function take<K extends keyof Dataset>(d: Dataset, key: K, pred: (item: Dataset[K][number]) => boolean, dryRun: boolean): number {
  const list = d[key] as Dataset[K][number][];
  const keep = list.filter((x) => !pred(x));
  const removed = list.length - keep.length;
  if (!dryRun) (d[key] as Dataset[K][number][]) = keep;
  return removed;
}
