// Stream and schedule housekeeping of the file store (docs/storage.md#housekeeping, H10, H11) with the
// shared rules of engine/housekeeping.ts, each file under the lock pyworkflow's writers take for it.
// Signals first, then acknowledgments (never before their signal), subscriptions, soft-deleted schedules.

import { join } from 'node:path';
import {
  isPurgeableAcknowledgment, isPurgeableSchedule, isPurgeableSignal, isPurgeableSubscription,
} from '../../engine/housekeeping.js';
import type { Logger } from '../../log.js';
import type { HousekeepingRequest } from '../backend.js';
import { parsePythonTimestamp } from '../python-time.js';
import { writeFileAtomic } from './atomic-write.js';
import { jsonFiles, readJsonObject, type JsonRead } from './json-files.js';
import { readStoreText, type UnsafeIds } from './containment.js';
import type { FilePaths } from './layout.js';
import type { Locker } from './locker.js';
import { scheduleLock, signalsLock, subscriptionLock } from './locks.js';
import { CancelledError } from '../../errors.js';
import { joinArray, rawArrayElements } from './raw-json.js';
import { removeFile } from './removal.js';

export interface HousekeepingContext {
  paths: FilePaths;
  locker: Locker;
  logger: Logger;
  /** v0.2.4+ layout: streams, signals, subscriptions, acknowledgments exist. */
  streams: boolean;
  unsafe: UnsafeIds;
}

export async function housekeepFiles(ctx: HousekeepingContext, request: HousekeepingRequest): Promise<void> {
  if (ctx.streams) {
    const remainingSignals = await pruneSignals(ctx, request);
    if (remainingSignals === null) {
      ctx.logger.warn('acknowledgments left alone this time: a signals file could not be read, so which signals remain is unknown');
    } else {
      await pruneAcknowledgments(ctx, request, remainingSignals);
    }
    await pruneRecords(ctx, request, ctx.paths.subscriptions, 'streamRecords', (data) => {
      const createdAt = parsePythonTimestamp(data.created_at);
      if (typeof data.status !== 'string' || createdAt === null || typeof data.stream_id !== 'string' || typeof data.step_run_id !== 'string') return null;
      return isPurgeableSubscription({ status: data.status, created_at: createdAt }, request.cutoff)
        ? subscriptionLock(data.stream_id, data.step_run_id)
        : null;
    });
  }
  await pruneRecords(ctx, request, ctx.paths.schedules, 'schedules', (data, name) => {
    // File schedules have no deleted_at (H10); honour one if a store has it, as pyworkflow's code does.
    const updatedAt = parsePythonTimestamp(data.updated_at);
    const deletedAt = parsePythonTimestamp(data.deleted_at);
    if (typeof data.status !== 'string' || updatedAt === null) return null;
    return isPurgeableSchedule({ status: data.status, deleted_at: deletedAt, updated_at: updatedAt }, request.cutoff)
      ? scheduleLock(name.slice(0, -'.json'.length))
      : null;
  });
}

/**
 * Rewrites each `signals/{stream_id}.json` without its old signals, keeping the newest of every stream
 * run, under `signals_{stream_id}.lock` (publishers read-modify-write the array under it). Returns the
 * ids of the signals that remain, or null when some file could not be read.
 */
async function pruneSignals(ctx: HousekeepingContext, request: HousekeepingRequest): Promise<Set<string> | null> {
  const remaining = new Set<string>();
  let complete = true;
  for (const name of jsonFiles(ctx.paths.signals)) {
    stopIfAborted(request.signal);
    const streamId = name.slice(0, -'.json'.length);
    const lock = request.dryRun ? null : await ctx.locker.take(signalsLock(streamId));
    if (!request.dryRun && !lock) {
      ctx.logger.warn('signals lock stayed taken; stream skipped', { stream: streamId });
      complete = false;
      continue;
    }
    try {
      const path = join(ctx.paths.signals, name);
      // Never through a symlink: a linked signals file would be read (and rewritten) outside the store.
      const read = readStoreText(path);
      if (read === null) continue;
      const text = read.text;
      let raw: string[];
      try {
        raw = text.trim() === '' ? [] : rawArrayElements(text);
      } catch {
        ctx.logger.warn('signals file cannot be parsed; left as is', { file: `signals/${name}` });
        complete = false;
        continue;
      }
      const signals = raw.map((r) => JSON.parse(r) as unknown);
      const { keep, removed } = selectSignals(signals, request.cutoff);
      for (let i = 0; i < signals.length; i++) {
        const id = (signals[i] as { signal_id?: unknown } | null)?.signal_id;
        if (keep[i] && typeof id === 'string') remaining.add(id);
      }
      if (removed > 0) {
        if (!request.dryRun) {
          const warning = writeFileAtomic(path, joinArray(raw.filter((_, i) => keep[i])));
          if (warning) ctx.logger.warn(warning);
        }
        request.onBatch({ streamRecords: removed });
      }
    } finally {
      lock?.release();
    }
  }
  return complete ? remaining : null;
}

