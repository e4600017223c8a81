// Creates a SQLite database in pyworkflow's exact layout (DDL and schema_versions rows as
// pyworkflow-engine 0.4.0 creates them on a fresh file, columns written as its code writes them)
// and fills it from a neutral Dataset. Used by the demo, the benchmarks and the tests.

import Database from 'better-sqlite3';
import type { Dataset } from '../../model/dataset.js';
import { formatPythonUtc } from '../python-time.js';

/** Tables and indexes in the order pyworkflow's migrations and _initialize_schema create them. */
export const PYWORKFLOW_SQLITE_DDL = [
  `CREATE TABLE schema_versions (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL, description TEXT)`,
  `CREATE TABLE signals (stream_run_id TEXT NOT NULL, sequence INTEGER NOT NULL, signal_id TEXT NOT NULL, stream_id TEXT NOT NULL,
    signal_type TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{}', published_at TIMESTAMP NOT NULL, source_run_id TEXT,
    metadata TEXT DEFAULT '{}', PRIMARY KEY (stream_id, stream_run_id, sequence))`,
  `CREATE UNIQUE INDEX idx_signals_signal_id ON signals(signal_id)`,
  `CREATE TABLE signal_acknowledgments (signal_id TEXT NOT NULL, step_run_id TEXT NOT NULL, acknowledged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (signal_id, step_run_id))`,
  `CREATE TABLE workflow_runs (run_id TEXT PRIMARY KEY, workflow_name TEXT NOT NULL, status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, started_at TIMESTAMP, completed_at TIMESTAMP,
    input_args TEXT NOT NULL DEFAULT '[]', input_kwargs TEXT NOT NULL DEFAULT '{}', result TEXT, error TEXT,
    idempotency_key TEXT, max_duration TEXT, metadata TEXT DEFAULT '{}', recovery_attempts INTEGER DEFAULT 0,
    max_recovery_attempts INTEGER DEFAULT 3, recover_on_worker_loss INTEGER DEFAULT 1, parent_run_id TEXT,
    nesting_depth INTEGER DEFAULT 0, continued_from_run_id TEXT, continued_to_run_id TEXT,
    FOREIGN KEY (parent_run_id) REFERENCES workflow_runs(run_id))`,
  `CREATE INDEX idx_runs_status ON workflow_runs(status)`,
  `CREATE INDEX idx_runs_workflow_name ON workflow_runs(workflow_name)`,
  `CREATE INDEX idx_runs_created_at ON workflow_runs(created_at DESC)`,
  `CREATE INDEX idx_runs_created_at_run_id ON workflow_runs(created_at DESC, run_id DESC)`,
  `CREATE UNIQUE INDEX idx_runs_idempotency_key ON workflow_runs(idempotency_key) WHERE idempotency_key IS NOT NULL`,
  `CREATE INDEX idx_runs_parent_run_id ON workflow_runs(parent_run_id)`,
  `CREATE TABLE events (event_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, sequence INTEGER NOT NULL, type TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL, data TEXT NOT NULL DEFAULT '{}', step_id TEXT,
    FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE INDEX idx_events_run_id_sequence ON events(run_id, sequence)`,
  `CREATE INDEX idx_events_run_id_type ON events(run_id, type)`,
  `CREATE INDEX idx_events_run_id_step_id_type ON events(run_id, step_id, type)`,
  `CREATE TABLE steps (step_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_name TEXT NOT NULL, status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL, started_at TIMESTAMP, completed_at TIMESTAMP, input_args TEXT NOT NULL DEFAULT '[]',
    input_kwargs TEXT NOT NULL DEFAULT '{}', result TEXT, error TEXT, retry_count INTEGER DEFAULT 0,
    FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE INDEX idx_steps_run_id ON steps(run_id)`,
  `CREATE TABLE hooks (run_id TEXT NOT NULL, hook_id TEXT NOT NULL, token TEXT UNIQUE NOT NULL, created_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP, expires_at TIMESTAMP, status TEXT NOT NULL, payload TEXT, metadata TEXT DEFAULT '{}',
    PRIMARY KEY (run_id, hook_id), FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE UNIQUE INDEX idx_hooks_token ON hooks(token)`,
  `CREATE INDEX idx_hooks_run_id ON hooks(run_id)`,
  `CREATE INDEX idx_hooks_status ON hooks(status)`,
  `CREATE TABLE schedules (schedule_id TEXT PRIMARY KEY, workflow_name TEXT NOT NULL, spec TEXT NOT NULL, spec_type TEXT NOT NULL,
    timezone TEXT, input_args TEXT NOT NULL DEFAULT '[]', input_kwargs TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL,
    overlap_policy TEXT NOT NULL, next_run_time TIMESTAMP, last_run_time TIMESTAMP, running_run_ids TEXT DEFAULT '[]',
    metadata TEXT DEFAULT '{}', created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, paused_at TIMESTAMP,
    deleted_at TIMESTAMP)`,
  `CREATE INDEX idx_schedules_status ON schedules(status)`,
  `CREATE INDEX idx_schedules_next_run_time ON schedules(next_run_time)`,
  `CREATE INDEX idx_schedules_workflow_name ON schedules(workflow_name)`,
  `CREATE TABLE cancellation_flags (run_id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE TABLE checkpoints (step_run_id TEXT PRIMARY KEY, data TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE streams (stream_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'active', created_at TIMESTAMP NOT NULL, metadata TEXT DEFAULT '{}')`,
  `CREATE TABLE stream_subscriptions (stream_id TEXT NOT NULL, step_run_id TEXT NOT NULL, signal_types TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'waiting', created_at TIMESTAMP NOT NULL, PRIMARY KEY (stream_id, step_run_id))`,
  `CREATE INDEX idx_subscriptions_status ON stream_subscriptions(stream_id, status)`,
];

