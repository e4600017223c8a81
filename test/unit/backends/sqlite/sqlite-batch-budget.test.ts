// The SQLite backend sizes batches by a time budget when the batch size is left to it: 500 runs
// first, then up to twice as many after a batch under budget, and at once down to what fits after one
// over it. The sweep's transaction clock is faked so the sizes are exact; the purge itself is real and
// leaves the store exactly as a sweep with the old fixed default does.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PurgeResult } from '../../../../src/backends/backend.js';
import { SQLITE_TRANSACTION_BUDGET_MS, type SqliteBackend } from '../../../../src/backends/sqlite/sqlite-backend.js';
import { TERMINAL_STATUSES } from '../../../../src/engine/statuses.js';
import { sweep, type SweepOptions } from '../../../../src/engine/sweep.js';
import { silentLogger } from '../../../../src/log.js';
import { generateDataset } from '../../../../src/model/generate.js';
import { sqliteFixture } from '../../../support/stores/sqlite-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

const now = new Date('2026-06-01T00:00:00Z');
const cutoff = new Date(now.getTime() - 10 * 86_400_000);
const handles: StoreHandle[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const h of handles.splice(0)) await h.destroy();
});

function options(batchSize: SweepOptions['batchSize']): SweepOptions {
  return {
    cutoff, statuses: TERMINAL_STATUSES, batchSize, dryRun: false, housekeeping: true, lockWaitMs: 0,
    signal: new AbortController().signal, now: () => new Date(), logger: silentLogger,
  };
}

async function twoStores(): Promise<[StoreHandle, StoreHandle]> {
  const data = sqliteFixture.adapt(generateDataset({ seed: 5, runs: 4000, now, spanDays: 100, eventsPerRun: 2, childShare: 0 }));
  const a = await sqliteFixture.create(data);
  const b = await sqliteFixture.create(data);
  handles.push(a, b);
  return [a, b];
}

/** Every performance.now() call advances `step` ms: each purge transaction measures exactly `step`. */
function fakeClock(step: () => number): void {
  let t = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => (t += step()));
}

/** The sizes the backend asked for (the engine then drops runs its exact cutoff test rejects) and the batches it got. */
function record(backend: SqliteBackend): { hints: number[]; sizes: number[] } {
  const hints: number[] = [];
  const sizes: number[] = [];
  const next = backend.nextBatchSize.bind(backend);
  backend.nextBatchSize = () => {
    hints.push(next());
    return hints[hints.length - 1]!;
  };
  const purge = backend.purgeRuns.bind(backend);
  backend.purgeRuns = async (batch, o): Promise<PurgeResult> => {
    sizes.push(batch.runs.length);
    return purge(batch, o);
  };
  return { hints, sizes };
}

describe('SQLite batch sizes left to the sweep', () => {
  it('start at 500 and double while each transaction stays well under budget; the store ends as with fixed batches of 500', async () => {
    const [auto, fixed] = await twoStores();
    const backend = auto.backend() as SqliteBackend;
    expect(backend.nextBatchSize()).toBe(500);
    const { hints, sizes } = record(backend);
    fakeClock(() => SQLITE_TRANSACTION_BUDGET_MS / 10);
    const report = await sweep(backend, options('auto'));
    vi.restoreAllMocks();
    expect(report.outcome).toBe('succeeded');
    // Every batch took the same time whatever its size: no per-run cost to fit, so each doubles the last.
    expect(hints.slice(0, 3)).toEqual([500, 2 * sizes[0]!, 2 * sizes[1]!]);
    expect(sizes[0]).toBeGreaterThan(450);
    expect(sizes[0]).toBeLessThanOrEqual(500);
    const fixedReport = await sweep(fixed.backend(), options(500));
    expect(report.deleted).toEqual(fixedReport.deleted);
    expect(await auto.dump()).toEqual(await fixed.dump());
  });

  it('shrink at once to what fits after a transaction over budget', async () => {
    const [auto] = await twoStores();
    const backend = auto.backend() as SqliteBackend;
    const { hints, sizes } = record(backend);
    // The first transaction takes four budgets' time (two clock reads): the next batch holds a quarter as many runs.
    let reads = 0;
    fakeClock(() => (reads++ < 2 ? 4 * SQLITE_TRANSACTION_BUDGET_MS : SQLITE_TRANSACTION_BUDGET_MS / 2));
    const report = await sweep(backend, options('auto'));
    expect(report.outcome).toBe('succeeded');
    expect(hints[0]).toBe(500);
    expect(hints[1]).toBe(Math.floor(sizes[0]! / 4));
  });
});
