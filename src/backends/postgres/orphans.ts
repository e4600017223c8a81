// The orphan sweep of a PostgreSQL/Citus store (`--orphans`, semantics at OrphanRequest in backend.ts):
// per-run rows whose run_id has no workflow_runs row. With pyworkflow's foreign keys (postgres) these
// are checkpoints (no FK; pyworkflow's own retention never deletes them, H9) and rows written with
// enforcement off; the Citus layout has no foreign keys at all, so any per-run table can hold them.
// - groups are found in bounded keyset pages over each table's run_id index / the checkpoint key,
//   each page's ids looked up in workflow_runs; a checkpoint's run is the key part before its first ':'
//   (stream-step keys have none and belong to no run);
// - each transaction (sized by the purge's transaction budget) runs at REPEATABLE READ: the run-record
//   check, the per-group age gate and the deletes all see one snapshot, so a group goes whole or not at
//   all, and a run inserted before that snapshot keeps its data. On postgres every DELETE also repeats
//   `NOT EXISTS (run record)`; on Citus statements stay routable (literal id arrays, no subqueries, H23);
// - a run's checkpoints are the exact key range [R:, R;) (checkpoints.ts), or under a linguistic
//   collation the exact run part of the key; they are deleted by the keys read, never by a LIKE.

import type pg from 'pg';
import { CancelledError } from '../../errors.js';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { OrphanRequest, RunState } from '../backend.js';
import { SQL_CHECKPOINT_TIMES, SQL_PER_RUN_KINDS } from '../sql-layout.js';
import { addPartialCounts, sweepOrphanBatches, type TransactionBudget } from '../transaction-budget.js';
import { rangeStatements } from './checkpoints.js';
import { PER_RUN_TABLES, type PostgresLayout } from './layout.js';
import { settleInOrder } from './purge.js';
import { inTransaction } from './transaction.js';

const PER_RUN = SQL_PER_RUN_KINDS;
const CHECKPOINT_TIMES = SQL_CHECKPOINT_TIMES;

/** Distinct run ids (or checkpoint keys) per discovery statement: a short index range each. */
const DISCOVERY_PAGE = 2000;

export interface OrphanContext {
  client: pg.Client;
  layout: PostgresLayout;
  /** Citus routes only plain statements over literal id arrays: no correlated subqueries. */
  citus: boolean;
  budget: TransactionBudget;
  logger: Logger;
}

export async function runPostgresOrphanSweep(ctx: OrphanContext, request: OrphanRequest): Promise<void> {
  const groups = await orphanGroups(ctx, request.signal);
  await sweepOrphanBatches(ctx.budget, groups, request, (chunk) => sweepChunk(ctx, chunk, request));
}

