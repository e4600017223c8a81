// How many runs the next SQLite batch takes when the user left the batch size to us: as many as fit a
// transaction time budget, from the recent batches' measured times.
//
// A batch's time is not proportional to its runs: part of it is a cost every batch pays whatever its
// size (the pages of the random-keyed indexes and of tables in the other order that nearly any batch
// touches, each journalled and written once per transaction). At 20k runs a batch of 500 took 280 ms,
// 2000 took 500 ms, 4000 took 730 ms (bench/sqlite-bench.ts, sqlite-backend.ts). Fitting
// time = fixed + perRun × runs over the recent batches finds the size that fills the budget; the
// proportional guess (runs × budget / time) would stay at a fraction of it and pay the fixed part
// many more times. A batch over budget shrinks the next one at once, proportionally (the cautious way).

export interface BatchSizerOptions {
  budgetMs: number;
  first: number;
  /** The most the next batch may exceed the last one by (a factor). */
  maxGrowth?: number;
  /** Never fewer runs per batch than this. */
  min?: number;
  /** How many recent batches the fit uses. */
  window?: number;
}

interface Sample {
  runs: number;
  ms: number;
}

export class BatchSizer {
  private readonly samples: Sample[] = [];
  private size: number;
  private readonly maxGrowth: number;
  private readonly min: number;
  private readonly window: number;

  constructor(private readonly options: BatchSizerOptions) {
    this.size = options.first;
    this.maxGrowth = options.maxGrowth ?? 2;
    this.min = options.min ?? 10;
    this.window = options.window ?? 6;
  }

  /** Runs for the next batch. */
  next(): number {
    return this.size;
  }

  /** Learns from one batch: `runs` purged (or counted) in one transaction of `ms`. */
  record(runs: number, ms: number): void {
    if (runs <= 0) return;
    const budget = this.options.budgetMs;
    this.samples.push({ runs, ms: Math.max(ms, 0.001) });
    if (this.samples.length > this.window) this.samples.shift();
    const proportional = Math.floor((budget * runs) / Math.max(ms, 0.001));
    if (ms > budget) {
      this.size = Math.max(this.min, Math.min(this.size, proportional));
      return;
    }
    const fitted = this.fitted();
    const want = fitted !== null && fitted > proportional ? fitted : proportional;
    this.size = Math.max(this.min, Math.min(want, Math.ceil(runs * this.maxGrowth)));
  }

  /** Runs that fill the budget by a least-squares line through the recent batches, or null when they do not define one. */
  private fitted(): number | null {
    const n = this.samples.length;
    if (n < 2) return null;
    const mx = this.samples.reduce((s, x) => s + x.runs, 0) / n;
    const my = this.samples.reduce((s, x) => s + x.ms, 0) / n;
    let sxx = 0;
    let sxy = 0;
    for (const { runs, ms } of this.samples) {
      sxx += (runs - mx) ** 2;
      sxy += (runs - mx) * (ms - my);
    }
    // Sizes too alike to tell a fixed part from a per-run part: no line.
    if (sxx < (0.1 * mx) ** 2 * n) return null;
    const perRun = sxy / sxx;
    const fixed = my - perRun * mx;
    if (!(perRun > 0) || fixed < 0 || fixed >= this.options.budgetMs) return null;
    return Math.floor((this.options.budgetMs - fixed) / perRun + 1e-6);
  }
}
