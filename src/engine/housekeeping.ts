// The housekeeping rules (README "What a sweep deletes, and what it never deletes", docs/storage.md#housekeeping), stated once as pure
// predicates. SQL backends express the same rules in their statements; stores without a query
// language (reference memory, file) call these directly.

/** Subscription statuses that end a subscription (`completed` is pyworkflow's legacy alias of `terminated`). */
export const TERMINAL_SUBSCRIPTION_STATUSES = ['terminated', 'completed'] as const;

/** pyworkflow stores a soft-deleted schedule with this status (lowercase; its own retention checks 'DELETED', H10). */
export const DELETED_SCHEDULE_STATUS = 'deleted';

const before = (t: Date | null | undefined, cutoff: Date): boolean => t != null && t.getTime() < cutoff.getTime();

/** A soft-deleted schedule whose deletion (or, lacking deleted_at, last update) is older than the cutoff. */
export function isPurgeableSchedule(s: { status: string; deleted_at: Date | null; updated_at: Date }, cutoff: Date): boolean {
  return s.status === DELETED_SCHEDULE_STATUS && before(s.deleted_at ?? s.updated_at, cutoff);
}

export function isPurgeableSubscription(s: { status: string; created_at: Date }, cutoff: Date): boolean {
  return (TERMINAL_SUBSCRIPTION_STATUSES as readonly string[]).includes(s.status) && before(s.created_at, cutoff);
}

export function isPurgeableScheduledSignal(s: { delivered: boolean; created_at: Date }, cutoff: Date): boolean {
  return s.delivered && before(s.created_at, cutoff);
}

/**
 * A signal older than the cutoff, unless it is the newest of its stream run: pyworkflow numbers the
 * next signal max(sequence)+1, so deleting the newest would restart numbering under a live consumer (H11).
 */
export function isPurgeableSignal(
  s: { stream_id: string; stream_run_id: string; sequence: number; published_at: Date },
  newestSequence: (streamId: string, streamRunId: string) => number,
  cutoff: Date,
): boolean {
  return before(s.published_at, cutoff) && s.sequence < newestSequence(s.stream_id, s.stream_run_id);
}

/** An acknowledgment older than the cutoff goes together with or after its signal, never before (H11). */
export function isPurgeableAcknowledgment(
  a: { signal_id: string; acknowledged_at: Date },
  signalRemains: (signalId: string) => boolean,
  cutoff: Date,
): boolean {
  return before(a.acknowledged_at, cutoff) && !signalRemains(a.signal_id);
}
