// The file store's orphan sweep (docs/storage.md H24, semantics in backend.ts at OrphanRequest):
// per batch of orphan run ids, each group is dated without locks (young groups cost no lock), then
// under the run's lock (pyworkflow's create_run writes the run file under it, so no run record can
// appear meanwhile) and each record's own lock it is re-checked, re-dated and its files deleted; hook
// files and token entries last, under token_index.lock, as the run purge does.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KindCounts } from '../../engine/records.js';
import { CancelledError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { OrphanRequest } from '../backend.js';
import type { FlockHandle } from '../flock.js';
import type { UnsafeIds } from './containment.js';
import type { FilePaths } from './layout.js';
import type { Locker } from './locker.js';
import { cancelLock, checkpointLock, eventsLock, hookLock, runLock, TOKEN_INDEX_LOCK } from './locks.js';
import { hookNewestMs, orphanRunIds, readGroup, type GroupRead } from './orphan-groups.js';
import { forEachConcurrently, removeFileAsync } from './removal.js';
import type { HookFile, RunDataIndex } from './run-data-index.js';
import type { RunSnapshot } from './run-snapshot.js';
import type { TokenIndexFile } from './token-index.js';

export interface OrphanContext {
  paths: FilePaths;
  locker: Locker;
  snapshot: RunSnapshot;
  index: RunDataIndex;
  tokenIndex: TokenIndexFile;
  unsafe: UnsafeIds;
  logger: Logger;
}

type Counts = Pick<KindCounts, 'events' | 'steps' | 'hooks' | 'cancellationFlags' | 'checkpoints'>;

/** Groups worked on at once: their unlink waits overlap (see removeFileAsync). */
const CONCURRENCY = 16;

export async function sweepFileOrphans(ctx: OrphanContext, request: OrphanRequest): Promise<void> {
  // Runs created since the sweep listed runs/ are no orphans: a second listing reads only the new files.
  await ctx.snapshot.readNew();
  const owners = ctx.tokenIndex.ownerRunIds(ctx.unsafe);
  if (owners === null) ctx.logger.warn('_token_index.json cannot be parsed; orphan tokens are left in place');
  const ids = orphanRunIds(ctx.paths, ctx.snapshot, ctx.index, owners ?? new Set(), ctx.unsafe);
  const cutoffMs = request.orphanCutoff.getTime();
  for (let from = 0; from < ids.length; from += request.batchSize) {
    if (request.signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
    const counts: Counts = { events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 };
    try {
      await orphanBatch(ctx, ids.slice(from, from + request.batchSize), cutoffMs, request.dryRun, counts);
    } finally {
      // Also when the batch failed: what it deleted is reported with the failure.
      request.onBatch(counts);
    }
  }
}

async function orphanBatch(ctx: OrphanContext, ids: readonly string[], cutoffMs: number, dryRun: boolean, counts: Counts): Promise<void> {
  // A first look without any lock: a live stream step's group is young and is left alone right here.
  const old = ids.map((id) => readGroup(ctx.paths, id, ctx.index.of(id))).filter((g) => g.newestMs < cutoffMs);
  if (dryRun) {
    for (const g of old) addGroup(counts, g, g.hooks.length);
    return;
  }
  const runLocks = new Map<string, FlockHandle>();
  const ownFilesGone: GroupRead[] = [];
  try {
    await forEachConcurrently(old, CONCURRENCY, async (first) => {
      const lock = await ctx.locker.take(runLock(first.runId));
      if (!lock) {
        ctx.logger.warn('orphan group left for the next sweep: its run lock stayed taken', { runId: first.runId });
        return;
      }
      runLocks.set(first.runId, lock);
      if (existsSync(ctx.paths.runFile(first.runId))) {
        ctx.logger.info('orphan group kept: its run record appeared', { runId: first.runId });
        return;
      }
      const g = await purgeOwnFiles(ctx, first.runId, cutoffMs, counts);
      if (g !== null) ownFilesGone.push(g);
    });
    const clean = await purgeHooksAndTokens(ctx, ownFilesGone, cutoffMs, counts);
    for (const [id, lock] of runLocks) {
      // Nothing of the run is left for its lock to guard; a kept group keeps the lock file too.
      if (clean.has(id)) lock.removeAndRelease();
      else lock.release();
      if (clean.has(id)) ctx.index.forget(id);
    }
    runLocks.clear();
  } finally {
    for (const lock of runLocks.values()) lock.release();
  }
}

function addGroup(counts: Counts, g: GroupRead, hooks: number): void {
  counts.events += g.events;
  counts.steps += g.steps.length;
  counts.hooks += hooks;
  counts.cancellationFlags += g.cancelFlag ? 1 : 0;
  counts.checkpoints += g.checkpoints.length;
}

/**
 * Takes the locks pyworkflow's writers take for the group's event log, flag and checkpoints, dates the
 * group again under them and, if it is still old, deletes those files and its step files. The group as
 * deleted, or null when it stays (young now, or a lock stayed taken).
 */
async function purgeOwnFiles(ctx: OrphanContext, runId: string, cutoffMs: number, counts: Counts): Promise<GroupRead | null> {
  const listed = ctx.index.of(runId);
  // Always the event and flag locks: a file created since the listings is seen under them.
  const names = [eventsLock(runId), cancelLock(runId), ...listed.checkpoints.map(checkpointLock)];
  const held: FlockHandle[] = [];
  try {
    for (const name of names) {
      const lock = await ctx.locker.take(name);
      if (!lock) {
        ctx.logger.warn('orphan group left for the next sweep: a lock on its files stayed taken', { runId, lock: name });
        return null;
      }
      held.push(lock);
    }
    const g = readGroup(ctx.paths, runId, listed);
    if (g.newestMs >= cutoffMs) {
      ctx.logger.info('orphan group kept: a record of it is newer than the cutoff now', { runId });
      return null;
    }
    const { paths } = ctx;
    for (const key of g.checkpoints) if (await removeFileAsync(join(paths.checkpoints, `${key}.json`), false)) counts.checkpoints += 1;
    for (const name of g.steps) if (await removeFileAsync(join(paths.steps, name), false)) counts.steps += 1;
    if (g.eventsFile && (await removeFileAsync(paths.eventsFile(runId), false))) counts.events += g.events; // counted under its lock
    if (g.cancelFlag && (await removeFileAsync(paths.cancelFile(runId), false))) counts.cancellationFlags += 1;
    // The records these locks guarded are gone: unlinking while holding them is the one safe moment.
    for (const lock of held.splice(0)) lock.removeAndRelease();
    return g;
  } finally {
    for (const lock of held) lock.release();
  }
}

/**
 * Hook files of the groups, each re-dated under its status-update lock, and their token entries, all
 * under `token_index.lock` (create_hook writes hook file and token under it). Returns the run ids whose
 * hooks and tokens are all gone; a group with a hook that became young keeps it and its tokens.
 */
async function purgeHooksAndTokens(ctx: OrphanContext, groups: readonly GroupRead[], cutoffMs: number, counts: Counts): Promise<Set<string>> {
  const clean = new Set<string>();
  if (groups.length === 0) return clean;
  const indexLock = await ctx.locker.take(TOKEN_INDEX_LOCK);
  if (!indexLock) {
    ctx.logger.warn('token_index.lock stayed taken; orphan hooks and tokens are left for the next sweep', { waitedMs: ctx.locker.timeoutMs });
    return clean;
  }
  try {
    const young = new Set<string>();
    const byLock = new Map<string, { runId: string; hook: HookFile }[]>();
    for (const g of groups) {
      for (const hook of g.hooks) byLock.set(hookLock(hook.hookId), [...(byLock.get(hookLock(hook.hookId)) ?? []), { runId: g.runId, hook }]);
    }
    const legacyTokens = new Set<string>();
    await forEachConcurrently([...byLock], CONCURRENCY, async ([name, hooks]) => {
      const lock = await ctx.locker.take(name);
      if (!lock) {
        for (const h of hooks) young.add(h.runId); // kept, like a young one, for the next sweep
        return;
      }
      try {
        for (const { runId, hook } of hooks) {
          const newest = hookNewestMs(ctx.paths, hook);
          if (newest === null) continue;
          if (newest >= cutoffMs) {
            young.add(runId);
            continue;
          }
          if (await removeFileAsync(join(ctx.paths.hooks, hook.name), false)) counts.hooks += 1;
          if (hook.legacyToken !== null) legacyTokens.add(hook.legacyToken);
        }
      } finally {
        lock.release(); // shared by every run whose hook has this id: never removed
      }
    });
    for (const g of groups) if (!young.has(g.runId)) clean.add(g.runId);
    ctx.tokenIndex.removeRunTokensOrWarn(clean, legacyTokens, ctx.logger);
    return clean;
  } finally {
    indexLock.release();
  }
}
