// The sweep loop, written once for every backend: schema guard, sweep lock, candidate pages,
// parent/child decisions, batches (children and related records before run records), per-kind
// counting, dry run, progress, and stopping between batches when asked to.

import type { Backend, CandidateQuery, PurgeBatch, PurgeResult, RunState } from '../backends/backend.js';
import { CancelledError, IncompleteBatchError, RetentionError } from '../errors.js';
import type { Logger } from '../log.js';
import { assertSafeCutoff } from './cutoff.js';
import { addCounts, zeroCounts, type KindCounts } from './records.js';
import type { SweepReport } from './report.js';
import { confirmBatch, decideBatch, isCandidate, type Selection } from './selection.js';
import type { TerminalStatus } from './statuses.js';

export interface SweepOptions {
  cutoff: Date;
  statuses: readonly TerminalStatus[];
  /**
   * Runs per batch, or 'auto': the backend sizes each batch from what it measured of the previous
   * ones (Backend.nextBatchSize, within 1..MAX_BATCH_SIZE), and DEFAULT_BATCH_SIZE where it cannot.
   */
  batchSize: number | 'auto';
  dryRun: boolean;
  housekeeping: boolean;
  /** When set, also sweep per-run data without a run record that is older than this instant. */
  orphanCutoff?: Date;
  /** How long to wait for another sweep of the same store to finish. */
  lockWaitMs: number;
  signal: AbortSignal;
  now: () => Date;
  logger: Logger;
  onProgress?: (progress: SweepProgress) => void;
}

export type SweepPhase = 'runs' | 'housekeeping' | 'orphans' | 'done';

export interface SweepProgress {
  phase: SweepPhase;
  /** Candidate runs looked at so far, and the count expected at the start (0 when unknown). */
  runsSeen: number;
  runsExpected: number;
  deleted: KindCounts;
  elapsedMs: number;
}

export const MAX_BATCH_SIZE = 10_000;
/** Runs per batch when the user did not choose and the backend has no measure of its own. */
export const DEFAULT_BATCH_SIZE = 500;

/** Runs one sweep. Resolves with a report also when the sweep fails midway (outcome says so). */
export async function sweep(backend: Backend, options: SweepOptions): Promise<SweepReport> {
  const startedAt = options.now();
  assertSafeCutoff(options.cutoff, startedAt);
  if (options.batchSize !== 'auto' && (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > MAX_BATCH_SIZE)) {
    throw new RetentionError('INVALID_INPUT', `batch size must be an integer from 1 to ${MAX_BATCH_SIZE}`, { exitCode: 2 });
  }
  if (options.statuses.length === 0) throw new RetentionError('INVALID_INPUT', 'no statuses selected', { exitCode: 2 });
  // Asked-for work that a backend cannot do is refused up front, never silently skipped.
  if (options.orphanCutoff && !backend.sweepOrphans) {
    throw new RetentionError('INVALID_INPUT', `--orphans is not supported for ${backend.type} stores by this release; nothing was deleted`, { exitCode: 2 });
  }

  // Housekeeping and the orphan sweep keep fixed batches: their rows are few and small.
  const fixedBatchSize = options.batchSize === 'auto' ? DEFAULT_BATCH_SIZE : options.batchSize;
  const deleted = zeroCounts();
  const state = { schemaVersion: '', keptForChildren: 0, runsSeen: 0, runsExpected: 0 };
  const progress = (phase: SweepPhase): void =>
    options.onProgress?.({
      phase,
      runsSeen: state.runsSeen,
      runsExpected: state.runsExpected,
      deleted: { ...deleted },
      elapsedMs: options.now().getTime() - startedAt.getTime(),
    });

  const skippedUnsafe = (): number => backend.skippedUnsafe?.() ?? 0;
  const report = (outcome: SweepReport['outcome'], error?: RetentionError): SweepReport => {
    const finishedAt = options.now();
    return {
      resultVersion: 1,
      outcome,
      backend: backend.type,
      cutoff: options.cutoff.toISOString(),
      dryRun: options.dryRun,
      statuses: [...options.statuses],
      housekeeping: options.housekeeping,
      schemaVersion: state.schemaVersion,
      deleted,
      keptForChildren: state.keptForChildren,
      // Only when there were any: a result without the field parses with every controller release.
      ...(skippedUnsafe() > 0 ? { skippedUnsafe: skippedUnsafe() } : {}),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.max(0, finishedAt.getTime() - startedAt.getTime()),
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    };
  };

  try {
    await backend.open();
    const layout = await backend.detectLayout();
    state.schemaVersion = layout.schemaVersion;
    options.logger.info('store layout', { backend: backend.target, schemaVersion: layout.schemaVersion, ...layout.details });
    if (layout.empty) {
      options.logger.info('store holds no run data (incomplete initialisation); nothing to do');
      progress('done');
      return report('succeeded');
    }
    const lock = await backend.acquireSweepLock(options.lockWaitMs, { dryRun: options.dryRun });
    try {
      await purgeCandidates(backend, options, deleted, state, progress);
      if (options.housekeeping) {
        throwIfAborted(options.signal);
        progress('housekeeping');
        await backend.housekeep({
          cutoff: options.cutoff,
          batchSize: fixedBatchSize,
          dryRun: options.dryRun,
          signal: options.signal,
          onBatch: (c) => {
            addCounts(deleted, c);
            progress('housekeeping');
          },
        });
      }
      if (options.orphanCutoff && backend.sweepOrphans) {
        throwIfAborted(options.signal);
        progress('orphans');
        await backend.sweepOrphans({
          cutoff: options.cutoff,
          orphanCutoff: options.orphanCutoff,
          batchSize: fixedBatchSize,
          dryRun: options.dryRun,
          signal: options.signal,
          onBatch: (c) => {
            addCounts(deleted, c);
            progress('orphans');
          },
        });
      }
    } finally {
      await lock.release();
    }
    progress('done');
    return report('succeeded');
  } catch (err) {
    const error =
      err instanceof RetentionError ? err : new RetentionError('BACKEND_ERROR', `${backend.target}: ${errorMessage(err)}`, { cause: err });
    options.logger.error('sweep stopped', { code: error.code, error: error.message });
    return report(error instanceof CancelledError ? 'cancelled' : 'failed', error);
  } finally {
    await backend.close().catch((e: unknown) => options.logger.warn('closing the backend failed', { error: errorMessage(e) }));
  }
}

