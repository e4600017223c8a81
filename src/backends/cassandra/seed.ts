// Creates a keyspace in pyworkflow's exact Cassandra layout (tables.ts, checked against what
// pyworkflow-engine 0.4.0 creates) and fills it from a neutral Dataset with the rows pyworkflow's own
// writes leave behind, index tables included. Used by the tests and the benchmark.

import { createHash } from 'node:crypto';
import cassandra from 'cassandra-driver';
import type { Dataset } from '../../model/dataset.js';
import { dateBucket, hourBucket } from './buckets.js';
import { cqlName, createTableCql, tablesOf, type Generation } from './tables.js';

export type SeedRow = Record<string, unknown>;
/** Rows per table, keyed by table name; each row maps every column to its value (null when unset). */
export type SeedRows = Map<string, SeedRow[]>;

export interface CassandraSeedOptions {
  /** Table generation to create (docs/storage.md#detection-other); default 21. Data without a table in it is left out. */
  generation?: Generation;
  replicationFactor?: number;
  /** Statements in flight while writing. */
  concurrency?: number;
}

/** CREATE KEYSPACE (SimpleStrategy, as pyworkflow creates it) and the generation's tables. */
export async function createPyworkflowKeyspace(client: cassandra.Client, keyspace: string, options: CassandraSeedOptions = {}): Promise<void> {
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${options.replicationFactor ?? 1}}`,
  );
  // One at a time: concurrent schema changes on one node only queue up, and can race schema agreement.
  for (const def of tablesOf(options.generation ?? 21)) await client.execute(createTableCql(keyspace, def));
}

/** Writes the dataset's rows into an existing pyworkflow keyspace. */
export async function writeDataset(client: cassandra.Client, keyspace: string, d: Dataset, options: CassandraSeedOptions = {}): Promise<void> {
  const tables = new Set(tablesOf(options.generation ?? 21).map((t) => t.name));
  const queries: { query: string; params: unknown[] }[] = [];
  for (const [table, rows] of datasetRows(d)) {
    if (!tables.has(table)) continue;
    for (const row of rows) {
      const cols = Object.keys(row);
      queries.push({
        query: `INSERT INTO ${keyspace}.${table} (${cols.map(cqlName).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        params: cols.map((c) => row[c]),
      });
    }
  }
  if (queries.length === 0) return;
  await cassandra.concurrent.executeConcurrent(client, queries, { concurrencyLevel: options.concurrency ?? 64, raiseOnFirstError: true });
}

/**
 * The rows pyworkflow's writes leave for this data (pure; the seed writes exactly these). Lookup tables
 * keyed by ids that repeat across runs hold the last writer in dataset order, as INSERT overwrites.
 */
