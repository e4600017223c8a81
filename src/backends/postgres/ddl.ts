// pyworkflow's PostgreSQL DDL exactly as real releases leave it (checked against pg_dump of databases
// bootstrapped by pyworkflow-engine 0.2.6 and then opened by 0.4.0, and of a fresh database opened by
// 0.4.0 alone): the v7 layout, the Citus-shaped layout (citus.py's tables without the distribution
// calls, which need the extension), and the failed initialisation of H8 at version 4.

/** v7 as a database first initialised by ≤ 0.2.6 and upgraded by 0.4.0 has it (column order included). */
export const POSTGRES_V7_DDL = [
  `CREATE TABLE schema_versions (version integer NOT NULL, applied_at timestamp with time zone NOT NULL, description text,
    CONSTRAINT schema_versions_pkey PRIMARY KEY (version))`,
  `CREATE TABLE workflow_runs (run_id text NOT NULL, workflow_name text NOT NULL, status text NOT NULL,
    created_at timestamp with time zone NOT NULL, updated_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone, completed_at timestamp with time zone,
    input_args text DEFAULT '[]'::text NOT NULL, input_kwargs text DEFAULT '{}'::text NOT NULL, result text, error text,
    idempotency_key text, max_duration text, metadata text DEFAULT '{}'::text, recovery_attempts integer DEFAULT 0,
    max_recovery_attempts integer DEFAULT 3, recover_on_worker_loss boolean DEFAULT true, parent_run_id text,
    nesting_depth integer DEFAULT 0, continued_from_run_id text, continued_to_run_id text,
    CONSTRAINT workflow_runs_pkey PRIMARY KEY (run_id),
    CONSTRAINT workflow_runs_parent_run_id_fkey FOREIGN KEY (parent_run_id) REFERENCES workflow_runs(run_id))`,
  `CREATE INDEX idx_runs_status ON workflow_runs USING btree (status)`,
  `CREATE INDEX idx_runs_workflow_name ON workflow_runs USING btree (workflow_name)`,
  `CREATE INDEX idx_runs_created_at ON workflow_runs USING btree (created_at DESC)`,
  `CREATE INDEX idx_runs_created_at_run_id ON workflow_runs USING btree (created_at DESC, run_id DESC)`,
  `CREATE UNIQUE INDEX idx_runs_idempotency_key ON workflow_runs USING btree (idempotency_key) WHERE (idempotency_key IS NOT NULL)`,
  `CREATE INDEX idx_runs_parent_run_id ON workflow_runs USING btree (parent_run_id)`,
  `CREATE TABLE events (event_id text NOT NULL, run_id text NOT NULL, sequence integer NOT NULL, type text NOT NULL,
    "timestamp" timestamp with time zone NOT NULL, data text DEFAULT '{}'::text NOT NULL, step_id text,
    CONSTRAINT events_pkey PRIMARY KEY (event_id),
    CONSTRAINT events_run_id_fkey FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE INDEX idx_events_run_id_sequence ON events USING btree (run_id, sequence)`,
  `CREATE INDEX idx_events_run_id_type ON events USING btree (run_id, type)`,
  `CREATE INDEX idx_events_run_id_step_id_type ON events USING btree (run_id, step_id, type)`,
  `CREATE TABLE steps (step_id text NOT NULL, run_id text NOT NULL, step_name text NOT NULL, status text NOT NULL,
    created_at timestamp with time zone NOT NULL, started_at timestamp with time zone, completed_at timestamp with time zone,
    input_args text DEFAULT '[]'::text NOT NULL, input_kwargs text DEFAULT '{}'::text NOT NULL, result text, error text,
    retry_count integer DEFAULT 0,
    CONSTRAINT steps_pkey PRIMARY KEY (step_id),
    CONSTRAINT steps_run_id_fkey FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE INDEX idx_steps_run_id ON steps USING btree (run_id)`,
  `CREATE TABLE hooks (run_id text NOT NULL, hook_id text NOT NULL, token text NOT NULL,
    created_at timestamp with time zone NOT NULL, received_at timestamp with time zone, expires_at timestamp with time zone,
    status text NOT NULL, payload text, metadata text DEFAULT '{}'::text,
    CONSTRAINT hooks_pkey PRIMARY KEY (run_id, hook_id), CONSTRAINT hooks_token_key UNIQUE (token),
    CONSTRAINT hooks_run_id_fkey FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE UNIQUE INDEX idx_hooks_token ON hooks USING btree (token)`,
  `CREATE INDEX idx_hooks_run_id ON hooks USING btree (run_id)`,
  `CREATE INDEX idx_hooks_status ON hooks USING btree (status)`,
  `CREATE TABLE schedules (schedule_id text NOT NULL, workflow_name text NOT NULL, spec text NOT NULL, spec_type text NOT NULL,
    timezone text, input_args text DEFAULT '[]'::text NOT NULL, input_kwargs text DEFAULT '{}'::text NOT NULL,
    status text NOT NULL, overlap_policy text NOT NULL, next_run_time timestamp with time zone,
    last_run_time timestamp with time zone, running_run_ids text DEFAULT '[]'::text, metadata text DEFAULT '{}'::text,
    created_at timestamp with time zone NOT NULL, updated_at timestamp with time zone NOT NULL,
    paused_at timestamp with time zone, deleted_at timestamp with time zone,
    CONSTRAINT schedules_pkey PRIMARY KEY (schedule_id))`,
  `CREATE INDEX idx_schedules_status ON schedules USING btree (status)`,
  `CREATE INDEX idx_schedules_next_run_time ON schedules USING btree (next_run_time)`,
  `CREATE INDEX idx_schedules_workflow_name ON schedules USING btree (workflow_name)`,
  `CREATE TABLE cancellation_flags (run_id text NOT NULL, created_at timestamp with time zone NOT NULL,
    CONSTRAINT cancellation_flags_pkey PRIMARY KEY (run_id),
    CONSTRAINT cancellation_flags_run_id_fkey FOREIGN KEY (run_id) REFERENCES workflow_runs(run_id) ON DELETE CASCADE)`,
  `CREATE TABLE checkpoints (step_run_id text NOT NULL, data jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL, updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (step_run_id))`,
  `CREATE TABLE streams (stream_id text NOT NULL, status text DEFAULT 'active'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL, metadata jsonb DEFAULT '{}'::jsonb,
    CONSTRAINT streams_pkey PRIMARY KEY (stream_id))`,
  `CREATE TABLE signals (stream_run_id text NOT NULL, sequence integer NOT NULL, signal_id text NOT NULL, stream_id text NOT NULL,
    signal_type text NOT NULL, payload jsonb DEFAULT '{}'::jsonb NOT NULL, published_at timestamp with time zone DEFAULT now() NOT NULL,
    source_run_id text, metadata jsonb DEFAULT '{}'::jsonb,
    CONSTRAINT signals_pkey PRIMARY KEY (stream_id, stream_run_id, sequence))`,
  `CREATE UNIQUE INDEX idx_signals_signal_id ON signals USING btree (signal_id)`,
  // Created by ≤ 0.2.6 with five columns; 0.4.0's migrations 5-7 appended the rest.
  `CREATE TABLE stream_subscriptions (stream_id text NOT NULL, step_run_id text NOT NULL,
    signal_types jsonb DEFAULT '[]'::jsonb NOT NULL, status text DEFAULT 'waiting'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL, stream_run_id text, parent_run_id text, parent_hook_token text,
    result jsonb, CONSTRAINT stream_subscriptions_pkey PRIMARY KEY (stream_id, step_run_id))`,
  `CREATE INDEX idx_subscriptions_status ON stream_subscriptions USING btree (stream_id, status)`,
  `CREATE INDEX idx_subscriptions_stream_run ON stream_subscriptions USING btree (stream_id, stream_run_id)`,
  `CREATE TABLE scheduled_signals (id text NOT NULL, stream_id text NOT NULL, signal_type text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL, due_at timestamp with time zone NOT NULL, stream_run_id text,
    metadata jsonb DEFAULT '{}'::jsonb, delivered boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL, CONSTRAINT scheduled_signals_pkey PRIMARY KEY (id))`,
  `CREATE INDEX idx_scheduled_signals_due ON scheduled_signals USING btree (delivered, due_at)`,
  `CREATE TABLE signal_acknowledgments (signal_id text NOT NULL, step_run_id text NOT NULL,
    acknowledged_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT signal_acknowledgments_pkey PRIMARY KEY (signal_id, step_run_id))`,
];

