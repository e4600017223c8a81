// One batch of the file backend's purge (docs/storage.md#purge-order): lock and re-read the runs,
// let the engine confirm them, delete each run's files under pyworkflow's own locks, the hook tokens
// once per batch, and the run files last, children before parents. Killed at any instant, every run
// whose run file is still there is found again by the next sweep, which finishes it.

import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { KindCounts } from '../../engine/records.js';
import { IncompleteBatchError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import type { FlockHandle } from '../flock.js';
import { unreadable, type UnsafeIds } from './containment.js';
import type { FilePaths } from './layout.js';
import type { Locker } from './locker.js';
import { cancelLock, checkpointLock, eventsLock, hookLock, runLock, TOKEN_INDEX_LOCK } from './locks.js';
import { countEventLines, forEachConcurrently, removeFileAsync } from './removal.js';
import type { HookFile, RunDataIndex } from './run-data-index.js';
import { readRunFile } from './run-file.js';
import type { RunSnapshot } from './run-snapshot.js';
import type { TokenIndexFile } from './token-index.js';

export interface PurgeContext {
  paths: FilePaths;
  locker: Locker;
  snapshot: RunSnapshot;
  index: RunDataIndex;
  tokenIndex: TokenIndexFile;
  unsafe: UnsafeIds;
  logger: Logger;
}

type Counts = Pick<KindCounts, 'runs' | 'events' | 'steps' | 'hooks' | 'cancellationFlags' | 'checkpoints'>;

/** Runs (or hooks) worked on at once: their file deletions overlap, see removeFileAsync. */
const CONCURRENCY = 16;

export async function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean): Promise<PurgeResult> {
  const counts: Counts = { runs: 0, events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 };
  const done = { counts, purgedRunIds: [] as string[] };
  try {
    return await purgeLocked(ctx, batch, dryRun, done);
  } catch (err) {
    // Whatever the batch deleted before it failed is reported with the failure.
    throw new IncompleteBatchError(err, done);
  }
}

async function purgeLocked(
  ctx: PurgeContext,
  batch: PurgeBatch,
  dryRun: boolean,
  { counts, purgedRunIds }: { counts: Counts; purgedRunIds: string[] },
): Promise<PurgeResult> {
  const runLocks = new Map<string, FlockHandle>();
  try {
    const current = await lockAndReread(ctx, batch.runs, runLocks);
    const confirmed = batch.confirm(current, await outsideChildren(ctx, batch.runs));
    const keep = new Set(confirmed.map((r) => r.runId));
    for (const [id, lock] of runLocks) {
      if (!keep.has(id)) {
        lock.release();
        runLocks.delete(id);
      }
    }
    if (confirmed.length === 0) return { counts, purgedRunIds: [] };

    // A run whose dependents could not all be locked keeps its run file, and so do its ancestors:
    // a parent never goes before its child.
    const stuck = new Set<string>();
    await forEachConcurrently(confirmed, CONCURRENCY, async (run) => {
      if (!(await purgeOwnFiles(ctx, run, counts, dryRun))) stuck.add(run.runId);
    });
    if (!(await purgeHooksAndTokens(ctx, confirmed.filter((r) => !stuck.has(r.runId)), counts, dryRun))) {
      for (const r of confirmed) stuck.add(r.runId);
    }

    // Run files last, in waves: a run's file goes only after the files of all its children in the batch.
    for (const wave of childrenFirstWaves(confirmed)) {
      const ready = wave.filter((run) => {
        if (!stuck.has(run.runId)) return true;
        if (run.parentRunId !== null) stuck.add(run.parentRunId);
        return false;
      });
      await forEachConcurrently(ready, CONCURRENCY, async (run) => {
        if (await removeFileAsync(ctx.paths.runFile(run.runId), dryRun)) {
          counts.runs += 1;
          purgedRunIds.push(run.runId);
        }
      });
      for (const run of ready) {
        const lock = runLocks.get(run.runId)!;
        runLocks.delete(run.runId);
        if (dryRun) {
          lock.release();
        } else {
          lock.removeAndRelease(); // the run file is gone: nothing is left for this lock to protect
          ctx.snapshot.forget(run.runId);
          ctx.index.forget(run.runId);
        }
      }
    }
    if (stuck.size > 0) ctx.logger.warn('runs left for the next sweep: a lock on their files stayed taken', { runs: [...stuck].slice(0, 20) });
    return { counts, purgedRunIds };
  } finally {
    for (const lock of runLocks.values()) lock.release();
  }
}

