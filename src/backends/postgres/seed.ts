// Creates pyworkflow's PostgreSQL layout (ddl.ts) in an empty database and bulk-loads a neutral
// Dataset into it with unnest()-array INSERTs (thousands of rows per statement, no COPY needed).
// Used by the tests, the benchmark and the demo.

import type pg from 'pg';
import type { Dataset } from '../../model/dataset.js';
import { CITUS_SHAPED_DDL, POSTGRES_FAILED_INIT_DDL, POSTGRES_V7_DDL, PYWORKFLOW_SCHEMA_VERSIONS } from './ddl.js';

export type PostgresSeedLayout = 'v7' | 'citus' | 'failed-init';

export interface PostgresSeedOptions {
  layout?: PostgresSeedLayout;
  schemaCreatedAt?: Date;
}

const ROWS_PER_STATEMENT = 5000;

/** Creates the schema and writes the dataset, in one transaction. */
export async function seedPostgresStore(client: pg.Client, data: Dataset, options: PostgresSeedOptions = {}): Promise<void> {
  const layout = options.layout ?? 'v7';
  const ddl = layout === 'citus' ? CITUS_SHAPED_DDL : layout === 'failed-init' ? POSTGRES_FAILED_INIT_DDL : POSTGRES_V7_DDL;
  const created = (options.schemaCreatedAt ?? new Date('2026-01-01T00:00:00Z')).toISOString();
  await client.query('BEGIN');
  try {
    for (const stmt of ddl) await client.query(stmt);
    const versions = layout === 'failed-init' ? PYWORKFLOW_SCHEMA_VERSIONS.slice(0, 4) : PYWORKFLOW_SCHEMA_VERSIONS;
    await insertRows(client, 'schema_versions', [['version', 'int'], ['applied_at', 'timestamptz'], ['description', 'text']],
      versions.map(([v, d]) => [v, created, d]));
    if (layout === 'failed-init') {
      if (data.runs.length > 0) throw new Error('a failed-initialisation store holds no runs');
    } else {
      await writeDataset(client, data);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** Inserts a dataset into pyworkflow's tables (parents before children for the foreign key). */
export async function writeDataset(client: pg.Client, d: Dataset): Promise<void> {
  const runs = [...d.runs].sort((a, b) => a.nesting_depth - b.nesting_depth);
  await insertRows(client, 'workflow_runs', [
    ['run_id', 'text'], ['workflow_name', 'text'], ['status', 'text'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz'],
    ['started_at', 'timestamptz'], ['completed_at', 'timestamptz'], ['input_args', 'text'], ['input_kwargs', 'text'], ['result', 'text'],
    ['error', 'text'], ['idempotency_key', 'text'], ['max_duration', 'text'], ['metadata', 'text'], ['recovery_attempts', 'int'],
    ['max_recovery_attempts', 'int'], ['recover_on_worker_loss', 'bool'], ['parent_run_id', 'text'], ['nesting_depth', 'int'],
    ['continued_from_run_id', 'text'], ['continued_to_run_id', 'text'],
  ], runs.map((r) => [
    r.run_id, r.workflow_name, r.status, iso(r.created_at), iso(r.updated_at), iso(r.started_at), iso(r.completed_at), r.input_args,
    r.input_kwargs, r.result, r.error, r.idempotency_key, null, r.context, 0, 3, true, r.parent_run_id, r.nesting_depth,
    r.continued_from_run_id, r.continued_to_run_id,
  ]));
  await insertRows(client, 'events', [
    ['event_id', 'text'], ['run_id', 'text'], ['sequence', 'int'], ['type', 'text'], ['timestamp', 'timestamptz'], ['data', 'text'], ['step_id', 'text'],
  ], d.events.map((e) => [e.event_id, e.run_id, e.sequence, e.type, iso(e.timestamp), JSON.stringify(e.data), e.step_id]));
  // retry_count holds the 1-based attempt in PostgreSQL (docs/storage.md#postgres).
  await insertRows(client, 'steps', [
    ['step_id', 'text'], ['run_id', 'text'], ['step_name', 'text'], ['status', 'text'], ['created_at', 'timestamptz'],
    ['started_at', 'timestamptz'], ['retry_count', 'int'],
  ], d.steps.map((s) => [s.step_id, s.run_id, s.step_name, s.status, iso(s.created_at), iso(s.created_at), 1]));
  await insertRows(client, 'hooks', [
    ['run_id', 'text'], ['hook_id', 'text'], ['token', 'text'], ['created_at', 'timestamptz'], ['status', 'text'], ['metadata', 'text'],
  ], d.hooks.map((h) => [h.run_id, h.hook_id, h.token, iso(h.created_at), h.status, '{}']));
  await insertRows(client, 'cancellation_flags', [['run_id', 'text'], ['created_at', 'timestamptz']],
    d.cancellationFlags.map((f) => [f.run_id, iso(f.created_at)]));
  await insertRows(client, 'checkpoints', [['step_run_id', 'text'], ['data', 'jsonb'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz']],
    d.checkpoints.map((c) => [c.step_run_id, JSON.stringify(c.data), iso(c.created_at), iso(c.updated_at)]));
  await insertRows(client, 'schedules', [
    ['schedule_id', 'text'], ['workflow_name', 'text'], ['spec', 'text'], ['spec_type', 'text'], ['timezone', 'text'], ['status', 'text'],
    ['overlap_policy', 'text'], ['running_run_ids', 'text'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz'], ['deleted_at', 'timestamptz'],
  ], d.schedules.map((s) => [
    s.schedule_id, s.workflow_name, JSON.stringify({ cron: '0 * * * *' }), 'cron', 'UTC', s.status, 'skip', JSON.stringify(s.running_run_ids),
    iso(s.created_at), iso(s.updated_at), iso(s.deleted_at),
  ]));
  await insertRows(client, 'streams', [['stream_id', 'text'], ['status', 'text'], ['created_at', 'timestamptz']],
    d.streams.map((s) => [s.stream_id, s.status, iso(s.created_at)]));
  await insertRows(client, 'signals', [
    ['stream_run_id', 'text'], ['sequence', 'int'], ['signal_id', 'text'], ['stream_id', 'text'], ['signal_type', 'text'], ['payload', 'jsonb'],
    ['published_at', 'timestamptz'], ['source_run_id', 'text'],
  ], d.signals.map((s) => [s.stream_run_id, s.sequence, s.signal_id, s.stream_id, s.signal_type, JSON.stringify(s.payload), iso(s.published_at), s.source_run_id]));
  await insertRows(client, 'stream_subscriptions', [['stream_id', 'text'], ['step_run_id', 'text'], ['signal_types', 'jsonb'], ['status', 'text'], ['created_at', 'timestamptz']],
    d.subscriptions.map((s) => [s.stream_id, s.step_run_id, '[]', s.status, iso(s.created_at)]));
  await insertRows(client, 'signal_acknowledgments', [['signal_id', 'text'], ['step_run_id', 'text'], ['acknowledged_at', 'timestamptz']],
    d.acknowledgments.map((a) => [a.signal_id, a.step_run_id, iso(a.acknowledged_at)]));
  await insertRows(client, 'scheduled_signals', [
    ['id', 'text'], ['stream_id', 'text'], ['signal_type', 'text'], ['due_at', 'timestamptz'], ['delivered', 'bool'], ['created_at', 'timestamptz'],
  ], d.scheduledSignals.map((s) => [s.id, s.stream_id, s.signal_type, iso(s.due_at), s.delivered, iso(s.created_at)]));
}

/** Multi-row INSERT ... SELECT FROM unnest(arrays): one round trip per few thousand rows. */
export async function insertRows(client: pg.Client, table: string, columns: [string, string][], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const arrays = columns.map((_, c) => chunk.map((row) => row[c]));
    const names = columns.map(([n]) => `"${n}"`).join(', ');
    const unnest = columns.map(([, type], c) => `$${c + 1}::${type}[]`).join(', ');
    await client.query(`INSERT INTO ${table} (${names}) SELECT * FROM unnest(${unnest})`, arrays);
  }
}
