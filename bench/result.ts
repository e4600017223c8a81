// What every store's bench hands to `npm run bench` (bench/run.ts): one machine-readable line per
// measured shape, next to the bench's own human-readable output.

/** Seconds over the repeats of one contender. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  repeats: number;
}

export interface BenchResult {
  store: string;
  /** The store's size and shape, e.g. "20000 runs, 10 events/run, 60% purgeable". */
  shape: string;
  /** Our sweep as a user runs it (the whole CLI process, default flags unless `oursNote` says otherwise). */
  ours: Spread;
  oursNote?: string;
  pyworkflow: Spread | null;
  pyworkflowNote?: string;
  floor: Spread | null;
  floorNote?: string;
  /** Longest write transaction of our sweep (ms), where the store has transactions. */
  longestTxMs?: number | null;
  /** A concurrent writer's p99 latency during our sweep and idle (ms), where the store's bench has one. */
  writerP99Ms?: number | null;
  writerIdleP99Ms?: number | null;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

export function emitResult(result: BenchResult): void {
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('no measurements');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, repeats: sorted.length };
}

/** "1.23 s (1.10–1.40, 3x)" */
export function formatSpread(s: Spread | null): string {
  if (!s) return '—';
  return `${s.median.toFixed(2)} s (${s.min.toFixed(2)}–${s.max.toFixed(2)}, ${s.repeats}x)`;
}