export function datasetRows(d: Dataset): SeedRows {
  const out: SeedRows = new Map();
  const add = (table: string, row: SeedRow): void => {
    const rows = out.get(table) ?? [];
    rows.push(row);
    out.set(table, rows);
  };
  const last = new Map<string, Map<string, SeedRow>>();
  const upsert = (table: string, key: string, row: SeedRow): void => {
    const m = last.get(table) ?? new Map<string, SeedRow>();
    m.set(key, row);
    last.set(table, m);
  };
  const hookRuns = new Set(d.hooks.map((h) => h.run_id));

  for (const r of d.runs) {
    add('workflow_runs', {
      run_id: r.run_id, workflow_name: r.workflow_name, status: r.status, created_at: r.created_at, updated_at: r.updated_at,
      started_at: r.started_at, completed_at: r.completed_at, input_args: r.input_args, input_kwargs: r.input_kwargs,
      result: r.result, error: r.error, idempotency_key: r.idempotency_key, max_duration: null, context: r.context,
      recovery_attempts: 0, max_recovery_attempts: 3, recover_on_worker_loss: true, parent_run_id: r.parent_run_id,
      nesting_depth: r.nesting_depth, continued_from_run_id: r.continued_from_run_id, continued_to_run_id: r.continued_to_run_id,
    });
    if (r.idempotency_key !== null) upsert('runs_by_idempotency_key', r.idempotency_key, { idempotency_key: r.idempotency_key, run_id: r.run_id });
    const bucket = dateBucket(r.created_at);
    add('runs_by_status', { status: r.status, date_bucket: bucket, created_at: r.created_at, run_id: r.run_id, workflow_name: r.workflow_name });
    // A run that waited for a hook was suspended, then claimed back by try_claim_run, which moves no
    // runs_by_status row: its 'suspended' row stays behind forever (docs/storage.md#cassandra).
    if (hookRuns.has(r.run_id) && r.status !== 'suspended') {
      add('runs_by_status', { status: 'suspended', date_bucket: bucket, created_at: r.created_at, run_id: r.run_id, workflow_name: r.workflow_name });
    }
    add('runs_by_workflow', { workflow_name: r.workflow_name, date_bucket: bucket, created_at: r.created_at, run_id: r.run_id, status: r.status });
    if (r.parent_run_id !== null) add('runs_by_parent', { parent_run_id: r.parent_run_id, created_at: r.created_at, run_id: r.run_id, status: r.status });
  }
  for (const e of d.events) {
    add('events', {
      run_id: e.run_id, event_time: eventTime(e.run_id, e.sequence, e.timestamp), event_id: e.event_id, type: e.type,
      timestamp: e.timestamp, data: JSON.stringify(e.data),
    });
  }
  for (const s of d.steps) {
    add('steps', {
      run_id: s.run_id, step_id: s.step_id, step_name: s.step_name, status: s.status, created_at: s.created_at, updated_at: s.created_at,
      started_at: s.created_at, completed_at: null, input_args: '[]', input_kwargs: '{}', result: null, error: null, attempt: 1,
      max_retries: 3, retry_after: null, retry_delay: null,
    });
    upsert('steps_by_id', s.step_id, { step_id: s.step_id, run_id: s.run_id });
  }
  for (const h of d.hooks) {
    add('hooks', {
      run_id: h.run_id, hook_id: h.hook_id, token: h.token, url: '', status: h.status, created_at: h.created_at, received_at: null,
      expires_at: null, payload: null, name: h.hook_id.replace(/^(step_)?hook_/, '').replace(/_\d+$/, ''), payload_schema: null, metadata: '{}',
    });
    upsert('hooks_by_id', h.hook_id, { hook_id: h.hook_id, run_id: h.run_id });
    upsert('hooks_by_token', h.token, { token: h.token, run_id: h.run_id, hook_id: h.hook_id });
  }
  for (const f of d.cancellationFlags) add('cancellation_flags', { run_id: f.run_id, created_at: f.created_at });
  for (const c of d.checkpoints) {
    add('checkpoints', { step_run_id: c.step_run_id, data: JSON.stringify(c.data), created_at: c.created_at, updated_at: c.updated_at });
  }
  for (const s of d.schedules) {
    // Created active with a next run; delete_schedule keeps next_run_time (and so its due_schedules row).
    const next = s.status === 'paused' ? null : new Date(s.created_at.getTime() + 3_600_000);
    add('schedules', {
      schedule_id: s.schedule_id, workflow_name: s.workflow_name, spec: JSON.stringify({ cron: '0 * * * *', timezone: 'UTC' }),
      spec_type: 'cron', timezone: 'UTC', args: '[]', kwargs: '{}', status: s.status, overlap_policy: 'skip', created_at: s.created_at,
      updated_at: s.updated_at, last_run_at: null, next_run_time: next, last_run_id: s.last_run_id,
      running_run_ids: JSON.stringify(s.running_run_ids), buffered_count: 0,
    });
    add('schedules_by_workflow', { workflow_name: s.workflow_name, schedule_id: s.schedule_id, status: s.status });
    add('schedules_by_status', { status: s.status, schedule_id: s.schedule_id, workflow_name: s.workflow_name });
    if (next !== null) add('due_schedules', { hour_bucket: hourBucket(next), next_run_time: next, schedule_id: s.schedule_id, status: 'active' });
  }
  for (const s of d.streams) add('streams', { stream_id: s.stream_id, status: s.status, created_at: s.created_at, metadata: '{}' });
  for (const s of d.signals) {
    add('signals', {
      stream_run_id: s.stream_run_id, sequence: s.sequence, signal_id: s.signal_id, stream_id: s.stream_id, signal_type: s.signal_type,
      payload: JSON.stringify(s.payload), published_at: s.published_at, source_run_id: s.source_run_id, metadata: '{}',
    });
  }
  for (const s of d.subscriptions) {
    add('stream_subscriptions', { stream_id: s.stream_id, step_run_id: s.step_run_id, signal_types: '[]', status: s.status, created_at: s.created_at });
  }
  for (const a of d.acknowledgments) {
    add('signal_acknowledgments', { signal_id: a.signal_id, step_run_id: a.step_run_id, acknowledged_at: a.acknowledged_at });
  }
  for (const [table, rows] of last) for (const row of rows.values()) add(table, row);
  return out;
}

/**
 * pyworkflow stamps each event with a fresh uuid1; the seed derives one from the event (its time, its
 * run, its sequence) so two stores seeded from the same data hold identical keys.
 */
function eventTime(runId: string, sequence: number, timestamp: Date): cassandra.types.TimeUuid {
  const h = createHash('sha1').update(`${runId}\u0000${Math.floor(sequence / 10_000)}`).digest();
  return cassandra.types.TimeUuid.fromDate(timestamp, sequence % 10_000, h.subarray(0, 6), h.subarray(6, 8));
}