/**
 * citus.py's tables (docs/storage.md#citus) on plain PostgreSQL: no foreign keys, composite
 * primary keys with the distribution column, non-unique token/idempotency/signal indexes. The
 * create_distributed_table/create_reference_table calls are left out: they need the extension.
 */
export const CITUS_SHAPED_DDL = POSTGRES_V7_DDL.map((stmt) =>
  stmt
    .replace(/,\s*CONSTRAINT \w+_fkey FOREIGN KEY \([^)]*\) REFERENCES workflow_runs\(run_id\)( ON DELETE CASCADE)?/g, '')
    .replace('CONSTRAINT events_pkey PRIMARY KEY (event_id)', 'CONSTRAINT events_pkey PRIMARY KEY (run_id, event_id)')
    .replace('CONSTRAINT steps_pkey PRIMARY KEY (step_id)', 'CONSTRAINT steps_pkey PRIMARY KEY (run_id, step_id)')
    .replace(', CONSTRAINT hooks_token_key UNIQUE (token)', '')
    .replace('CREATE UNIQUE INDEX idx_hooks_token', 'CREATE INDEX idx_hooks_token')
    .replace('CREATE UNIQUE INDEX idx_runs_idempotency_key', 'CREATE INDEX idx_runs_idempotency_key')
    .replace('CREATE UNIQUE INDEX idx_signals_signal_id', 'CREATE INDEX idx_signals_signal_id')
    // citus.py creates stream_subscriptions whole, created_at last.
    .replace(
      /created_at timestamp with time zone DEFAULT now\(\) NOT NULL, stream_run_id text, parent_run_id text, parent_hook_token text,\s*result jsonb,/,
      'stream_run_id text, parent_run_id text, parent_hook_token text, result jsonb, created_at timestamp with time zone DEFAULT now() NOT NULL,',
    ),
).concat([`CREATE INDEX idx_steps_step_id ON steps USING btree (step_id)`]);

