// Keeps each purge transaction of the SQL server backends (postgres/citus, mysql) near a time budget:
// a batch is split into chunks (children still before parents, each chunk its own transaction) whose
// size follows the measured time per run, so a slow server, a cold cache or a busy machine shortens
// transactions instead of lengthening the time pyworkflow's writers may wait on a locked run row.

import type { KindCounts } from '../engine/records.js';
import { CancelledError, IncompleteBatchError } from '../errors.js';
import type { OrphanRequest, PurgeBatch, PurgeResult, RunState } from './backend.js';

/** Target BEGIN→COMMIT time: well under a second, so a slow outlier still stays below one. */
export const TRANSACTION_BUDGET_MS = 300;
const MIN_CHUNK = 10;
/** The first transaction of a sweep takes at most this many runs, until the budget has measured one. */
const FIRST_CHUNK = 100;

export class TransactionBudget {
  /** Runs per transaction: small at first, then as many as fit the budget (up to a whole batch). */
  private size = FIRST_CHUNK;

  constructor(private readonly budgetMs = TRANSACTION_BUDGET_MS) {}

  /** How many of `remaining` runs the next transaction takes. */
  next(remaining: number): number {
    return Math.max(1, Math.min(remaining, this.size));
  }

  /** Learns from one transaction: `runs` purged (or counted) in `ms`. */
  record(runs: number, ms: number): void {
    if (runs <= 0) return;
    const fit = Math.max(MIN_CHUNK, Math.floor((this.budgetMs * runs) / Math.max(ms, 1)));
    // Shrink at once when over budget; grow gently when under (one fast transaction may be luck).
    if (ms > this.budgetMs) this.size = Math.min(fit, this.size);
    else this.size = Math.max(this.size, Math.min(fit, Math.ceil(this.size * 1.5)));
  }
}

/** Purges one chunk of a batch in one transaction; `purgedBefore` holds the runs earlier chunks purged. */
export type PurgeChunk = (chunk: readonly RunState[], purgedBefore: ReadonlySet<string>) => Promise<PurgeResult>;

/**
 * Purges a batch in one transaction, or in several consecutive ones when the budget says one would
 * run too long: chunks follow the batch's order (children before parents), and a chunk is told which
 * runs the chunks before it purged, so it can ignore them as children (a dry run still sees them) and
 * the outcome is the same as one transaction's.
 *
 * Every committed chunk is whole (a run goes with all its records or not at all), so a stop request
 * is honoured between chunks. A failure or stop after some chunks committed throws IncompleteBatchError
 * with exactly their counts; the failed chunk's transaction rolled back and counts nothing. A COMMIT
 * whose reply is lost with the connection is resolved by `purgeChunk` where the store can tell
 * (PostgreSQL: postgres/transaction.ts); elsewhere it counts as rolled back, and if the server did
 * commit it, those records are missing from every count.
 */
export async function purgeInBudgetedChunks(budget: TransactionBudget, batch: PurgeBatch, purgeChunk: PurgeChunk, signal?: AbortSignal): Promise<PurgeResult> {
  const counts: Partial<KindCounts> = {};
  const purged: string[] = [];
  const planned = [...new Map(batch.runs.map((r) => [r.runId, r])).values()];
  let chunks = 0;
  for (let start = 0; start < planned.length; ) {
    if (chunks > 0 && signal?.aborted) {
      throw new IncompleteBatchError(new CancelledError('stop requested inside a batch'), { counts, purgedRunIds: purged });
    }
    const size = budget.next(planned.length - start);
    const chunk = planned.slice(start, start + size);
    start += size;
    const t0 = performance.now();
    let result: PurgeResult;
    try {
      result = await purgeChunk(chunk, new Set(purged));
    } catch (err) {
      if (chunks === 0) throw err;
      throw new IncompleteBatchError(err, { counts, purgedRunIds: purged });
    }
    chunks += 1;
    budget.record(chunk.length, performance.now() - t0);
    purged.push(...result.purgedRunIds);
    addPartialCounts(counts, result.counts);
  }
  return { counts, purgedRunIds: purged };
}

/**
 * Works through `items` in consecutive transactions the budget keeps short (the orphan sweeps' loop):
 * `work` handles one chunk in one transaction and returns its counts; the sum is returned.
 */
async function countInBudgetedChunks<T>(
  budget: TransactionBudget,
  items: readonly T[],
  work: (chunk: readonly T[]) => Promise<Partial<KindCounts>>,
  onCommitted: (counts: Partial<KindCounts>) => void,
): Promise<Partial<KindCounts>> {
  const counts: Partial<KindCounts> = {};
  for (let start = 0; start < items.length; ) {
    const size = budget.next(items.length - start);
    const chunk = items.slice(start, start + size);
    start += size;
    const t0 = performance.now();
    try {
      addPartialCounts(counts, await work(chunk));
    } catch (err) {
      // The chunks before this one committed: report them before the failure ends the sweep.
      onCommitted(counts);
      throw err;
    }
    budget.record(chunk.length, performance.now() - t0);
  }
  return counts;
}

/**
 * The SQL orphan sweeps' outer loop: orphan groups in batches of the request's size, each batch in
 * budgeted transactions (`work` handles one chunk), reported per batch, cancellable between batches.
 */
export async function sweepOrphanBatches(budget: TransactionBudget, groups: readonly string[], request: OrphanRequest, work: (chunk: readonly string[]) => Promise<Partial<KindCounts>>): Promise<void> {
  for (let i = 0; i < groups.length; i += request.batchSize) {
    if (request.signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
    request.onBatch(await countInBudgetedChunks(budget, groups.slice(i, i + request.batchSize), work, (done) => request.onBatch(done)));
  }
}

/** Adds `more` into `into` in place, kind by kind (kinds absent from both stay absent). */
export function addPartialCounts(into: Partial<KindCounts>, more: Partial<KindCounts>): Partial<KindCounts> {
  for (const [kind, n] of Object.entries(more) as [keyof KindCounts, number][]) into[kind] = (into[kind] ?? 0) + n;
  return into;
}