async function purgeCandidates(
  backend: Backend,
  options: SweepOptions,
  deleted: KindCounts,
  state: { keptForChildren: number; runsSeen: number; runsExpected: number },
  progress: (phase: SweepPhase) => void,
): Promise<void> {
  const selection: Selection = { statuses: new Set(options.statuses), cutoff: options.cutoff };
  const auto = options.batchSize === 'auto';
  const batchSize = (): number => {
    if (!auto) return options.batchSize as number;
    const hint = backend.nextBatchSize?.() ?? DEFAULT_BATCH_SIZE;
    return Math.max(1, Math.min(MAX_BATCH_SIZE, Math.floor(hint)));
  };
  // In auto mode pages stay at the default size and batches gather as many pages as they need.
  const query: CandidateQuery = { statuses: options.statuses, cutoff: options.cutoff, pageSize: auto ? DEFAULT_BATCH_SIZE : batchSize() };
  state.runsExpected = await backend.countCandidates(query);
  progress('runs');

  // Runs already purged in this sweep ahead of their turn (descendants of an earlier root), so a
  // later page that still lists them does not count them again (this matters in a dry run).
  const handled = new Set<string>();
  let pending: RunState[] = [];

  const flush = async (): Promise<void> => {
    const roots = pending.filter((r) => !handled.has(r.runId) && isCandidate(r, selection));
    pending = [];
    if (roots.length === 0) return;
    // A backend with a synchronous driver (better-sqlite3) never returns to the event loop on its
    // own: without this, SIGTERM/SIGINT and the --max-duration timer could not fire until the sweep
    // had finished. One macrotask turn per batch lets them abort the signal before the next batch.
    await yieldToEventLoop();
    throwIfAborted(options.signal);
    const tree = await loadDescendants(backend, roots, handled);
    const decision = decideBatch(roots, (id) => tree.get(id) ?? [], selection);
    state.keptForChildren += decision.keptForChildren.length;
    if (decision.purge.length === 0) return;
    const batch: PurgeBatch = {
      runs: decision.purge,
      // A child purged earlier in this sweep is no outside child (a dry run still sees it).
      confirm: (current, outside) =>
        confirmBatch(
          decision.purge,
          current,
          new Set(outside.filter((c) => !handled.has(c.runId) && c.parentRunId !== null).map((c) => c.parentRunId!)),
          selection,
        ),
    };
    let result: PurgeResult;
    try {
      result = await backend.purgeRuns(batch, { dryRun: options.dryRun, signal: options.signal });
    } catch (err) {
      if (!(err instanceof IncompleteBatchError)) throw err;
      // Part of the batch is gone for good (committed transactions, acknowledged deletes): count it
      // before reporting why the batch stopped, or the result and every later sweep under-report.
      for (const id of err.done.purgedRunIds) handled.add(id);
      addCounts(deleted, err.done.counts);
      progress('runs');
      throw err.cause;
    }
    options.logger.debug('batch', { runs: batch.runs.length, purged: result.purgedRunIds.length });
    for (const id of result.purgedRunIds) handled.add(id);
    addCounts(deleted, result.counts);
    progress('runs');
  };

  let size = batchSize();
  let extended = false;
  for await (const page of backend.candidates(query)) {
    for (const run of page) {
      state.runsSeen += 1;
      pending.push(run);
      if (pending.length >= size) {
        // Auto sizes: a last batch of a few runs would pay a whole batch's fixed cost (SQLite: the
        // pages nearly every batch rewrites) for them; up to a quarter more in this one is cheaper.
        const left = state.runsExpected - state.runsSeen;
        if (auto && !extended && left > 0 && left <= size / 4 && size + left <= MAX_BATCH_SIZE) {
          size += left;
          extended = true;
          continue;
        }
        await flush();
        size = batchSize();
        extended = false;
      }
    }
  }
  await flush();
}

/**
 * Loads every descendant of the roots, level by level, keyed by parent id. Runs purged earlier in
 * this sweep are left out: in a real sweep they are gone already, and a dry run must see the same.
 */
async function loadDescendants(backend: Backend, roots: readonly RunState[], handled: ReadonlySet<string>): Promise<Map<string, RunState[]>> {
  const tree = new Map<string, RunState[]>();
  const seen = new Set(roots.map((r) => r.runId));
  let level = roots.map((r) => r.runId);
  while (level.length > 0) {
    const children = await backend.children(level);
    const next: string[] = [];
    for (const child of children) {
      if (child.parentRunId === null || handled.has(child.runId)) continue;
      const siblings = tree.get(child.parentRunId) ?? [];
      siblings.push(child);
      tree.set(child.parentRunId, siblings);
      if (!seen.has(child.runId)) {
        seen.add(child.runId);
        next.push(child.runId);
      }
    }
    level = next;
  }
  return tree;
}

/** Lets timers, signal handlers and I/O callbacks run (setImmediate: after the poll phase of a loop turn). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    throw new CancelledError(reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'stop requested');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