/** What 0.2.7+ leaves in an empty database (H8): migrations 1-4 recorded, then connect() fails. */
export const POSTGRES_FAILED_INIT_DDL = [
  POSTGRES_V7_DDL[0]!,
  POSTGRES_V7_DDL.find((s) => s.startsWith('CREATE TABLE signals'))!,
  `CREATE UNIQUE INDEX idx_signals_signal_id ON signals USING btree (signal_id)`,
  POSTGRES_V7_DDL.find((s) => s.startsWith('CREATE TABLE signal_acknowledgments'))!,
];

/** schema_versions rows as pyworkflow writes them. */
export const PYWORKFLOW_SCHEMA_VERSIONS: readonly [number, string][] = [
  [1, 'Baseline: original schema'],
  [2, 'Add step_id column to events table for optimized has_event() queries'],
  [3, 'Restructure signals table: PK (stream_id, stream_run_id, sequence), drop and recreate'],
  [4, 'Drop FK constraints referencing streams table — streams are code-defined'],
  [5, 'Add stream_run_id to stream_subscriptions (+index) and create scheduled_signals table for time-delayed signal delivery'],
  [6, 'Add parent_run_id + parent_hook_token to stream_subscriptions for hook-based parent workflow resumption'],
  [7, 'Add result column to stream_subscriptions for step output payloads'],
];
