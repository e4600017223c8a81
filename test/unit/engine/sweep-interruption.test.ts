// The sweep loop stopped midway: by a stop request that only a timer or signal handler can deliver
// (so the loop must give the event loop a turn between batches, also when the backend never waits on
// I/O, as better-sqlite3 does not), and by a batch that fails after deleting part of itself
// (IncompleteBatchError). Either way the report counts exactly what was deleted. No servers.
import { describe, expect, it } from 'vitest';
import type { PurgeBatch, PurgeResult, RunState } from '../../../src/backends/backend.js';
import { ReferenceMemoryBackend } from '../../../src/backends/memory/memory-backend.js';
import { purgeInBudgetedChunks, TransactionBudget } from '../../../src/backends/transaction-budget.js';
import { TERMINAL_STATUSES } from '../../../src/engine/statuses.js';
import { sweep, type SweepOptions } from '../../../src/engine/sweep.js';
import { CancelledError, IncompleteBatchError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { generateDataset } from '../../../src/model/generate.js';

const now = new Date('2026-06-01T00:00:00Z');
const cutoff = new Date(now.getTime() - 10 * 86_400_000);

function options(signal: AbortSignal, batchSize = 5): SweepOptions {
  return {
    cutoff, statuses: TERMINAL_STATUSES, batchSize, dryRun: false, housekeeping: false, lockWaitMs: 0, signal, now: () => new Date(), logger: silentLogger,
  };
}

describe('a sweep asked to stop', () => {
  it('stops between batches on a timer although the backend never waits on I/O, counting exactly what went', async () => {
    const data = generateDataset({ seed: 3, runs: 400, now, spanDays: 30, eventsPerRun: 2 });
    const backend = new ReferenceMemoryBackend(data);
    const runsBefore = data.runs.length;
    const eventsBefore = data.events.length;
    const controller = new AbortController();
    // Delivered like --max-duration: by a timer, which fires only when the event loop gets a turn.
    setTimeout(() => controller.abort(new Error('timer fired')), 0);
    const report = await sweep(backend, options(controller.signal));
    expect(report.outcome).toBe('cancelled');
    expect(report.error?.message).toContain('timer fired');
    expect(report.deleted.runs).toBe(runsBefore - data.runs.length);
    expect(report.deleted.events).toBe(eventsBefore - data.events.length);

    // The rest of the sweep is still there for a re-run.
    const rerun = await sweep(backend, options(new AbortController().signal));
    expect(rerun.outcome).toBe('succeeded');
    expect(rerun.deleted.runs).toBeGreaterThan(0);
  });
});

describe('a batch that fails after deleting part of itself', () => {
  it('is counted up to where it failed, and the failure is reported', async () => {
    const data = generateDataset({ seed: 4, runs: 200, now, spanDays: 30, eventsPerRun: 2 });
    const backend = new ReferenceMemoryBackend(data);
    const runsBefore = data.runs.length;
    const purge = backend.purgeRuns.bind(backend);
    let batches = 0;
    backend.purgeRuns = async (batch, o): Promise<PurgeResult> => {
      if (++batches < 3) return purge(batch, o);
      // The third batch: its first run goes, then the store fails.
      const first: PurgeBatch = { runs: batch.runs.slice(0, 1), confirm: (current, outside) => batch.confirm(current, outside).slice(0, 1) };
      const done = await purge(first, o);
      throw new IncompleteBatchError(new Error('store went away'), done);
    };
    const report = await sweep(backend, options(new AbortController().signal));
    expect(report.outcome).toBe('failed');
    expect(report.error?.message).toContain('store went away');
    expect(report.deleted.runs).toBe(runsBefore - data.runs.length);
    expect(report.deleted.runs).toBeGreaterThan(0);
  });
});

describe('purgeInBudgetedChunks', () => {
  const runs: RunState[] = Array.from({ length: 30 }, (_, i) => ({ runId: `run_${String(i).padStart(2, '0')}`, status: 'completed', updatedAt: cutoff, parentRunId: null }));
  const batch: PurgeBatch = { runs, confirm: (current) => [...current] };
  /** A budget that always hands out chunks of 10 runs. */
  const tens = (): TransactionBudget => {
    const b = new TransactionBudget(1);
    b.record(100, 1_000_000);
    return b;
  };
  const chunkOk = async (chunk: readonly RunState[]): Promise<PurgeResult> => ({ counts: { runs: chunk.length }, purgedRunIds: chunk.map((r) => r.runId) });

  it('reports the committed chunks when a later one fails', async () => {
    let n = 0;
    const err = await purgeInBudgetedChunks(tens(), batch, async (chunk) => {
      if (++n === 3) throw new Error('chunk 3 failed');
      return chunkOk(chunk);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncompleteBatchError);
    const e = err as IncompleteBatchError;
    expect((e.cause as Error).message).toBe('chunk 3 failed');
    expect(e.done.counts).toEqual({ runs: 20 });
    expect(e.done.purgedRunIds).toHaveLength(20);
  });

  it('throws the plain error when nothing was committed', async () => {
    await expect(purgeInBudgetedChunks(tens(), batch, async () => Promise.reject(new Error('first failed')))).rejects.toThrow(/^first failed$/);
  });

  it('stops between chunks when asked to, with the committed chunks counted', async () => {
    const controller = new AbortController();
    let n = 0;
    const err = await purgeInBudgetedChunks(
      tens(),
      batch,
      async (chunk) => {
        if (++n === 1) controller.abort();
        return chunkOk(chunk);
      },
      controller.signal,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncompleteBatchError);
    expect((err as IncompleteBatchError).cause).toBeInstanceOf(CancelledError);
    expect((err as IncompleteBatchError).done.counts).toEqual({ runs: 10 });
  });
});
