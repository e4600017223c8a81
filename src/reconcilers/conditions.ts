// Standard status conditions (metav1.Condition): set one by type, keeping lastTransitionTime while
// its status does not change, so that re-computing an unchanged condition changes nothing.

import type { Condition } from '../api/generated/types.js';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** metav1.Time: RFC 3339 in whole seconds, as the API server writes it. */
export function apiTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Returns a new list with `input` set; other types keep their order and values. */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, nowMs: number): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const previous = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(input.observedGeneration === undefined ? {} : { observedGeneration: input.observedGeneration }),
    lastTransitionTime: previous && previous.status === input.status ? previous.lastTransitionTime : apiTime(nowMs),
    reason: input.reason,
    message: input.message,
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Ready reasons that only a change of the object's spec can clear. */
export const STALLED_REASONS: ReadonlySet<string> = new Set(['InvalidSpec', 'CronJobInvalid']);

/**
 * kstatus's `Stalled` (an "abnormal-true" condition): present with status True, the Ready reason and
 * message while the object cannot make progress without a spec change; absent otherwise, so tools such
 * as `kstatus`/Flux/Argo CD report the object as Failed rather than waiting for it forever.
 */
export function setStalled(conditions: readonly Condition[], ready: Omit<ConditionInput, 'type'>, nowMs: number): Condition[] {
  if (ready.status === 'False' && STALLED_REASONS.has(ready.reason)) return setCondition(conditions, { ...ready, type: 'Stalled', status: 'True' }, nowMs);
  return conditions.filter((c) => c.type !== 'Stalled');
}