/** Which signals of one stream file stay. Anything that does not look like a signal stays. */
function selectSignals(signals: readonly unknown[], cutoff: Date): { keep: boolean[]; removed: number } {
  // pyworkflow numbers per stream run: max(sequence) + 1 over signals with the same stream_run_id
  // (a missing key counts as "").
  const runKey = (s: Record<string, unknown>): string => JSON.stringify(s.stream_run_id === undefined ? '' : s.stream_run_id);
  const newest = new Map<string, number>();
  for (const s of signals) {
    if (s === null || typeof s !== 'object' || typeof (s as Record<string, unknown>).sequence !== 'number') continue;
    const o = s as Record<string, unknown>;
    newest.set(runKey(o), Math.max(newest.get(runKey(o)) ?? -Infinity, o.sequence as number));
  }
  let removed = 0;
  const keep = signals.map((s) => {
    if (s === null || typeof s !== 'object') return true;
    const o = s as Record<string, unknown>;
    const publishedAt = parsePythonTimestamp(o.published_at);
    if (typeof o.sequence !== 'number' || publishedAt === null) return true;
    const purge = isPurgeableSignal(
      { stream_id: '', stream_run_id: runKey(o), sequence: o.sequence, published_at: publishedAt },
      (_stream, key) => newest.get(key) ?? -Infinity,
      cutoff,
    );
    if (purge) removed += 1;
    return !purge;
  });
  return { keep, removed };
}

/** Old acknowledgments whose signal is gone. pyworkflow writes these files without a lock. */
async function pruneAcknowledgments(ctx: HousekeepingContext, request: HousekeepingRequest, remainingSignals: ReadonlySet<string>): Promise<void> {
  let pending = 0;
  try {
    for (const name of jsonFiles(ctx.paths.acknowledgments)) {
      const path = join(ctx.paths.acknowledgments, name);
      const read = readJsonObject(path);
      if (read.kind !== 'ok') continue;
      const acknowledgedAt = parsePythonTimestamp(read.data.acknowledged_at);
      const signalId = read.data.signal_id;
      if (acknowledgedAt === null || typeof signalId !== 'string') continue;
      if (!isPurgeableAcknowledgment({ signal_id: signalId, acknowledged_at: acknowledgedAt }, (id) => remainingSignals.has(id), request.cutoff)) continue;
      if (removeFile(path, request.dryRun)) pending += 1;
      if (pending >= request.batchSize) {
        request.onBatch({ streamRecords: pending });
        pending = 0;
        stopIfAborted(request.signal);
      }
    }
  } finally {
    // Also when a file failed midway: what was deleted is reported with the failure.
    if (pending > 0) request.onBatch({ streamRecords: pending });
  }
}

/**
 * Deletes the records of one directory that `lockFor` selects (it returns the lock to take, or null to
 * keep the record): read, lock, read again under the lock and re-check, delete, then remove the lock
 * file, which guarded only this record.
 */
async function pruneRecords(
  ctx: HousekeepingContext,
  request: HousekeepingRequest,
  dir: string,
  kind: 'streamRecords' | 'schedules',
  lockFor: (data: Record<string, unknown>, name: string) => string | null,
): Promise<void> {
  let pending = 0;
  const selected = (read: JsonRead, name: string): string | null => (read.kind === 'ok' ? lockFor(read.data, name) : null);
  try {
    for (const name of jsonFiles(dir)) {
      const path = join(dir, name);
      const lockName = selected(readJsonObject(path), name);
      if (lockName === null) continue;
      // Subscription lock names come from the file's content: one that is no plain name is never used.
      if (!ctx.unsafe.check(lockName, `the lock name from ${path}`)) continue;
      if (request.dryRun) {
        pending += 1;
      } else {
        const lock = await ctx.locker.take(lockName);
        if (!lock) {
          ctx.logger.warn('lock stayed taken; record kept for the next sweep', { file: path, lock: lockName });
          continue;
        }
        try {
          if (selected(readJsonObject(path), name) === lockName && removeFile(path, false)) {
            pending += 1;
            lock.removeAndRelease();
          }
        } finally {
          lock.release();
        }
      }
      if (pending >= request.batchSize) {
        request.onBatch({ [kind]: pending });
        pending = 0;
        stopIfAborted(request.signal);
      }
    }
  } finally {
    if (pending > 0) request.onBatch({ [kind]: pending });
  }
}

/** Between batches: a stop request ends the housekeeping with everything so far complete. */
function stopIfAborted(signal: AbortSignal): void {
  if (!signal.aborted) return;
  const reason: unknown = signal.reason;
  throw new CancelledError(reason instanceof Error ? reason.message : 'stop requested');
}