/** Takes each run's `{run_id}.lock` (sorted, one order for every sweep) and reads the run file under it. */
async function lockAndReread(ctx: PurgeContext, runs: readonly RunState[], held: Map<string, FlockHandle>): Promise<RunState[]> {
  const current: RunState[] = [];
  for (const planned of [...runs].sort((a, b) => (a.runId < b.runId ? -1 : 1))) {
    const lock = await ctx.locker.take(runLock(planned.runId));
    if (!lock) {
      ctx.logger.warn('run lock stayed taken; run kept for the next sweep', { run: planned.runId, waitedMs: ctx.locker.timeoutMs });
      // Unreadable = never purged, and confirm keeps its ancestors too.
      current.push({ ...planned, updatedAt: null });
      continue;
    }
    held.set(planned.runId, lock);
    const read = readRunFile(ctx.paths.runFile(planned.runId), planned.runId);
    if (read.kind === 'missing') continue;
    if (read.kind === 'invalid') ctx.logger.warn('run file cannot be read; it is never purged', { file: `runs/${planned.runId}.json`, reason: read.reason });
    current.push(read.run);
  }
  return current;
}

/** Runs whose parent is in the batch but which are not in it, as the disk says now (runs created since the scan included, see refresh). */
async function outsideChildren(ctx: PurgeContext, runs: readonly RunState[]): Promise<RunState[]> {
  await ctx.snapshot.refresh();
  const inBatch = new Set(runs.map((r) => r.runId));
  return ctx.snapshot.children([...inBatch]).filter((child) => !inBatch.has(child.runId) && existsSync(ctx.paths.runFile(child.runId)));
}

/**
 * Checkpoints, steps, the event log and the cancellation flag of one run, under the locks pyworkflow's
 * writers take for them. Every lock is taken and every file read before the first delete: a lock file
 * or a file that cannot be used fails the sweep (naming it) with nothing of this run deleted. False
 * when a lock could not be had (the run is left for later).
 */
async function purgeOwnFiles(ctx: PurgeContext, run: RunState, counts: Counts, dryRun: boolean): Promise<boolean> {
  const { paths } = ctx;
  const { runId } = run;
  const files = ctx.index.of(runId);
  const cancelFile = paths.cancelFile(runId);
  // From the directory listings rather than two stats per run. A flag set after the last listing
  // can only come from cancel_workflow, which refuses finished runs but not `interrupted` ones.
  const flagged = ctx.snapshot.hasCancelFlag(runId) || ctx.index.hasLockFile(cancelLock(runId)) || (run.status === 'interrupted' && existsSync(cancelFile));
  // A dry run only reads, and takes no lock, so it creates no lock file either.
  const lockNames = dryRun ? [] : [...files.checkpoints.map(checkpointLock), eventsLock(runId), ...(flagged ? [cancelLock(runId)] : [])];
  const held: FlockHandle[] = [];
  try {
    for (const name of lockNames) {
      const lock = await ctx.locker.take(name);
      if (!lock) return false;
      held.push(lock);
    }
    const checkpointFiles = files.checkpoints.map((key) => paths.in(paths.checkpoints, `${key}.json`));
    const stepFiles = files.steps.map((name) => paths.in(paths.steps, name)); // pyworkflow takes no lock for steps
    // Hook files go later, with the batch's tokens: checked now, so that one which cannot go fails the run before any of its files did.
    const hookFiles = files.hooks.map((hook) => paths.in(paths.hooks, hook.name));
    for (const path of [...checkpointFiles, ...stepFiles, ...hookFiles, ...(flagged ? [cancelFile] : [])]) assertRemovable(path);
    const eventsFile = paths.eventsFile(runId);
    const events = countEventLines(eventsFile);

    for (const path of checkpointFiles) if (await removeFileAsync(path, dryRun)) counts.checkpoints += 1;
    for (const path of stepFiles) if (await removeFileAsync(path, dryRun)) counts.steps += 1;
    if (await removeFileAsync(eventsFile, dryRun)) counts.events += events;
    if (flagged && (await removeFileAsync(cancelFile, dryRun))) counts.cancellationFlags += 1;
    // The records these locks guarded are gone: unlinking while holding them is the one safe moment
    // (see FlockHandle.removeAndRelease).
    for (const lock of held.splice(0)) lock.removeAndRelease();
    return true;
  } finally {
    for (const lock of held) lock.release();
  }
}