export const PYWORKFLOW_SCHEMA_VERSIONS: readonly [number, string][] = [
  [1, 'Baseline: original schema'],
  [2, 'Add step_id column to events table for optimized has_event() queries'],
  [3, 'Restructure signals table: PK (stream_id, stream_run_id, sequence), drop and recreate'],
  [4, 'Drop FK constraints referencing streams table — streams are code-defined'],
  [5, 'Add stream_run_id to stream_subscriptions (+index) and create scheduled_signals table for time-delayed signal delivery'],
  [6, 'Add parent_run_id + parent_hook_token to stream_subscriptions for hook-based parent workflow resumption'],
  [7, 'Add result column to stream_subscriptions for step output payloads'],
];

const ts = (d: Date | null): string | null => (d === null ? null : formatPythonUtc(d));

/** Creates `path` (must not exist) with pyworkflow's schema at version 7 and writes the dataset into it. */
export function seedSqliteStore(path: string, data: Dataset, options: { schemaCreatedAt?: Date } = {}): void {
  const db = new Database(path);
  try {
    // Rows go in in the order pyworkflow would have written them (creation time), so the file's
    // physical layout resembles a real store's; parents may come after children in that order.
    db.pragma('foreign_keys = OFF');
    const created = options.schemaCreatedAt ?? new Date('2026-01-01T00:00:00Z');
    db.transaction(() => {
      for (const stmt of PYWORKFLOW_SQLITE_DDL) db.exec(stmt);
      const v = db.prepare('INSERT INTO schema_versions (version, applied_at, description) VALUES (?, ?, ?)');
      for (const [version, description] of PYWORKFLOW_SCHEMA_VERSIONS) v.run(version, ts(created), description);
      writeDataset(db, data);
    })();
  } finally {
    db.close();
  }
}

