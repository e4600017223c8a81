// The SQLite batch sizer: batches whose time is a fixed part plus a per-run part grow to the size that
// fills the budget (a proportional guess would stop far below it), at most doubling per batch; one
// over budget shrinks the next proportionally at once; sizes too alike or a line that makes no sense
// fall back to the proportional guess. No I/O.
import { describe, expect, it } from 'vitest';
import { BatchSizer } from '../../../../src/backends/sqlite/batch-sizer.js';

/** Feeds `cost(runs)` as each batch's time and returns the sizes asked for. */
function drive(sizer: BatchSizer, cost: (runs: number) => number, batches: number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < batches; i++) {
    const runs = sizer.next();
    sizes.push(runs);
    sizer.record(runs, cost(runs));
  }
  return sizes;
}

describe('SQLite batch sizer', () => {
  it('grows to the size that fills the budget when batches cost a fixed part plus a part per run', () => {
    const sizes = drive(new BatchSizer({ budgetMs: 400, first: 500 }), (runs) => 200 + 0.1 * runs, 6);
    // 500 took 250 ms: proportionally 800 fit. 800 took 280 ms: the line 200 + 0.1/run says 2000 do, at most 1600 now.
    expect(sizes).toEqual([500, 800, 1600, 2000, 2000, 2000]);
  });

  it('shrinks at once, proportionally, after a batch over budget', () => {
    const sizer = new BatchSizer({ budgetMs: 400, first: 500 });
    sizer.record(500, 1000);
    expect(sizer.next()).toBe(200);
    sizer.record(200, 100_000);
    expect(sizer.next()).toBe(10);
  });

  it('falls back to the proportional guess when the sizes are too alike or the line makes no sense', () => {
    const alike = new BatchSizer({ budgetMs: 400, first: 1000 });
    alike.record(1000, 200);
    alike.record(1000, 300);
    expect(alike.next()).toBe(1333);

    const falling = new BatchSizer({ budgetMs: 400, first: 500 });
    falling.record(500, 300); // proportionally 666
    falling.record(666, 250); // bigger and faster: a noisy machine, no per-run cost to fit
    expect(falling.next()).toBe(Math.floor((400 * 666) / 250));
  });
});
