// pyworkflow's MySQL DDL exactly as pyworkflow-engine 0.2.3 (the last release that can create a MySQL
// store, H7) leaves a fresh MariaDB 10.11 database at schema version 2 — taken from SHOW CREATE TABLE
// of a store that release initialised — and the failed initialisation every later release leaves.

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

export const MYSQL_V2_DDL = [
  `CREATE TABLE schema_versions (version int(11) NOT NULL, applied_at datetime(6) NOT NULL, description text DEFAULT NULL,
    PRIMARY KEY (version)) ${TABLE_OPTIONS}`,
  `CREATE TABLE workflow_runs (run_id varchar(255) NOT NULL, workflow_name varchar(255) NOT NULL, status varchar(50) NOT NULL,
    created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, started_at datetime(6) DEFAULT NULL,
    completed_at datetime(6) DEFAULT NULL, input_args longtext NOT NULL DEFAULT '[]', input_kwargs longtext NOT NULL DEFAULT '{}',
    result longtext DEFAULT NULL, error longtext DEFAULT NULL, idempotency_key varchar(255) DEFAULT NULL,
    max_duration varchar(255) DEFAULT NULL, metadata longtext DEFAULT '{}', recovery_attempts int(11) DEFAULT 0,
    max_recovery_attempts int(11) DEFAULT 3, recover_on_worker_loss tinyint(1) DEFAULT 1, parent_run_id varchar(255) DEFAULT NULL,
    nesting_depth int(11) DEFAULT 0, continued_from_run_id varchar(255) DEFAULT NULL, continued_to_run_id varchar(255) DEFAULT NULL,
    PRIMARY KEY (run_id), UNIQUE KEY idx_runs_idempotency_key (idempotency_key), KEY idx_runs_status (status),
    KEY idx_runs_workflow_name (workflow_name), KEY idx_runs_created_at (created_at DESC), KEY idx_runs_parent_run_id (parent_run_id),
    CONSTRAINT workflow_runs_ibfk_1 FOREIGN KEY (parent_run_id) REFERENCES workflow_runs (run_id)) ${TABLE_OPTIONS}`,
  `CREATE TABLE events (event_id varchar(255) NOT NULL, run_id varchar(255) NOT NULL, sequence int(11) NOT NULL,
    type varchar(100) NOT NULL, timestamp datetime(6) NOT NULL, data longtext NOT NULL DEFAULT '{}', step_id varchar(255) DEFAULT NULL,
    PRIMARY KEY (event_id), KEY idx_events_run_id_sequence (run_id, sequence), KEY idx_events_run_id_type (run_id, type),
    KEY idx_events_run_id_step_id_type (run_id, step_id, type),
    CONSTRAINT events_ibfk_1 FOREIGN KEY (run_id) REFERENCES workflow_runs (run_id) ON DELETE CASCADE) ${TABLE_OPTIONS}`,
  `CREATE TABLE steps (step_id varchar(255) NOT NULL, run_id varchar(255) NOT NULL, step_name varchar(255) NOT NULL,
    status varchar(50) NOT NULL, created_at datetime(6) NOT NULL, started_at datetime(6) DEFAULT NULL, completed_at datetime(6) DEFAULT NULL,
    input_args longtext NOT NULL DEFAULT '[]', input_kwargs longtext NOT NULL DEFAULT '{}', result longtext DEFAULT NULL,
    error longtext DEFAULT NULL, retry_count int(11) DEFAULT 0, PRIMARY KEY (step_id), KEY idx_steps_run_id (run_id),
    CONSTRAINT steps_ibfk_1 FOREIGN KEY (run_id) REFERENCES workflow_runs (run_id) ON DELETE CASCADE) ${TABLE_OPTIONS}`,
  `CREATE TABLE hooks (run_id varchar(255) NOT NULL, hook_id varchar(255) NOT NULL, token varchar(255) NOT NULL,
    created_at datetime(6) NOT NULL, received_at datetime(6) DEFAULT NULL, expires_at datetime(6) DEFAULT NULL, status varchar(50) NOT NULL,
    payload longtext DEFAULT NULL, metadata longtext DEFAULT '{}', PRIMARY KEY (run_id, hook_id), UNIQUE KEY token (token),
    UNIQUE KEY idx_hooks_token (token), KEY idx_hooks_run_id (run_id), KEY idx_hooks_status (status),
    CONSTRAINT hooks_ibfk_1 FOREIGN KEY (run_id) REFERENCES workflow_runs (run_id) ON DELETE CASCADE) ${TABLE_OPTIONS}`,
  `CREATE TABLE schedules (schedule_id varchar(255) NOT NULL, workflow_name varchar(255) NOT NULL, spec longtext NOT NULL,
    spec_type varchar(50) NOT NULL, timezone varchar(100) DEFAULT NULL, input_args longtext NOT NULL DEFAULT '[]',
    input_kwargs longtext NOT NULL DEFAULT '{}', status varchar(50) NOT NULL, overlap_policy varchar(50) NOT NULL,
    next_run_time datetime(6) DEFAULT NULL, last_run_time datetime(6) DEFAULT NULL, running_run_ids longtext DEFAULT '[]',
    metadata longtext DEFAULT '{}', created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, paused_at datetime(6) DEFAULT NULL,
    deleted_at datetime(6) DEFAULT NULL, PRIMARY KEY (schedule_id), KEY idx_schedules_status (status),
    KEY idx_schedules_next_run_time (next_run_time), KEY idx_schedules_workflow_name (workflow_name)) ${TABLE_OPTIONS}`,
  `CREATE TABLE cancellation_flags (run_id varchar(255) NOT NULL, created_at datetime(6) NOT NULL, PRIMARY KEY (run_id),
    CONSTRAINT cancellation_flags_ibfk_1 FOREIGN KEY (run_id) REFERENCES workflow_runs (run_id) ON DELETE CASCADE) ${TABLE_OPTIONS}`,
  `CREATE TABLE checkpoints (step_run_id varchar(255) NOT NULL, data longtext NOT NULL, created_at datetime(6) NOT NULL,
    updated_at datetime(6) NOT NULL, PRIMARY KEY (step_run_id)) ${TABLE_OPTIONS}`,
];

/** What every release from 0.2.4 leaves in an empty database: schema_versions at 2, nothing else (H7). */
export const MYSQL_FAILED_INIT_DDL = [MYSQL_V2_DDL[0]!];

export const MYSQL_SCHEMA_VERSIONS: readonly [number, string][] = [
  [1, 'Baseline: original schema'],
  [2, 'Add step_id column to events table for optimized has_event() queries'],
];
