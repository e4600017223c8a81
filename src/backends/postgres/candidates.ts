// Candidate runs in keyset pages over the primary key (workflow_runs_pkey), and children through
// idx_runs_parent_run_id. The cutoff is bound as an instant (timestamptz), so the server compares
// exactly as pyworkflow does (docs/storage.md#time). Every statement is a plain single-table read Citus can route.

import type pg from 'pg';
import type { CandidateQuery, RunState } from '../backend.js';
import type { PostgresLayout } from './layout.js';

export interface RunRow {
  run_id: string;
  status: string;
  updated_at: Date | null;
  parent_run_id: string | null;
}

export function toRunState(r: RunRow): RunState {
  return { runId: r.run_id, status: r.status, updatedAt: r.updated_at, parentRunId: r.parent_run_id };
}

export function runColumns(layout: PostgresLayout): string {
  return `run_id, status, updated_at, ${layout.hasParentColumn ? 'parent_run_id' : 'NULL::text AS parent_run_id'}`;
}

/**
 * One page after `after` (exclusive) in run_id order. A page walks the primary key from where the
 * previous one stopped, so a whole sweep reads the table once however many runs it deletes between
 * pages, and a deleted run can neither be skipped nor repeated.
 */
export async function candidatePage(client: pg.Client, layout: PostgresLayout, query: CandidateQuery, after: string | null): Promise<RunRow[]> {
  const sql =
    `SELECT ${runColumns(layout)} FROM workflow_runs
      WHERE run_id > $1 AND status = ANY($2::text[]) AND updated_at < $3::timestamptz
      ORDER BY run_id LIMIT $4`;
  // '' sorts before every run id in any collation, so the first page needs no special statement.
  const res = await client.query<RunRow>({ name: `pywr-candidates-${layout.hasParentColumn}`, text: sql, values: [after ?? '', [...query.statuses], query.cutoff.toISOString(), query.pageSize] });
  return res.rows;
}

/**
 * How many runs match now, for progress only. Counting needs a full scan (pyworkflow has no index on
 * updated_at), so it gets a short timeout and reports 0 ("unknown") rather than delay the sweep.
 */
export async function countCandidates(client: pg.Client, query: CandidateQuery, timeoutMs: number): Promise<number> {
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    const res = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM workflow_runs WHERE status = ANY($1::text[]) AND updated_at < $2::timestamptz',
      [[...query.statuses], query.cutoff.toISOString()],
    );
    await client.query('COMMIT');
    return Number(res.rows[0]?.n ?? 0);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code === '57014') return 0; // statement_timeout: unknown
    throw err;
  }
}

export async function childrenOf(client: pg.Client, layout: PostgresLayout, parentRunIds: readonly string[]): Promise<RunRow[]> {
  if (!layout.hasParentColumn || parentRunIds.length === 0) return [];
  const res = await client.query<RunRow>({
    name: 'pywr-children',
    text: `SELECT ${runColumns(layout)} FROM workflow_runs WHERE parent_run_id = ANY($1::text[])`,
    values: [[...parentRunIds]],
  });
  return res.rows;
}