/** Run ids that own per-run rows or `{run_id}:` checkpoints but have no run record, sorted. */
async function orphanGroups(ctx: OrphanContext, signal: AbortSignal): Promise<string[]> {
  const { client, layout } = ctx;
  const found = new Set<string>();
  const keepOrphans = async (ids: string[]): Promise<void> => {
    if (ids.length === 0) return;
    const res = await client.query<{ run_id: string }>({ name: 'pywr-orphan-has-run', text: 'SELECT run_id FROM workflow_runs WHERE run_id = ANY($1::text[])', values: [ids] });
    const withRun = new Set(res.rows.map((r) => r.run_id));
    for (const id of ids) if (!withRun.has(id)) found.add(id);
  };
  for (const table of PER_RUN_TABLES) {
    if (!layout.tables.has(table)) continue;
    // '' sorts before every run id in any collation; each page walks the run_id index from the last id.
    for (let after = ''; ; ) {
      if (signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
      const res = await client.query<{ run_id: string }>({
        name: `pywr-orphan-ids-${table}`,
        text: `SELECT DISTINCT run_id FROM ${table} WHERE run_id > $1 ORDER BY run_id LIMIT $2`,
        values: [after, DISCOVERY_PAGE],
      });
      if (res.rows.length === 0) break;
      after = res.rows[res.rows.length - 1]!.run_id;
      await keepOrphans(res.rows.map((r) => r.run_id));
    }
  }
  if (layout.tables.has('checkpoints')) {
    for (let after = ''; ; ) {
      if (signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
      const res = await client.query<{ step_run_id: string }>({
        name: 'pywr-orphan-checkpoint-keys',
        text: 'SELECT step_run_id FROM checkpoints WHERE step_run_id > $1 ORDER BY step_run_id LIMIT $2',
        values: [after, DISCOVERY_PAGE],
      });
      if (res.rows.length === 0) break;
      after = res.rows[res.rows.length - 1]!.step_run_id;
      await keepOrphans([...new Set(res.rows.map((r) => checkpointRunId(r.step_run_id)).filter((id): id is string => id !== null))]);
    }
  }
  return [...found].sort();
}

/** The run id of a checkpoint key `{run_id}:{step_id}`; null for a key without one (stream steps). */
export function checkpointRunId(key: string): string | null {
  const i = key.indexOf(':');
  return i > 0 ? key.slice(0, i) : null;
}

/** `col` dates its row before the cutoff (or is not set); infinity is no date and keeps the group. */
function oldExpr(columns: ReadonlySet<string> | undefined, times: readonly string[], cutoff: string): string {
  const present = times.filter((c) => columns?.has(c) === true);
  if (present.length === 0) return 'false'; // a row that cannot be dated keeps its group
  return present.map((c) => `(${c} IS NULL OR (isfinite(${c}) AND ${c} < '${cutoff}'::timestamptz))`).join(' AND ');
}

interface GroupState {
  counts: Partial<KindCounts>;
  old: boolean;
  checkpointKeys: string[];
}

/** One transaction: re-check the run records, date every record of each group, delete (or count) the old groups. */
async function sweepChunk(ctx: OrphanContext, ids: readonly string[], request: OrphanRequest): Promise<Partial<KindCounts>> {
  const { client, layout } = ctx;
  // A literal, not a parameter: the checkpoint range statements number their own parameters. ISO text only.
  const cutoff = request.orphanCutoff.toISOString();
  const tables = PER_RUN_TABLES.filter((t) => layout.tables.has(t));
  const dryRun = request.dryRun;
  return inTransaction(client, { what: `orphans ${ids.length} groups`, readOnly: dryRun, logger: ctx.logger }, async () => {
    // The deletes must see what the checks saw: one snapshot for the whole transaction.
    if (!dryRun) await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    // Sent pipelined, in this order: the run-record re-check, one aggregate per table, the checkpoints.
    const hasRun = client.query<{ run_id: string }>({ name: 'pywr-orphan-has-run', text: 'SELECT run_id FROM workflow_runs WHERE run_id = ANY($1::text[])', values: [ids] });
    const aggregates = tables.map((t) =>
      client.query<{ run_id: string; n: string; old: boolean }>({
        text: `SELECT run_id, count(*) AS n, bool_and(${oldExpr(layout.columns.get(t), PER_RUN[t].times, cutoff)}) AS old
                 FROM ${t} WHERE run_id = ANY($1::text[]) GROUP BY run_id`,
        values: [ids],
      }),
    );
    const checkpointRows = readCheckpoints(ctx, ids, cutoff);
    checkpointRows.catch(() => undefined); // awaited below; an earlier failure must not leave it unhandled
    const [withRun, ...perTable] = await settleInOrder([hasRun, ...aggregates]);
    const checkpoints = await checkpointRows;

    const groups = new Map<string, GroupState>(ids.map((id) => [id, { counts: {}, old: true, checkpointKeys: [] }]));
    for (const r of withRun.rows) groups.delete(r.run_id); // a run record appeared: the group is not an orphan
    perTable.forEach((res, i) => {
      const kind = PER_RUN[tables[i]!].kind;
      for (const r of res.rows) {
        const g = groups.get(r.run_id);
        if (!g) continue;
        g.old &&= r.old === true;
        g.counts[kind] = (g.counts[kind] ?? 0) + Number(r.n);
      }
    });
    for (const c of checkpoints) {
      const g = groups.get(c.runId);
      if (!g) continue;
      g.old &&= c.old;
      g.checkpointKeys.push(c.key);
    }
    const doomed = [...groups].filter(([, g]) => g.old);
    if (doomed.length === 0) return {};
    const counts: Partial<KindCounts> = {};
    if (dryRun) {
      for (const [, g] of doomed) {
        addPartialCounts(counts, g.counts);
        if (g.checkpointKeys.length > 0) counts.checkpoints = (counts.checkpoints ?? 0) + g.checkpointKeys.length;
      }
      return counts;
    }
    const doomedIds = doomed.map(([id]) => id);
    const keys = doomed.flatMap(([, g]) => g.checkpointKeys);
    // Postgres repeats the orphan test in each DELETE; Citus cannot route a correlated subquery, and the
    // snapshot already guarantees what it would (the same snapshot answered the run-record read above).
    const noRun = (col: string): string => (ctx.citus ? '' : ` AND NOT EXISTS (SELECT 1 FROM workflow_runs w WHERE w.run_id = ${col})`);
    const statements: { kind: keyof KindCounts; text: string; values: unknown[] }[] = [];
    if (keys.length > 0) {
      statements.push({
        kind: 'checkpoints',
        text: `DELETE FROM checkpoints c WHERE c.step_run_id = ANY($1::text[])${noRun(`split_part(c.step_run_id, ':', 1)`)}`,
        values: [keys],
      });
    }
    for (const t of tables) {
      statements.push({ kind: PER_RUN[t].kind, text: `DELETE FROM ${t} x WHERE x.run_id = ANY($1::text[])${noRun('x.run_id')}`, values: [doomedIds] });
    }
    const results = await settleInOrder(statements.map((s) => client.query({ text: s.text, values: s.values })));
    results.forEach((r, i) => {
      const kind = statements[i]!.kind;
      counts[kind] = (counts[kind] ?? 0) + (r.rowCount ?? 0);
    });
    return counts;
  });
}

/** Every `{id}:` checkpoint of the groups, with whether it is older than the cutoff. */
async function readCheckpoints(ctx: OrphanContext, ids: readonly string[], cutoff: string): Promise<{ key: string; runId: string; old: boolean }[]> {
  const { client, layout } = ctx;
  if (!layout.tables.has('checkpoints')) return [];
  const select = `SELECT step_run_id, ${oldExpr(layout.columns.get('checkpoints'), CHECKPOINT_TIMES, cutoff)} AS old FROM`;
  const statements =
    layout.checkpointMatch === 'range'
      ? // Exact ranges [R:, R;) on the primary key, as the purge uses for a run's checkpoints.
        rangeStatements(select, ids.map((runId): RunState => ({ runId, status: '', updatedAt: null, parentRunId: null })), false)
      : // A linguistic collation keeps no prefix contiguous: the key's exact run part (a scan of checkpoints).
        [{ text: `${select} checkpoints WHERE strpos(step_run_id, ':') > 1 AND split_part(step_run_id, ':', 1) = ANY($1::text[])`, values: [ids] as unknown[] }];
  const results = await settleInOrder(statements.map((s) => client.query<{ step_run_id: string; old: boolean }>({ text: s.text, values: s.values })));
  const wanted = new Set(ids);
  return results.flatMap((r) =>
    r.rows.flatMap((row) => {
      const runId = checkpointRunId(row.step_run_id);
      return runId !== null && wanted.has(runId) ? [{ key: row.step_run_id, runId, old: row.old === true }] : [];
    }),
  );
}
