// pyworkflow's Cassandra tables (docs/storage.md#cassandra) as data, exactly as pyworkflow-engine
// 0.4.0 creates them: layout detection compares system_schema against it and the seed renders its DDL.

export type CqlType = 'text' | 'timestamp' | 'int' | 'boolean' | 'timeuuid';

export interface TableDef {
  name: string;
  /** The pyworkflow generation that added it (docs/storage.md#detection-other): base (≤ v0.1.37), checkpoints (v0.2.0b1), streams (v0.2.4). */
  since: 'base' | 'checkpoints' | 'streams';
  /** Columns in pyworkflow's DDL order. */
  columns: readonly (readonly [string, CqlType])[];
  partitionKey: readonly string[];
  clustering: readonly (readonly [string, 'asc' | 'desc'])[];
}

const t = (
  name: string,
  since: TableDef['since'],
  columns: string,
  partitionKey: string[],
  clustering: [string, 'asc' | 'desc'][] = [],
): TableDef => ({
  name,
  since,
  columns: columns.split(',').map((c) => {
    const [col, type] = c.trim().split(/\s+/) as [string, CqlType];
    return [col, type] as const;
  }),
  partitionKey,
  clustering,
});

/** In the order pyworkflow's _initialize_schema creates them (a failed initialisation leaves a prefix). */
export const PYWORKFLOW_TABLES: readonly TableDef[] = [
  t('workflow_runs', 'base',
    `run_id text, workflow_name text, status text, created_at timestamp, updated_at timestamp, started_at timestamp,
     completed_at timestamp, input_args text, input_kwargs text, result text, error text, idempotency_key text,
     max_duration text, context text, recovery_attempts int, max_recovery_attempts int, recover_on_worker_loss boolean,
     parent_run_id text, nesting_depth int, continued_from_run_id text, continued_to_run_id text`, ['run_id']),
  t('runs_by_idempotency_key', 'base', 'idempotency_key text, run_id text', ['idempotency_key']),
  t('events', 'base', 'run_id text, event_time timeuuid, event_id text, type text, timestamp timestamp, data text', ['run_id'], [['event_time', 'asc']]),
  t('steps', 'base',
    `run_id text, step_id text, step_name text, status text, created_at timestamp, updated_at timestamp, started_at timestamp,
     completed_at timestamp, input_args text, input_kwargs text, result text, error text, attempt int, max_retries int,
     retry_after timestamp, retry_delay text`, ['run_id'], [['step_id', 'asc']]),
  t('steps_by_id', 'base', 'step_id text, run_id text', ['step_id']),
  t('hooks', 'base',
    `run_id text, hook_id text, token text, url text, status text, created_at timestamp, received_at timestamp,
     expires_at timestamp, payload text, name text, payload_schema text, metadata text`, ['run_id'], [['hook_id', 'asc']]),
  t('hooks_by_id', 'base', 'hook_id text, run_id text', ['hook_id']),
  t('hooks_by_token', 'base', 'token text, run_id text, hook_id text', ['token']),
  t('cancellation_flags', 'base', 'run_id text, created_at timestamp', ['run_id']),
  t('checkpoints', 'checkpoints', 'step_run_id text, data text, created_at timestamp, updated_at timestamp', ['step_run_id']),
  t('streams', 'streams', 'stream_id text, status text, created_at timestamp, metadata text', ['stream_id']),
  t('signals', 'streams',
    `stream_run_id text, sequence int, signal_id text, stream_id text, signal_type text, payload text,
     published_at timestamp, source_run_id text, metadata text`, ['stream_id', 'stream_run_id'], [['sequence', 'asc']]),
  t('stream_subscriptions', 'streams', 'stream_id text, step_run_id text, signal_types text, status text, created_at timestamp',
    ['stream_id'], [['step_run_id', 'asc']]),
  t('signal_acknowledgments', 'streams', 'signal_id text, step_run_id text, acknowledged_at timestamp', ['signal_id'], [['step_run_id', 'asc']]),
  t('schedules', 'base',
    `schedule_id text, workflow_name text, spec text, spec_type text, timezone text, args text, kwargs text, status text,
     overlap_policy text, created_at timestamp, updated_at timestamp, last_run_at timestamp, next_run_time timestamp,
     last_run_id text, running_run_ids text, buffered_count int`, ['schedule_id']),
  t('schedules_by_workflow', 'base', 'workflow_name text, schedule_id text, status text', ['workflow_name'], [['schedule_id', 'asc']]),
  t('schedules_by_status', 'base', 'status text, schedule_id text, workflow_name text', ['status'], [['schedule_id', 'asc']]),
  t('due_schedules', 'base', 'hour_bucket text, next_run_time timestamp, schedule_id text, status text', ['hour_bucket'],
    [['next_run_time', 'asc'], ['schedule_id', 'asc']]),
  t('runs_by_status', 'base', 'status text, date_bucket text, created_at timestamp, run_id text, workflow_name text',
    ['status', 'date_bucket'], [['created_at', 'desc'], ['run_id', 'desc']]),
  t('runs_by_workflow', 'base', 'workflow_name text, date_bucket text, created_at timestamp, run_id text, status text',
    ['workflow_name', 'date_bucket'], [['created_at', 'desc'], ['run_id', 'desc']]),
  t('runs_by_parent', 'base', 'parent_run_id text, created_at timestamp, run_id text, status text', ['parent_run_id'],
    [['created_at', 'asc'], ['run_id', 'asc']]),
];

export type Generation = 16 | 17 | 21;

/** The tables of one generation (docs/storage.md#detection-other), in creation order. */
export function tablesOf(generation: Generation): TableDef[] {
  const since: TableDef['since'][] = generation === 16 ? ['base'] : generation === 17 ? ['base', 'checkpoints'] : ['base', 'checkpoints', 'streams'];
  return PYWORKFLOW_TABLES.filter((d) => since.includes(d.since));
}

/**
 * A column name as CQL needs it. `token` is a reserved word: pyworkflow's own DDL leaves it unquoted and
 * Cassandra rejects it (see layout.ts), so stores that exist were created with it quoted.
 */
export function cqlName(column: string): string {
  return column === 'token' ? '"token"' : column;
}

/** CREATE TABLE for one table in `keyspace`, equivalent to pyworkflow's (with `token` quoted). */
export function createTableCql(keyspace: string, d: TableDef): string {
  const cols = d.columns.map(([c, type]) => `${cqlName(c)} ${type.toUpperCase()}`).join(', ');
  const pk = d.partitionKey.length === 1 ? cqlName(d.partitionKey[0]!) : `(${d.partitionKey.map(cqlName).join(', ')})`;
  const key = [pk, ...d.clustering.map(([c]) => c)].join(', ');
  const order = d.clustering.some(([, o]) => o === 'desc') || d.name === 'events' || d.name === 'signals' || d.name === 'due_schedules'
    ? ` WITH CLUSTERING ORDER BY (${d.clustering.map(([c, o]) => `${c} ${o.toUpperCase()}`).join(', ')})`
    : '';
  return `CREATE TABLE IF NOT EXISTS ${keyspace}.${d.name} (${cols}, PRIMARY KEY (${key}))${order}`;
}