/** Inserts a dataset into an open pyworkflow SQLite database, in creation order. */
export function writeDataset(db: Database.Database, d: Dataset): void {
  const run = db.prepare(`INSERT INTO workflow_runs (run_id, workflow_name, status, created_at, updated_at, started_at,
    completed_at, input_args, input_kwargs, result, error, idempotency_key, max_duration, metadata, recovery_attempts,
    max_recovery_attempts, recover_on_worker_loss, parent_run_id, nesting_depth, continued_from_run_id, continued_to_run_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const byTime = <T>(xs: T[], at: (x: T) => Date): T[] => [...xs].sort((a, b) => at(a).getTime() - at(b).getTime());
  for (const r of byTime(d.runs, (x) => x.created_at)) {
    run.run(r.run_id, r.workflow_name, r.status, ts(r.created_at), ts(r.updated_at), ts(r.started_at), ts(r.completed_at),
      r.input_args, r.input_kwargs, r.result, r.error, r.idempotency_key, null, r.context, 0, 3, 1, r.parent_run_id,
      r.nesting_depth, r.continued_from_run_id, r.continued_to_run_id);
  }
  const ev = db.prepare('INSERT INTO events (event_id, run_id, sequence, type, timestamp, data, step_id) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const e of byTime(d.events, (x) => x.timestamp)) ev.run(e.event_id, e.run_id, e.sequence, e.type, ts(e.timestamp), JSON.stringify(e.data), e.step_id);
  const st = db.prepare(`INSERT INTO steps (step_id, run_id, step_name, status, created_at, started_at, completed_at, input_args,
    input_kwargs, result, error, retry_count) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '{}', NULL, NULL, 0)`);
  for (const s of d.steps) st.run(s.step_id, s.run_id, s.step_name, s.status, ts(s.created_at), ts(s.created_at), null);
  const hk = db.prepare(`INSERT INTO hooks (hook_id, run_id, token, created_at, received_at, expires_at, status, payload, metadata)
    VALUES (?, ?, ?, ?, NULL, NULL, ?, NULL, '{}')`);
  for (const h of d.hooks) hk.run(h.hook_id, h.run_id, h.token, ts(h.created_at), h.status);
  const cf = db.prepare('INSERT INTO cancellation_flags (run_id, created_at) VALUES (?, ?)');
  for (const f of d.cancellationFlags) cf.run(f.run_id, ts(f.created_at));
  const cp = db.prepare('INSERT INTO checkpoints (step_run_id, data, created_at, updated_at) VALUES (?, ?, ?, ?)');
  for (const c of d.checkpoints) cp.run(c.step_run_id, JSON.stringify(c.data), ts(c.created_at), ts(c.updated_at));
  const sc = db.prepare(`INSERT INTO schedules (schedule_id, workflow_name, spec, spec_type, timezone, input_args, input_kwargs,
    status, overlap_policy, next_run_time, last_run_time, running_run_ids, metadata, created_at, updated_at, paused_at, deleted_at)
    VALUES (?, ?, ?, 'cron', 'UTC', '[]', '{}', ?, 'skip', NULL, NULL, ?, '{}', ?, ?, NULL, ?)`);
  for (const s of d.schedules) {
    sc.run(s.schedule_id, s.workflow_name, JSON.stringify({ cron: '0 * * * *' }), s.status, JSON.stringify(s.running_run_ids),
      ts(s.created_at), ts(s.updated_at), ts(s.deleted_at));
  }
  const sm = db.prepare(`INSERT INTO streams (stream_id, status, created_at, metadata) VALUES (?, ?, ?, '{}')`);
  for (const s of d.streams) sm.run(s.stream_id, s.status, ts(s.created_at));
  const sg = db.prepare(`INSERT INTO signals (signal_id, stream_id, signal_type, payload, published_at, sequence, source_run_id,
    stream_run_id, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')`);
  for (const s of d.signals) {
    sg.run(s.signal_id, s.stream_id, s.signal_type, JSON.stringify(s.payload), ts(s.published_at), s.sequence, s.source_run_id, s.stream_run_id);
  }
  const sb = db.prepare(`INSERT INTO stream_subscriptions (stream_id, step_run_id, signal_types, status, created_at) VALUES (?, ?, '[]', ?, ?)`);
  for (const s of d.subscriptions) sb.run(s.stream_id, s.step_run_id, s.status, ts(s.created_at));
  const ak = db.prepare('INSERT INTO signal_acknowledgments (signal_id, step_run_id, acknowledged_at) VALUES (?, ?, ?)');
  for (const a of d.acknowledgments) ak.run(a.signal_id, a.step_run_id, ts(a.acknowledged_at));
  // SQLite has no scheduled_signals table (docs/storage.md#sqlite): those records have no place here.
}
