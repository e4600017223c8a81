// `batchSize: 'auto'` (the CLI without --batch-size): each batch holds as many runs as the backend's
// nextBatchSize() says at that moment, clamped to 1..MAX_BATCH_SIZE, and a backend without one gets
// DEFAULT_BATCH_SIZE. The runs purged are the same as with a fixed size. No servers.
import { describe, expect, it } from 'vitest';
import type { PurgeResult } from '../../../src/backends/backend.js';
import { ReferenceMemoryBackend } from '../../../src/backends/memory/memory-backend.js';
import { TERMINAL_STATUSES } from '../../../src/engine/statuses.js';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, sweep, type SweepOptions } from '../../../src/engine/sweep.js';
import { silentLogger } from '../../../src/log.js';
import { generateDataset } from '../../../src/model/generate.js';

const now = new Date('2026-06-01T00:00:00Z');
const cutoff = new Date(now.getTime() - 10 * 86_400_000);

function options(batchSize: SweepOptions['batchSize']): SweepOptions {
  return {
    cutoff, statuses: TERMINAL_STATUSES, batchSize, dryRun: false, housekeeping: false, lockWaitMs: 0,
    signal: new AbortController().signal, now: () => new Date(), logger: silentLogger,
  };
}

/** A memory store without parent links (every batch holds exactly the runs gathered for it), recording batch sizes. */
function store(runs: number): { backend: ReferenceMemoryBackend; sizes: number[]; remaining: () => number } {
  const data = generateDataset({ seed: 21, runs, now, spanDays: 100, eventsPerRun: 1, childShare: 0 });
  const backend = new ReferenceMemoryBackend(data);
  const sizes: number[] = [];
  const purge = backend.purgeRuns.bind(backend);
  backend.purgeRuns = async (batch, o): Promise<PurgeResult> => {
    sizes.push(batch.runs.length);
    return purge(batch, o);
  };
  return { backend, sizes, remaining: () => data.runs.length };
}

describe("a sweep with batchSize 'auto'", () => {
  it("sizes each batch by the backend's nextBatchSize at that moment, clamped to 1..MAX_BATCH_SIZE", async () => {
    const fixed = store(3000);
    const fixedReport = await sweep(fixed.backend, options(500));
    const auto = store(3000);
    const hints = [7, 0, 50_000, 300];
    let asked = 0;
    (auto.backend as { nextBatchSize?: () => number }).nextBatchSize = () => hints[Math.min(asked++, hints.length - 1)]!;
    const report = await sweep(auto.backend, options('auto'));
    expect(report.outcome).toBe('succeeded');
    const total = fixedReport.deleted.runs;
    expect(total).toBeGreaterThan(MAX_BATCH_SIZE / 10);
    // 7, then 0 clamped to 1, then 50,000 clamped to MAX_BATCH_SIZE (here: everything left), nothing more.
    expect(auto.sizes).toEqual([7, 1, total - 8]);
    expect(report.deleted).toEqual(fixedReport.deleted);
    expect(auto.remaining()).toBe(fixed.remaining());
  });

  it('folds a last batch of at most a quarter of the size into the one before it', async () => {
    const fixed = store(3000);
    const fixedReport = await sweep(fixed.backend, options(500));
    const total = fixedReport.deleted.runs;
    const auto = store(3000);
    // A size that leaves a remainder of a fifth of a batch: it goes with the last full batch.
    const size = Math.ceil(total / 2.2);
    (auto.backend as { nextBatchSize?: () => number }).nextBatchSize = () => size;
    const report = await sweep(auto.backend, options('auto'));
    expect(auto.sizes).toEqual([size, total - size]);
    expect(total - size).toBeGreaterThan(size);
    expect(report.deleted).toEqual(fixedReport.deleted);
    // A fixed size is the user's: never stretched.
    const user = store(3000);
    await sweep(user.backend, options(size));
    expect(user.sizes).toEqual([size, size, total - 2 * size]);
  });

  it('gives a backend without nextBatchSize batches of DEFAULT_BATCH_SIZE', async () => {
    const s = store(3000);
    const report = await sweep(s.backend, options('auto'));
    const total = report.deleted.runs;
    expect(total).toBeGreaterThan(2 * DEFAULT_BATCH_SIZE);
    expect(s.sizes.slice(0, -1).every((n) => n === DEFAULT_BATCH_SIZE)).toBe(true);
    expect(s.sizes.reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('still refuses a fixed size outside 1..MAX_BATCH_SIZE', async () => {
    await expect(sweep(store(10).backend, options(0))).rejects.toThrow(/batch size/);
    await expect(sweep(store(10).backend, options(MAX_BATCH_SIZE + 1))).rejects.toThrow(/batch size/);
  });
});
