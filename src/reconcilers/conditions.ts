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
