// The `sqlite` backend: pyworkflow's SQLite layout through better-sqlite3. Each batch is one short
// BEGIN IMMEDIATE transaction (pyworkflow's workers wait at most their 5 s busy timeout, never for a
// whole purge, H14), re-reads the batch's runs under that lock (H15), and deletes related rows
// before run rows.
//
// Batch size, when the user leaves it to us: a batch's cost is mostly the pages it changes, and each
// changed page is written twice per transaction (its original to the rollback journal, then itself).
// The rows of one run are spread over the file (a run's events over the time the run lasted, its
// event ids at random places of their index), so a small batch changes a page or two *per row* and
// the next batch changes most of the same pages again: at 20k runs a batch of 500 runs journalled
// 26 MB, a quarter of the 100 MB file, and 24 such batches wrote 635 MB where one transaction wrote
// 70 MB (bench/sqlite-bench.ts). At 100k runs a batch of 450 changed 10,378 pages, 23 per run (4,045
// of the events table, 3,288 of its event_id index), where one transaction of all 60k purgeable runs
// changes 1.5 pages per run: larger batches share pages; a time budget (batch-sizer.ts) keeps each
// one short, so a big store is swept at a multiple of the single-transaction floor, by design.

import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { backendError, RetentionError } from '../../errors.js';
import type { KindCounts } from '../../engine/records.js';
import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeOptions, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { COARSE_MARGIN_MS, formatPythonUtc, parsePythonTimestamp } from '../python-time.js';
import type { SqliteConfig } from './config.js';
import { runSqliteHousekeeping } from './housekeeping.js';
import { detectSqliteLayout, type SqliteLayout } from './layout.js';
import { runSqliteOrphanSweep } from './orphans.js';
import { acquireSqliteSweepLock } from './sweep-lock.js';
import { BatchSizer } from './batch-sizer.js';

/**
 * Target BEGIN→COMMIT time of a purge batch when the batch size is ours to choose: well under the
 * longest transaction we allow ourselves (1 s) and under a tenth of the 5 s pyworkflow's workers wait
 * for the write lock. On a busy 2-core machine one batch in a hundred took twice its neighbours'
 * time: with a 500 ms target the longest of 100k-run sweeps reached 1.02-1.06 s (bench/sqlite-bench.ts).
 */
export const SQLITE_TRANSACTION_BUDGET_MS = 400;
/** The first batch, before any has been measured: the old fixed default, well inside the budget even on a 100k-run store. */
const SQLITE_FIRST_BATCH = 500;

interface RunRow {
  run_id: string;
  status: string;
  updated_at: unknown;
  parent_run_id: string | null;
}

export class SqliteBackend implements Backend {
  readonly type = 'sqlite';
  readonly target: string;
  private db: Database.Database | null = null;
  private layout: SqliteLayout | null = null;
  private readonly sizer = new BatchSizer({ budgetMs: SQLITE_TRANSACTION_BUDGET_MS, first: SQLITE_FIRST_BATCH });

  constructor(
    private readonly config: SqliteConfig,
    private readonly deps: BackendDeps,
  ) {
    this.target = `sqlite ${config.base_path}`;
  }

