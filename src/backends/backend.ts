// The one interface every storage backend implements. A backend knows how to find runs and
// delete (or count) one batch of them in its store; the sweep loop in src/engine owns the rest.

import type { KindCounts } from '../engine/records.js';
import type { TerminalStatus } from '../engine/statuses.js';
import type { Logger } from '../log.js';

/** What the engine needs to know about one run; backends read it from the run record. */
export interface RunState {
  runId: string;
  /** Exactly as stored. */
  status: string;
  /** null when the stored value cannot be read as an instant: such a run is never purged. */
  updatedAt: Date | null;
  parentRunId: string | null;
}

export interface StoreLayout {
  /** Human-readable layout version as found, e.g. "7" (schema_versions) or "21 tables". */
  schemaVersion: string;
  /** True when the store holds no run data by construction (e.g. a failed initialisation). */
  empty: boolean;
  /** Optional features found (tables, columns), logged for diagnosis. */
  details?: Record<string, string | number | boolean>;
}

export interface CandidateQuery {
  statuses: readonly TerminalStatus[];
  /** Runs whose updated_at is strictly before this instant are candidates. */
  cutoff: Date;
  /** How many runs one page of `candidates` should hold at most. */
  pageSize: number;
}

/**
 * A batch of runs the engine has decided to purge: every run in it is a candidate and has no
 * kept child. Ordered children before parents.
 */
export interface PurgeBatch {
  readonly runs: readonly RunState[];
  /**
   * Re-validates the batch against the runs read again under the backend's lock (the store may
   * have changed since the selection was read). `current` holds every run of the batch that still
   * exists; `outsideChildren` every run whose parent is in the batch but which is not itself in it
   * (only runId and parentRunId are read). Returns the runs still to purge, children before parents.
   * Backends must call it and purge only what it returns.
   */
  confirm(current: readonly RunState[], outsideChildren: readonly Pick<RunState, 'runId' | 'parentRunId'>[]): RunState[];
}

export interface PurgeOptions {
  dryRun: boolean;
  signal?: AbortSignal;
}

export interface PurgeResult {
  /** Records actually deleted (or, in a dry run, that would be), per kind. */
  counts: Partial<KindCounts>;
  /** Ids whose run record was deleted (or would be). */
  purgedRunIds: string[];
}

export interface HousekeepingRequest {
  cutoff: Date;
  batchSize: number;
  dryRun: boolean;
  signal: AbortSignal;
  /** Called after each batch with what it deleted (or, in a dry run, would delete). */
  onBatch(counts: Partial<KindCounts>): void;
}

/**
 * The orphan sweep (`--orphans`, docs/storage.md H24), the same in every backend that has one:
 * - an orphan group is every per-run record of one run_id that has no run record: events, steps,
 *   hooks and their token-index entries, the cancellation flag, checkpoints keyed `{run_id}:...`, and
 *   the backend's index rows/items/lock files of that run id. Stream-step checkpoints (no `:`) belong
 *   to no run and are never part of a group;
 * - age gate per group: it goes only when every record in it is older than `orphanCutoff`, dated by
 *   its own timestamp (newest event timestamp, hook created_at/received_at, step created_at/updated_at,
 *   flag created_at, checkpoint updated_at; file mtime only for a record without one). A record that
 *   cannot be dated keeps its group. Index entries have no date: they go with their group, and a group
 *   of index entries alone (tokens of a hook that is gone) goes. A live stream-step pseudo run is
 *   young, so it stays whole;
 * - the run record's absence is re-checked immediately before deleting (file: under the run's lock;
 *   elsewhere by a consistent read), and deletes are conditional where the store allows;
 * - counts go to events, steps, hooks, cancellationFlags and checkpoints; index entries are deleted
 *   but not counted, as for purged runs. Dry run: the same reads, exact counts, nothing deleted.
 *   `batchSize` groups per batch, `signal` checked between batches; a re-run finishes a killed sweep.
 */
export interface OrphanRequest extends HousekeepingRequest {
  /** Only groups whose every record is older than this (by its own timestamp) are orphan-swept. */
  orphanCutoff: Date;
}

export interface SweepLock {
  release(): Promise<void>;
}

export interface Backend {
  /** The `type` this backend implements, e.g. "sqlite". */
  readonly type: string;
  /** Where it points, redacted: safe for logs, errors and status (never a password). */
  readonly target: string;

  open(): Promise<void>;
  close(): Promise<void>;

  /** Reads the store's layout; throws UnknownSchemaError for a layout this release does not know. */
  detectLayout(): Promise<StoreLayout>;

  /**
   * Takes the store-wide sweep lock, waiting at most `waitMs`; throws SweepLockedError after that.
   * With `dryRun` the backend must write nothing to take it (a dry run works on a read-only store).
   */
  acquireSweepLock(waitMs: number, options?: { dryRun: boolean }): Promise<SweepLock>;

  /** How many runs match the query now (for progress; may be an estimate). */
  countCandidates(query: CandidateQuery): Promise<number>;

  /**
   * Candidate runs (status in the query's statuses, updated_at before the cutoff) in pages.
   * A backend may prefilter coarsely; the engine re-checks every run with the exact predicate.
   * Deleting runs between pages must not make the iteration skip or repeat a run.
   */
  candidates(query: CandidateQuery): AsyncIterable<RunState[]>;

  /** Runs whose parent_run_id is one of `parentRunIds`. */
  children(parentRunIds: readonly string[]): Promise<RunState[]>;

  /**
   * Deletes (or counts, when dryRun) one batch: each run's related records first, run records last.
   * A batch that stops partway (a failure, or `signal` aborted between two of its transactions)
   * after deleting something throws IncompleteBatchError carrying exactly what it deleted; a backend
   * may check `signal` only where stopping leaves every run whole or resumable by a re-run.
   */
  purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult>;

  /** Age-based stream and schedule housekeeping (docs/storage.md#housekeeping), in batches; counts go to onBatch. */
  housekeep(request: HousekeepingRequest): Promise<void>;

  /** Optional age-gated sweep of per-run data whose run record no longer exists (H24); counts go to onBatch. */
  sweepOrphans?(request: OrphanRequest): Promise<void>;

  /**
   * Run ids read from the store that this sweep refused to use (they would name something outside
   * the store, or cannot be a key), each reported once in the log; 0 when not implemented.
   */
  skippedUnsafe?(): number;

  /**
   * When the user left the batch size to the sweep (`batchSize: 'auto'`): how many runs the next
   * batch should hold, from what the backend measured of its batches so far. A backend without it
   * gets DEFAULT_BATCH_SIZE (src/engine/sweep.ts) every time.
   */
  nextBatchSize?(): number;
}

export interface BackendDeps {
  logger: Logger;
}