/** Throws (naming it) when `path` is something unlink cannot remove as a file: a directory. */
function assertRemovable(path: string): void {
  if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw unreadable(path, Object.assign(new Error('a directory'), { code: 'EISDIR' }));
  }
}

/**
 * Hook files of the batch and their tokens, all under `token_index.lock` (pyworkflow's create_hook
 * writes both under it), each hook file also under its status-update lock. The token index is
 * rewritten once per batch. False when a lock could not be had.
 */
async function purgeHooksAndTokens(ctx: PurgeContext, runs: readonly RunState[], counts: Counts, dryRun: boolean): Promise<boolean> {
  const hooks = runs.flatMap((run) => ctx.index.of(run.runId).hooks);
  if (runs.length === 0 || dryRun) {
    // Nothing to rewrite in a dry run, and tokens are index rows, never counted: only the hook files matter.
    for (const hook of hooks) if (await removeFileAsync(join(ctx.paths.hooks, hook.name), true)) counts.hooks += 1;
    return true;
  }
  const indexLock = await ctx.locker.take(TOKEN_INDEX_LOCK);
  if (!indexLock) {
    ctx.logger.warn('token_index.lock stayed taken; the batch is left for the next sweep', { waitedMs: ctx.locker.timeoutMs });
    return false;
  }
  try {
    // The hook lock is shared by every run whose hook has the same id: one task per lock name, so a
    // name is never taken twice at once; each is taken briefly and never removed.
    const byLock = new Map<string, HookFile[]>();
    for (const hook of hooks) byLock.set(hookLock(hook.hookId), [...(byLock.get(hookLock(hook.hookId)) ?? []), hook]);
    let locked = true;
    await forEachConcurrently([...byLock], CONCURRENCY, async ([name, group]) => {
      const lock = await ctx.locker.take(name);
      if (!lock) {
        locked = false;
        return;
      }
      try {
        for (const hook of group) if (await removeFileAsync(join(ctx.paths.hooks, hook.name), false)) counts.hooks += 1;
      } finally {
        lock.release();
      }
    });
    if (!locked) return false;
    const legacyTokens = new Set(hooks.flatMap((h) => (h.legacyToken === null ? [] : [h.legacyToken])));
    ctx.tokenIndex.removeRunTokensOrWarn(new Set(runs.map((r) => r.runId)), legacyTokens, ctx.logger);
    return true;
  } finally {
    indexLock.release();
  }
}

/** The batch (children before parents) in waves: leaves first, then runs whose batch children are all in earlier waves. */
export function childrenFirstWaves(runs: readonly RunState[]): RunState[][] {
  const height = new Map<string, number>();
  for (const run of runs) {
    // Children come first, so every child's height is known when its parent is reached.
    if (!height.has(run.runId)) height.set(run.runId, 0);
    if (run.parentRunId !== null) height.set(run.parentRunId, Math.max(height.get(run.parentRunId) ?? 0, height.get(run.runId)! + 1));
  }
  const waves: RunState[][] = [];
  for (const run of runs) (waves[height.get(run.runId)!] ??= []).push(run);
  return waves.filter((w) => w !== undefined);
}