  async open(): Promise<void> {
    if (this.db) return;
    try {
      statSync(this.config.base_path);
    } catch (err) {
      // A run pod whose user may not search the volume's directory sees EACCES, not a missing file:
      // say which, since the fix (fsGroup/supplementalGroups) is not the fix for a wrong path.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new RetentionError('CONNECTION_FAILED', `${this.target}: permission denied on the database file or its directory (the run's user and groups need read and write access to both)`);
      }
      throw new RetentionError('CONNECTION_FAILED', `${this.target}: database file does not exist (base_path must point at pyworkflow's database file)`);
    }
    try {
      // fileMustExist: never create an empty database where the user pointed at the wrong path.
      this.db = new Database(this.config.base_path, { fileMustExist: true, timeout: this.config.busy_timeout_ms ?? 5000 });
      this.db.pragma('foreign_keys = ON');
      // Connection-local settings only; the file stays exactly as pyworkflow keeps it. TRUNCATE
      // empties the rollback journal instead of deleting it (one directory update less per batch);
      // a zero-length journal is never "hot", so pyworkflow's DELETE-mode connections are unaffected.
      // A larger page cache keeps the index pages that consecutive batches share.
      this.db.pragma('journal_mode = TRUNCATE');
      this.db.pragma('cache_size = -65536');
    } catch (err) {
      throw backendError(this.target, 'opening the database', err, 'CONNECTION_FAILED');
    }
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
  }

  async detectLayout(): Promise<StoreLayout> {
    this.layout = detectSqliteLayout(this.connection(), this.target);
    return this.layout;
  }

  async acquireSweepLock(waitMs: number, options: { dryRun: boolean } = { dryRun: false }): Promise<SweepLock> {
    return acquireSqliteSweepLock(this.config.base_path, waitMs, this.target, options.dryRun);
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    const coarse = formatPythonUtc(new Date(query.cutoff.getTime() + COARSE_MARGIN_MS));
    const row = this.connection()
      .prepare('SELECT COUNT(*) AS n FROM workflow_runs WHERE status IN (SELECT value FROM json_each(?)) AND updated_at < ?')
      .get(JSON.stringify(query.statuses), coarse) as { n: number };
    return row.n;
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    const db = this.connection();
    const statuses = JSON.stringify(query.statuses);
    const coarse = formatPythonUtc(new Date(query.cutoff.getTime() + COARSE_MARGIN_MS));
    const columns = `run_id, status, updated_at, ${parentColumn(this.requireLayout())}`;
    // The unary `+` keeps the planner off idx_runs_status: through it, every page re-read all runs of
    // those statuses and sorted them by run_id (at 100k runs, paging took 7.2 s; over the primary
    // key 0.3 s). test/unit/backends/sqlite/sqlite-plans.test.ts checks the plans.
    const filter = '+status IN (SELECT value FROM json_each(@statuses)) AND +updated_at < @coarse';
    // In run_id order over the primary key: three of the four b-trees of `events` (and those of
    // hooks, steps, checkpoints) are keyed by run_id, so a batch of neighbouring run ids changes
    // (and journals) a narrow band of index pages instead of pages all over the file.
    const page = db.prepare(`SELECT ${columns} FROM workflow_runs WHERE run_id > @runId AND ${filter} ORDER BY run_id LIMIT @limit`);
    let cursor = { runId: '' };
    for (;;) {
      const rows = page.all({ ...cursor, statuses, coarse, limit: query.pageSize }) as RunRow[];
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      cursor = { runId: last.run_id };
      const states = rows.map(toState);
      for (const run of states) {
        if (run.updatedAt === null) this.deps.logger.warn('run kept: updated_at is not a timestamp', { runId: run.runId });
      }
      yield states;
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    if (!this.requireLayout().hasParentColumn || parentRunIds.length === 0) return [];
    const rows = this.connection()
      .prepare(`SELECT run_id, status, updated_at, parent_run_id FROM workflow_runs WHERE parent_run_id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(parentRunIds)) as RunRow[];
    return rows.map(toState);
  }

  async purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult> {
    const db = this.connection();
    const layout = this.requireLayout();
    const work = db.transaction((): PurgeResult => {
      const ids = JSON.stringify(batch.runs.map((r) => r.runId));
      const current = (
        db.prepare(`SELECT run_id, status, updated_at, ${parentColumn(layout)} FROM workflow_runs WHERE run_id IN (SELECT value FROM json_each(?))`).all(ids) as RunRow[]
      ).map(toState);
      const outside = layout.hasParentColumn
        ? (db
            .prepare(
              `SELECT run_id AS runId, parent_run_id AS parentRunId FROM workflow_runs
               WHERE parent_run_id IN (SELECT value FROM json_each(@ids)) AND run_id NOT IN (SELECT value FROM json_each(@ids))`,
            )
            .all({ ids }) as { runId: string; parentRunId: string }[])
        : [];
      const confirmed = batch.confirm(current, outside);
      if (confirmed.length === 0) return { counts: {}, purgedRunIds: [] };
      const doomed = JSON.stringify(confirmed.map((r) => r.runId));
      const counts: Partial<KindCounts> = {};
      const perRun = (table: string, kind: keyof KindCounts): void => {
        if (!layout.tables.has(table)) return;
        const where = `run_id IN (SELECT value FROM json_each(?))`;
        counts[kind] = options.dryRun
          ? (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).get(doomed) as { n: number }).n
          : db.prepare(`DELETE FROM ${table} WHERE ${where}`).run(doomed).changes;
      };
      if (layout.tables.has('checkpoints')) {
        // Exact prefix `{run_id}:` as a key range on the primary key: no LIKE, whose `_` wildcard
        // would match other runs' keys (H9).
        const stmt = options.dryRun
          ? db.prepare('SELECT COUNT(*) AS n FROM checkpoints WHERE step_run_id >= ? AND step_run_id < ?')
          : db.prepare('DELETE FROM checkpoints WHERE step_run_id >= ? AND step_run_id < ?');
        let n = 0;
        for (const run of confirmed) {
          const lo = `${run.runId}:`;
          const hi = `${run.runId};`; // ';' is the code point after ':'
          n += options.dryRun ? (stmt.get(lo, hi) as { n: number }).n : stmt.run(lo, hi).changes;
        }
        counts.checkpoints = n;
      }
      perRun('events', 'events');
      perRun('steps', 'steps');
      perRun('hooks', 'hooks');
      perRun('cancellation_flags', 'cancellationFlags');
      // Run rows last; parent and child in one statement is fine (FKs are checked at statement end).
      perRun('workflow_runs', 'runs');
      return { counts, purgedRunIds: confirmed.map((r) => r.runId) };
    });
    try {
      // IMMEDIATE takes the write lock up front, so the re-read and the deletes see one state.
      const started = performance.now();
      const result = options.dryRun ? work.deferred() : work.immediate();
      const ms = performance.now() - started;
      this.sizer.record(batch.runs.length, ms);
      this.deps.logger.debug('transaction', { what: 'purge', runs: batch.runs.length, durationMs: Math.round(ms * 1000) / 1000 });
      return result;
    } catch (err) {
      throw backendError(this.target, `purging a batch of ${batch.runs.length} runs`, err);
    }
  }

  /** Runs for the next batch: as many as fit the transaction budget, from the batches so far (batch-sizer.ts). */
  nextBatchSize(): number {
    return this.sizer.next();
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    await runSqliteHousekeeping(this.connection(), this.requireLayout(), request, this.target);
  }

  async sweepOrphans(request: OrphanRequest): Promise<void> {
    await runSqliteOrphanSweep(this.connection(), this.requireLayout(), request, this.target);
  }

  private connection(): Database.Database {
    if (!this.db) throw new RetentionError('BACKEND_ERROR', `${this.target}: not open`);
    return this.db;
  }

  private requireLayout(): SqliteLayout {
    if (!this.layout) throw new RetentionError('BACKEND_ERROR', `${this.target}: layout not detected yet`);
    return this.layout;
  }
}

function parentColumn(layout: SqliteLayout): string {
  return layout.hasParentColumn ? 'parent_run_id' : 'NULL AS parent_run_id';
}

function toState(r: RunRow): RunState {
  return { runId: r.run_id, status: r.status, updatedAt: parsePythonTimestamp(r.updated_at), parentRunId: r.parent_run_id };
}
