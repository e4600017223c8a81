// Creates pyworkflow's MySQL layout (ddl.ts) in an empty database and bulk-loads a neutral Dataset
// with multi-row INSERTs. Timestamps are written as UTC DATETIME(6) text, as pyworkflow's driver does.
// Used by the tests and the benchmark.

import type mysql from 'mysql2/promise';
import type { Dataset } from '../../model/dataset.js';
import { MYSQL_FAILED_INIT_DDL, MYSQL_SCHEMA_VERSIONS, MYSQL_V2_DDL } from './ddl.js';
import { formatDatetime6 } from './time.js';

export type MysqlSeedLayout = 'v2' | 'failed-init';

const ROWS_PER_STATEMENT = 2000;

const dt = (d: Date | null): string | null => (d === null ? null : formatDatetime6(d));

/** The part of a dataset a v2 store can hold: no stream tables, no scheduled signals (docs/storage.md#mysql). */
export function adaptToMysqlV2(d: Dataset): Dataset {
  return { ...d, streams: [], signals: [], subscriptions: [], acknowledgments: [], scheduledSignals: [] };
}

export async function seedMysqlStore(conn: mysql.Connection, data: Dataset, options: { layout?: MysqlSeedLayout; schemaCreatedAt?: Date } = {}): Promise<void> {
  const layout = options.layout ?? 'v2';
  // DDL commits implicitly in MySQL: the schema first, then the data in one transaction.
  for (const stmt of layout === 'failed-init' ? MYSQL_FAILED_INIT_DDL : MYSQL_V2_DDL) await conn.query(stmt);
  const created = dt(options.schemaCreatedAt ?? new Date('2026-01-01T00:00:00Z'));
  await insertRows(conn, 'schema_versions', ['version', 'applied_at', 'description'], MYSQL_SCHEMA_VERSIONS.map(([v, d]) => [v, created, d]));
  if (layout === 'failed-init') {
    if (data.runs.length > 0) throw new Error('a failed-initialisation store holds no runs');
    return;
  }
  await conn.query('START TRANSACTION');
  try {
    await writeDataset(conn, data);
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function writeDataset(conn: mysql.Connection, d: Dataset): Promise<void> {
  const runs = [...d.runs].sort((a, b) => a.nesting_depth - b.nesting_depth);
  await insertRows(conn, 'workflow_runs', [
    'run_id', 'workflow_name', 'status', 'created_at', 'updated_at', 'started_at', 'completed_at', 'input_args', 'input_kwargs', 'result',
    'error', 'idempotency_key', 'max_duration', 'metadata', 'recovery_attempts', 'max_recovery_attempts', 'recover_on_worker_loss',
    'parent_run_id', 'nesting_depth', 'continued_from_run_id', 'continued_to_run_id',
  ], runs.map((r) => [
    r.run_id, r.workflow_name, r.status, dt(r.created_at), dt(r.updated_at), dt(r.started_at), dt(r.completed_at), r.input_args,
    r.input_kwargs, r.result, r.error, r.idempotency_key, null, r.context, 0, 3, 1, r.parent_run_id, r.nesting_depth,
    r.continued_from_run_id, r.continued_to_run_id,
  ]));
  await insertRows(conn, 'events', ['event_id', 'run_id', 'sequence', 'type', 'timestamp', 'data', 'step_id'],
    d.events.map((e) => [e.event_id, e.run_id, e.sequence, e.type, dt(e.timestamp), JSON.stringify(e.data), e.step_id]));
  await insertRows(conn, 'steps', ['step_id', 'run_id', 'step_name', 'status', 'created_at', 'started_at', 'retry_count'],
    d.steps.map((s) => [s.step_id, s.run_id, s.step_name, s.status, dt(s.created_at), dt(s.created_at), 1]));
  await insertRows(conn, 'hooks', ['run_id', 'hook_id', 'token', 'created_at', 'status', 'metadata'],
    d.hooks.map((h) => [h.run_id, h.hook_id, h.token, dt(h.created_at), h.status, '{}']));
  await insertRows(conn, 'cancellation_flags', ['run_id', 'created_at'], d.cancellationFlags.map((f) => [f.run_id, dt(f.created_at)]));
  await insertRows(conn, 'checkpoints', ['step_run_id', 'data', 'created_at', 'updated_at'],
    d.checkpoints.map((c) => [c.step_run_id, JSON.stringify(c.data), dt(c.created_at), dt(c.updated_at)]));
  await insertRows(conn, 'schedules', [
    'schedule_id', 'workflow_name', 'spec', 'spec_type', 'timezone', 'status', 'overlap_policy', 'running_run_ids', 'created_at', 'updated_at', 'deleted_at',
  ], d.schedules.map((s) => [
    s.schedule_id, s.workflow_name, JSON.stringify({ cron: '0 * * * *' }), 'cron', 'UTC', s.status, 'skip', JSON.stringify(s.running_run_ids),
    dt(s.created_at), dt(s.updated_at), dt(s.deleted_at),
  ]));
  if (d.signals.length + d.subscriptions.length + d.acknowledgments.length + d.scheduledSignals.length + d.streams.length > 0) {
    throw new Error('a MySQL v2 store has no stream tables: adapt the dataset with adaptToMysqlV2 first');
  }
}

export async function insertRows(conn: mysql.Connection, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    await conn.query(`INSERT INTO ${table} (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [rows.slice(i, i + ROWS_PER_STATEMENT)]);
  }
}
