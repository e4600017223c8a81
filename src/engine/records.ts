// The record kinds a sweep counts, and the per-kind tally shared by engine, CLI result and CRD status.

export const RECORD_KINDS = [
  'runs',
  'events',
  'steps',
  'hooks',
  'cancellationFlags',
  'checkpoints',
  'streamRecords',
  'schedules',
] as const;

export type RecordKind = (typeof RECORD_KINDS)[number];

export type KindCounts = Record<RecordKind, number>;

export function zeroCounts(): KindCounts {
  return { runs: 0, events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0, streamRecords: 0, schedules: 0 };
}

/** Adds `b` into `a` in place and returns `a`. */
export function addCounts(a: KindCounts, b: Partial<KindCounts>): KindCounts {
  for (const kind of RECORD_KINDS) a[kind] += b[kind] ?? 0;
  return a;
}

export function totalRecords(c: KindCounts): number {
  return RECORD_KINDS.reduce((sum, k) => sum + c[k], 0);
}

