// The `file` backend: pyworkflow's FileStorageBackend directory (runs/, events/, hooks/, ... and .locks/),
// purged in cooperation with live pyworkflow processes through the same flock(2) lock files they take.

import { SweepLockedError } from '../../errors.js';
import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { acquire, FlockTimeoutError } from '../flock.js';
import { removeStaleTempFiles } from './atomic-write.js';
import type { FileConfig } from './config.js';
import { UnsafeIds, unusable } from './containment.js';
import { housekeepFiles } from './housekeeping.js';
import { detectFileLayout, FilePaths, type FileLayout } from './layout.js';
import { Locker } from './locker.js';
import { runLock, SWEEP_LOCK } from './locks.js';
import { sweepFileOrphans } from './orphans.js';
import { purgeBatch, type PurgeContext } from './purge.js';
import { RunDataIndex } from './run-data-index.js';
import { readRunFile, type RunRead } from './run-file.js';
import { RunSnapshot } from './run-snapshot.js';
import { TokenIndexFile } from './token-index.js';

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A second look at an unreadable run file waits at most this long for its writer. */
const REREAD_WAIT_MS = 2_000;

export class FileBackend implements Backend {
  readonly type = 'file';
  readonly target: string;
  private readonly paths: FilePaths;
  private readonly lockTimeoutMs: number;
  /** Set by acquireSweepLock: a dry run writes nothing, not even a lock file. */
  private dryRun = false;
  private unsafe: UnsafeIds;
  private layout: FileLayout | null = null;
  private snapshot: RunSnapshot | null = null;
  private index: RunDataIndex | null = null;
  private tokenIndex: TokenIndexFile | null = null;

  constructor(
    config: FileConfig,
    private readonly deps: BackendDeps,
  ) {
    this.paths = new FilePaths(config.base_path);
    this.target = `file ${config.base_path}`;
    this.lockTimeoutMs = config.lock_timeout_ms ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.unsafe = new UnsafeIds(deps.logger);
  }

  /** A sweep starts afresh: its own count of unsafe ids. */
  async open(): Promise<void> {
    this.unsafe = new UnsafeIds(this.deps.logger);
  }

  skippedUnsafe(): number {
    return this.unsafe.count;
  }

  private get locker(): Locker {
    return new Locker(this.paths, this.lockTimeoutMs, this.dryRun);
  }

  /** Drops what one sweep cached: a backend reused for another sweep scans afresh. */
  async close(): Promise<void> {
    this.snapshot = null;
    this.index = null;
    this.tokenIndex = null;
  }

  async detectLayout(): Promise<StoreLayout> {
    this.layout = detectFileLayout(this.paths, this.target);
    return this.layout;
  }

  async acquireSweepLock(waitMs: number, options: { dryRun: boolean } = { dryRun: false }): Promise<SweepLock> {
    this.dryRun = options.dryRun;
    let lock;
    try {
      // A dry run waits for a running sweep too, but opens the lock file read-only and creates none.
      lock = await acquire(this.paths.lock(SWEEP_LOCK), { timeoutMs: waitMs, readOnly: options.dryRun });
    } catch (err) {
      if (err instanceof FlockTimeoutError) throw new SweepLockedError(this.target, err.waitedMs);
      throw unusable(this.paths.lock(SWEEP_LOCK), err, 'lock file');
    }
    if (options.dryRun) return { release: async () => lock.release() };
    // Only a sweep writes temp files, and only while holding this lock: any found now are a killed sweep's.
    const stale = removeStaleTempFiles(this.paths.base) + removeStaleTempFiles(this.paths.signals);
    if (stale > 0) this.deps.logger.info('removed temp files of an interrupted sweep', { files: stale });
    // Never removed: a waiting sweep may have it open, and it is ours alone.
    return { release: async () => lock.release() };
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    return (await this.runs()).candidateIds(query).length;
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    const snapshot = await this.runs();
    const ids = snapshot.candidateIds(query);
    for (let from = 0; from < ids.length; from += query.pageSize) {
      // Runs purged since the list was made (as an earlier root's descendants) are no longer in the snapshot.
      const page = ids.slice(from, from + query.pageSize).flatMap((id) => snapshot.get(id) ?? []);
      if (page.length > 0) yield page;
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    return (await this.runs()).children(parentRunIds);
  }

  async purgeRuns(batch: PurgeBatch, options: { dryRun: boolean }): Promise<PurgeResult> {
    return purgeBatch(await this.purgeContext(), batch, options.dryRun);
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    const layout = this.layout ?? detectFileLayout(this.paths, this.target);
    await housekeepFiles({ paths: this.paths, locker: this.locker, logger: this.deps.logger, streams: layout.streams, unsafe: this.unsafe }, request);
  }

  /** Per-run data without a run file (H24), from the same per-sweep listings as the run purge. */
  async sweepOrphans(request: OrphanRequest): Promise<void> {
    await sweepFileOrphans(await this.purgeContext(), request);
  }

  /** The listings of this sweep (runs, hooks, steps, checkpoints, lock files), made on first use. */
  private async purgeContext(): Promise<PurgeContext> {
    const snapshot = await this.runs();
    this.index ??= RunDataIndex.load(this.paths, this.deps.logger, this.unsafe);
    this.tokenIndex ??= new TokenIndexFile(this.paths);
    return {
      paths: this.paths, locker: this.locker, snapshot, index: this.index, tokenIndex: this.tokenIndex, unsafe: this.unsafe, logger: this.deps.logger,
    };
  }

  private async runs(): Promise<RunSnapshot> {
    this.snapshot ??= await RunSnapshot.load(this.paths, this.deps.logger, this.unsafe, (id) => this.rereadLocked(id));
    return this.snapshot;
  }

  private async rereadLocked(runId: string): Promise<RunRead> {
    const lock = await new Locker(this.paths, REREAD_WAIT_MS, this.dryRun).take(runLock(runId));
    try {
      return readRunFile(this.paths.runFile(runId), runId);
    } finally {
      lock?.release();
    }
  }
}
