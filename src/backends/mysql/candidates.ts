// Candidate runs in keyset pages over the PRIMARY KEY (run_id), and children through
// idx_runs_parent_run_id. The cutoff is bound as UTC DATETIME(6) text, compared by the server as
// naive values exactly like pyworkflow's own statements (docs/storage.md#time).

import type mysql from 'mysql2/promise';
import type { CandidateQuery, RunState } from '../backend.js';
import type { MysqlLayout } from './layout.js';
import { formatDatetime6, parseDatetime6 } from './time.js';

export interface RunRow extends mysql.RowDataPacket {
  run_id: string;
  status: string;
  updated_at: string | null;
  parent_run_id: string | null;
}

export function toRunState(r: RunRow): RunState {
  return { runId: r.run_id, status: r.status, updatedAt: parseDatetime6(r.updated_at), parentRunId: r.parent_run_id };
}

export function runColumns(layout: MysqlLayout): string {
  return `run_id, status, updated_at, ${layout.hasParentColumn ? 'parent_run_id' : 'NULL AS parent_run_id'}`;
}

/**
 * One page after `after` in run_id order (the table's collation): the primary key is walked once per
 * sweep however many runs are deleted between pages, none skipped or repeated.
 */
export async function candidatePage(conn: mysql.Connection, layout: MysqlLayout, query: CandidateQuery, after: string | null): Promise<RunRow[]> {
  const keyset = after === null ? '' : 'run_id > ? AND ';
  const params: unknown[] = [...(after === null ? [] : [after]), [...query.statuses], formatDatetime6(query.cutoff)];
  const [rows] = await conn.query<RunRow[]>(
    `SELECT ${runColumns(layout)} FROM workflow_runs FORCE INDEX (PRIMARY)
      WHERE ${keyset}status IN (?) AND updated_at < ? ORDER BY run_id LIMIT ${Math.floor(query.pageSize)}`,
    params,
  );
  return rows;
}

/** For progress only: a full scan, bounded by a short timeout; 0 means unknown. */
export async function countCandidates(conn: mysql.Connection, query: CandidateQuery, mariadb: boolean, timeoutMs: number): Promise<number> {
  const hint = mariadb ? `SET STATEMENT max_statement_time = ${timeoutMs / 1000} FOR ` : '';
  const maxTime = mariadb ? '' : `/*+ MAX_EXECUTION_TIME(${Math.floor(timeoutMs)}) */ `;
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `${hint}SELECT ${maxTime}COUNT(*) AS n FROM workflow_runs WHERE status IN (?) AND updated_at < ?`,
      [[...query.statuses], formatDatetime6(query.cutoff)],
    );
    return Number(rows[0]?.n ?? 0);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ER_STATEMENT_TIMEOUT' || code === 'ER_QUERY_TIMEOUT' || (err as { errno?: number }).errno === 1969 || (err as { errno?: number }).errno === 3024) return 0;
    throw err;
  }
}

export async function childrenOf(conn: mysql.Connection, layout: MysqlLayout, parentRunIds: readonly string[]): Promise<RunRow[]> {
  if (!layout.hasParentColumn || parentRunIds.length === 0) return [];
  // Most runs have no parent: InnoDB's statistics count the NULLs as one huge key group, and with more
  // ids than eq_range_index_dive_limit the optimizer would scan the table instead of idx_runs_parent_run_id.
  const [rows] = await conn.query<RunRow[]>(`SELECT ${runColumns(layout)} FROM workflow_runs ${layout.parentIndexHint} WHERE parent_run_id IN (?)`, [[...parentRunIds]]);
  return rows;
}
