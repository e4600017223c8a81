// What the SQL stores (postgres, citus, mysql) share in recognising a pyworkflow layout
// (docs/storage.md#layouts): the per-run tables, the columns each table must have for us to touch it,
// and the rule for a table whose columns we do not recognise.

import type { KindCounts } from '../engine/records.js';

/** Tables with a run_id column whose rows belong to one run, in the order a purge deletes them. */
export const SQL_PER_RUN_TABLES = ['events', 'steps', 'hooks', 'cancellation_flags'] as const;
export type SqlPerRunTable = (typeof SQL_PER_RUN_TABLES)[number];

/** Per-run tables: the kind they count as and the timestamps that date a row (NULL = not set). */
export const SQL_PER_RUN_KINDS: Readonly<Record<SqlPerRunTable, { kind: keyof KindCounts; times: readonly string[] }>> = {
  events: { kind: 'events', times: ['timestamp'] },
  steps: { kind: 'steps', times: ['created_at', 'started_at', 'completed_at'] },
  hooks: { kind: 'hooks', times: ['created_at', 'received_at'] },
  cancellation_flags: { kind: 'cancellationFlags', times: ['created_at'] },
};
/** The timestamps that date a checkpoint row. */
export const SQL_CHECKPOINT_TIMES = ['created_at', 'updated_at'] as const;

/** Columns a table must have for us to touch it; a core table without them makes the layout unknown. */
export const SQL_REQUIRED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  workflow_runs: ['run_id', 'status', 'updated_at'],
  events: ['run_id'],
  steps: ['run_id'],
  hooks: ['run_id'],
  cancellation_flags: ['run_id'],
  checkpoints: ['step_run_id'],
  schedules: ['schedule_id', 'status', 'updated_at'],
  signals: ['stream_id', 'stream_run_id', 'sequence', 'signal_id', 'published_at'],
  signal_acknowledgments: ['signal_id', 'step_run_id', 'acknowledged_at'],
  stream_subscriptions: ['stream_id', 'step_run_id', 'status', 'created_at'],
  scheduled_signals: ['id', 'delivered', 'created_at'],
};

/** Tables only housekeeping uses: when their shape is unexpected the rule is skipped, nothing else. */
const OPTIONAL_SHAPE = new Set(['schedules', 'signals', 'signal_acknowledgments', 'stream_subscriptions', 'scheduled_signals']);

/**
 * Checks every present table against `required`: a housekeeping-only table of unknown shape is dropped
 * from `tables` (skipped rather than guessed); a core table of unknown shape throws `unknown(reason)`.
 */
export function checkSqlColumns(
  tables: { has(table: string): boolean; delete(table: string): boolean },
  columns: ReadonlyMap<string, ReadonlySet<string>>,
  required: Readonly<Record<string, readonly string[]>>,
  unknown: (found: string) => Error,
): void {
  for (const [table, needed] of Object.entries(required)) {
    if (!tables.has(table)) continue;
    const have = columns.get(table) ?? new Set<string>();
    const missing = needed.filter((c) => !have.has(c));
    if (missing.length === 0) continue;
    if (!OPTIONAL_SHAPE.has(table)) throw unknown(`${table} lacks column(s) ${missing.join(', ')}`);
    tables.delete(table);
  }
}
