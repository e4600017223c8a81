// Candidate runs by a paged token-range scan of workflow_runs (H1). pyworkflow's own selection from
// runs_by_status restricts half a partition key and is rejected by Cassandra; walking runs_by_status day
// buckets instead would trust an index with stale rows. The scan reads the run records themselves.
//
// Paging uses the driver's paging state, which resumes strictly after the last partition key returned.
// Deleting runs between pages moves no token, so nothing is skipped or repeated — and unlike a
// `token(run_id) > ?` keyset it also handles two run ids sharing one token.

import type { Logger } from '../../log.js';
import type { CandidateQuery } from '../backend.js';
import type { CassandraSession } from './connection.js';
import { RUN_COLUMNS, toRunRow, type RunRow } from './runs.js';

/**
 * Upper bound of one scan page, whatever the batch size. pyworkflow binds every unset column as null,
 * which Cassandra stores as a cell tombstone (7-14 per run row), and the node counts those against its
 * tombstone thresholds per page: 500 rows stay far below the default failure threshold (100k).
 * Partition tombstones of runs deleted by earlier sweeps are skipped without counting.
 */
const MAX_SCAN_PAGE = 500;

export async function* scanCandidates(session: CassandraSession, query: CandidateQuery, logger: Logger): AsyncIterable<RunRow[]> {
  const statuses = new Set<string>(query.statuses);
  const cutoff = query.cutoff.getTime();
  const fetchSize = Math.max(1, Math.min(query.pageSize, MAX_SCAN_PAGE));
  let state: string | undefined;
  do {
    const page = await session.page(`SELECT ${RUN_COLUMNS} FROM ${session.table('workflow_runs')}`, [], fetchSize, state);
    state = page.pageState ?? undefined;
    const candidates: RunRow[] = [];
    for (const row of page.rows) {
      const run = toRunRow(row);
      if (!statuses.has(run.status)) continue;
      if (run.updatedAt === null) {
        logger.warn('run kept: updated_at is not set', { runId: run.runId });
        continue;
      }
      if (run.updatedAt.getTime() < cutoff) candidates.push(run);
    }
    if (candidates.length > 0) yield candidates;
  } while (state);
}
