// Reading runs: workflow_runs is the source of truth; runs_by_parent is only a hint, and each child it
// names is re-read from workflow_runs (an index row may outlive its run, or be ours half-purged).

import type { RunState } from '../backend.js';
import type { CassandraSession, Row } from './connection.js';
import { mapLimit } from './throttle.js';

/** The workflow_runs columns a purge needs to locate every row of the run. */
export interface RunRow extends RunState {
  createdAt: Date | null;
  workflowName: string | null;
  idempotencyKey: string | null;
}

export const RUN_COLUMNS = 'run_id, status, updated_at, parent_run_id, created_at, workflow_name, idempotency_key';

export function toRunRow(r: Row): RunRow {
  return {
    runId: r.get('run_id') as string,
    // A row written only by pyworkflow's blind UPDATEs (context, continuation) has no status: never a candidate.
    status: (r.get('status') as string | null) ?? '',
    updatedAt: validDate(r.get('updated_at')),
    parentRunId: (r.get('parent_run_id') as string | null) ?? null,
    createdAt: validDate(r.get('created_at')),
    workflowName: (r.get('workflow_name') as string | null) ?? null,
    idempotencyKey: (r.get('idempotency_key') as string | null) ?? null,
  };
}

function validDate(v: unknown): Date | null {
  return v instanceof Date && !Number.isNaN(v.getTime()) ? v : null;
}

export async function readRun(session: CassandraSession, runId: string): Promise<RunRow | null> {
  const row = await session.one(`SELECT ${RUN_COLUMNS} FROM ${session.table('workflow_runs')} WHERE run_id = ?`, [runId]);
  return row ? toRunRow(row) : null;
}

/** The runs that exist among `runIds` (single-partition reads, a few at a time). */
export async function readRuns(session: CassandraSession, runIds: readonly string[], concurrency: number): Promise<RunRow[]> {
  const rows = await mapLimit(runIds, concurrency, (id) => readRun(session, id));
  return rows.filter((r): r is RunRow => r !== null);
}

/** The run ids runs_by_parent lists under `parentRunId` (may include runs that no longer exist). */
export async function listedChildren(session: CassandraSession, parentRunId: string): Promise<string[]> {
  const rows = await session.all(`SELECT run_id FROM ${session.table('runs_by_parent')} WHERE parent_run_id = ?`, [parentRunId]);
  return rows.map((r) => r.get('run_id') as string);
}

/**
 * Children of the given parents as workflow_runs has them: each run listed in runs_by_parent is read
 * back and kept only if it exists and still names that parent.
 */
export async function readChildren(session: CassandraSession, parentRunIds: readonly string[], concurrency: number): Promise<RunRow[]> {
  const listed = await mapLimit(parentRunIds, concurrency, async (parent) => (await listedChildren(session, parent)).map((child) => ({ parent, child })));
  const pairs = listed.flat();
  const runs = await mapLimit(pairs, concurrency, async ({ parent, child }) => {
    const run = await readRun(session, child);
    return run !== null && run.parentRunId === parent ? run : null;
  });
  // A child listed twice (its created_at rewritten by hand) is still one run.
  const unique = new Map<string, RunRow>();
  for (const r of runs) if (r !== null) unique.set(r.runId, r);
  return [...unique.values()];
}
