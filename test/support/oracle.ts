// The expected outcome of a sweep, written independently of src/engine from the product rules
// (README "What a sweep deletes, and what it never deletes", docs/storage.md#sweep): property tests compare every backend against it.

import type { Dataset, RunRecord } from '../../src/model/dataset.js';

export interface OracleOptions {
  cutoff: Date;
  statuses: readonly string[];
  housekeeping: boolean;
}

export interface OracleResult {
  remaining: Dataset;
  deletedRunIds: Set<string>;
  counts: Record<string, number>;
}

export function expectedAfterSweep(d: Dataset, o: OracleOptions): OracleResult {
  const t = o.cutoff.getTime();
  const candidate = (r: RunRecord): boolean => o.statuses.includes(r.status) && r.updated_at.getTime() < t;
  const kids = new Map<string, RunRecord[]>();
  for (const r of d.runs) {
    if (r.parent_run_id !== null) kids.set(r.parent_run_id, [...(kids.get(r.parent_run_id) ?? []), r]);
  }
  // Fixed point: start from all candidates, drop any with a child not in the set, until stable.
  const doomed = new Set(d.runs.filter(candidate).map((r) => r.run_id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const id of [...doomed]) {
      if ((kids.get(id) ?? []).some((c) => !doomed.has(c.run_id))) {
        doomed.delete(id);
        changed = true;
      }
    }
  }
  const ownedByDoomed = (runId: string): boolean => doomed.has(runId);
  const checkpointDoomed = (key: string): boolean => {
    const i = key.indexOf(':');
    return i > 0 && doomed.has(key.slice(0, i));
  };

  const remaining: Dataset = {
    runs: d.runs.filter((r) => !doomed.has(r.run_id)),
    events: d.events.filter((e) => !ownedByDoomed(e.run_id)),
    steps: d.steps.filter((s) => !ownedByDoomed(s.run_id)),
    hooks: d.hooks.filter((h) => !ownedByDoomed(h.run_id)),
    cancellationFlags: d.cancellationFlags.filter((f) => !ownedByDoomed(f.run_id)),
    checkpoints: d.checkpoints.filter((c) => !checkpointDoomed(c.step_run_id)),
    schedules: d.schedules,
    streams: d.streams,
    signals: d.signals,
    subscriptions: d.subscriptions,
    acknowledgments: d.acknowledgments,
    scheduledSignals: d.scheduledSignals,
  };
  let streamRecords = 0;
  let schedules = 0;
  if (o.housekeeping) {
    const maxSeq = new Map<string, number>();
    for (const s of d.signals) {
      const k = JSON.stringify([s.stream_id, s.stream_run_id]);
      maxSeq.set(k, Math.max(maxSeq.get(k) ?? -1, s.sequence));
    }
    remaining.signals = d.signals.filter(
      (s) => !(s.published_at.getTime() < t && s.sequence !== maxSeq.get(JSON.stringify([s.stream_id, s.stream_run_id]))),
    );
    const liveSignalIds = new Set(remaining.signals.map((s) => s.signal_id));
    remaining.acknowledgments = d.acknowledgments.filter((a) => !(a.acknowledged_at.getTime() < t && !liveSignalIds.has(a.signal_id)));
    remaining.subscriptions = d.subscriptions.filter(
      (s) => !(['terminated', 'completed'].includes(s.status) && s.created_at.getTime() < t),
    );
    remaining.scheduledSignals = d.scheduledSignals.filter((s) => !(s.delivered && s.created_at.getTime() < t));
    remaining.schedules = d.schedules.filter((s) => !(s.status === 'deleted' && (s.deleted_at ?? s.updated_at).getTime() < t));
    streamRecords =
      d.signals.length - remaining.signals.length +
      (d.acknowledgments.length - remaining.acknowledgments.length) +
      (d.subscriptions.length - remaining.subscriptions.length) +
      (d.scheduledSignals.length - remaining.scheduledSignals.length);
    schedules = d.schedules.length - remaining.schedules.length;
  }
  const counts = {
    runs: d.runs.length - remaining.runs.length,
    events: d.events.length - remaining.events.length,
    steps: d.steps.length - remaining.steps.length,
    hooks: d.hooks.length - remaining.hooks.length,
    cancellationFlags: d.cancellationFlags.length - remaining.cancellationFlags.length,
    checkpoints: d.checkpoints.length - remaining.checkpoints.length,
    streamRecords,
    schedules,
  };
  return { remaining, deletedRunIds: doomed, counts };
}
