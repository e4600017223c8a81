// The orphan sweep of a MySQL/MariaDB store (`--orphans`, semantics at OrphanRequest in backend.ts):
// per-run rows whose run_id has no workflow_runs row. With pyworkflow's foreign keys these are
// checkpoints (no FK), plus rows written with foreign_key_checks off.
// - groups are found in bounded keyset pages over each table's run_id index / the checkpoint key,
//   one group per spelling of a run id;
//   a checkpoint's run is the key part before its first ':' (stream-step keys have none);
// - each transaction (sized by the purge's transaction budget) runs at REPEATABLE READ and reads with
//   FOR UPDATE: the locking read of the groups' run ids in workflow_runs locks the gaps where those
//   keys would go, so a run inserted meanwhile waits for this short transaction (and then keeps its
//   data) instead of racing it; the locking reads of the groups' rows keep new rows out of them, so a
//   group is dated whole and goes whole. Whether a run record exists is judged by the server under the
//   column's collation (case-insensitive): a run id that matches a record in any case is kept;
// - rows are matched byte for byte (utf8mb4_unicode_ci would also match other cases): run ids by a
//   binary comparison beside the indexed one, checkpoints by the purge's exact prefix predicate, then
//   deleted by the keys read. Ids always go as literal lists, never `IN (SELECT ...)` (error 1093, H25).

import type mysql from 'mysql2/promise';
import { CancelledError } from '../../errors.js';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { OrphanRequest } from '../backend.js';
import { SQL_CHECKPOINT_TIMES, SQL_PER_RUN_KINDS } from '../sql-layout.js';
import { addPartialCounts, sweepOrphanBatches, type TransactionBudget } from '../transaction-budget.js';
import { PER_RUN_TABLES, type MysqlLayout } from './layout.js';
import { checkpointPredicate } from './purge.js';
import { formatDatetime6 } from './time.js';
import { inTransaction } from './transaction.js';

const PER_RUN = SQL_PER_RUN_KINDS;
const CHECKPOINT_TIMES = SQL_CHECKPOINT_TIMES;

/** Distinct run ids (or checkpoint keys) per discovery statement. */
const DISCOVERY_PAGE = 2000;
/** Run ids per statement of the checkpoint prefix predicate and of the run-record test. */
const IDS_PER_STATEMENT = 100;

export interface OrphanContext {
  conn: mysql.Connection;
  layout: MysqlLayout;
  budget: TransactionBudget;
  logger: Logger;
}

export async function runMysqlOrphanSweep(ctx: OrphanContext, request: OrphanRequest): Promise<void> {
  const groups = await orphanGroups(ctx, request.signal);
  await sweepOrphanBatches(ctx.budget, groups, request, (chunk) => sweepChunk(ctx, chunk, request));
}

/**
 * Run ids that own per-run rows or `{run_id}:` checkpoints and (compared byte for byte) no run record,
 * sorted. A superset is harmless: each transaction asks the server again under the collation.
 */
async function orphanGroups(ctx: OrphanContext, signal: AbortSignal): Promise<string[]> {
  const { conn, layout } = ctx;
  const found = new Set<string>();
  const keepOrphans = async (ids: string[]): Promise<void> => {
    if (ids.length === 0) return;
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT run_id FROM workflow_runs WHERE run_id IN (?)', [ids]);
    const withRun = new Set(rows.map((r) => String(r.run_id)));
    for (const id of ids) if (!withRun.has(id)) found.add(id);
  };
  const page = async (sql: string, after: string): Promise<string[]> => {
    if (signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
    const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql, rowsAsArray: true }, [after]);
    return rows.map((r) => String((r as unknown as unknown[])[0]));
  };
  for (const table of PER_RUN_TABLES) {
    if (!layout.tables.has(table)) continue;
    // '' sorts before every run id; each page walks the run_id index on from the last id.
    for (let after = ''; ; ) {
      const ids = await page(`SELECT DISTINCT run_id FROM ${table} WHERE run_id > ? ORDER BY run_id LIMIT ${DISCOVERY_PAGE}`, after);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      // DISTINCT under the collation gives one spelling per case-insensitive class: every spelling is a group.
      const [spellings] = await conn.query<mysql.RowDataPacket[]>(`SELECT DISTINCT CAST(run_id AS BINARY) AS rid FROM ${table} WHERE run_id IN (?)`, [ids]);
      await keepOrphans(spellings.map((r) => binaryText(r.rid)));
    }
  }
  if (layout.tables.has('checkpoints')) {
    for (let after = ''; ; ) {
      const keys = await page(`SELECT step_run_id FROM checkpoints WHERE step_run_id > ? ORDER BY step_run_id LIMIT ${DISCOVERY_PAGE}`, after);
      if (keys.length === 0) break;
      after = keys[keys.length - 1]!;
      await keepOrphans([...new Set(keys.map(checkpointRunId).filter((id): id is string => id !== null))]);
    }
  }
  return [...found].sort();
}

/** The run id of a checkpoint key `{run_id}:{step_id}`; null for a key without one (stream steps). */
function checkpointRunId(key: string): string | null {
  const i = key.indexOf(':');
  return i > 0 ? key.slice(0, i) : null;
}

/** A `CAST(... AS BINARY)` value as the string it holds (utf8mb4 bytes). */
function binaryText(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** 1 when the row is older than the cutoff by every set timestamp; a zero or unreadable date keeps its group. */
function oldExpr(columns: ReadonlySet<string> | undefined, times: readonly string[], cutoff: string): string {
  const present = times.filter((c) => columns?.has(c) === true);
  if (present.length === 0) return '0';
  return present.map((c) => `(\`${c}\` IS NULL OR (\`${c}\` >= '1000-01-01' AND \`${c}\` < '${cutoff}'))`).join(' AND ');
}

interface GroupState {
  counts: Partial<KindCounts>;
  old: boolean;
  checkpointKeys: string[];
}

/** One transaction: lock and re-check the run records, date every record of each group, delete (or count) the old groups. */
async function sweepChunk(ctx: OrphanContext, ids: readonly string[], request: OrphanRequest): Promise<Partial<KindCounts>> {
  const { conn, layout } = ctx;
  const dryRun = request.dryRun;
  // DATETIME(6) text of the cutoff: digits and separators only, safe as a literal.
  const cutoff = formatDatetime6(request.orphanCutoff);
  const lock = dryRun ? '' : ' FOR UPDATE';
  const tables = PER_RUN_TABLES.filter((t) => layout.tables.has(t));
  return inTransaction(conn, { what: `orphans ${ids.length} groups`, readOnly: dryRun, repeatableRead: true, logger: ctx.logger }, async () => {
    const groups = new Map<string, GroupState>(ids.map((id) => [id, { counts: {}, old: true, checkpointKeys: [] }]));
    for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
      const slice = ids.slice(i, i + IDS_PER_STATEMENT);
      // Locks the run records, or the gaps where they would go, until commit.
      if (!dryRun) await conn.query('SELECT run_id FROM workflow_runs WHERE run_id IN (?) FOR UPDATE', [slice]);
      // Which ids match a run record, compared as pyworkflow's own queries compare (the column's collation).
      const [withRun] = await conn.query<mysql.RowDataPacket[]>({
        sql: `SELECT x.id FROM (${slice.map(() => 'SELECT ? AS id').join(' UNION ALL ')}) x WHERE EXISTS (SELECT 1 FROM workflow_runs w WHERE w.run_id = x.id)`,
        rowsAsArray: true,
      }, slice);
      for (const r of withRun) groups.delete(String((r as unknown as unknown[])[0]));
    }
    const live = [...groups.keys()];
    if (live.length === 0) return {};

    for (const t of tables) {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        `SELECT CAST(run_id AS BINARY) AS rid, COUNT(*) AS n, MIN(${oldExpr(layout.columns.get(t), PER_RUN[t].times, cutoff)}) AS old
           FROM ${t} WHERE run_id IN (?) AND CAST(run_id AS BINARY) IN (?) GROUP BY CAST(run_id AS BINARY)${lock}`,
        [live, live],
      );
      for (const r of rows) {
        const g = groups.get(binaryText(r.rid));
        if (!g) continue;
        g.old &&= Number(r.old) === 1;
        g.counts[PER_RUN[t].kind] = (g.counts[PER_RUN[t].kind] ?? 0) + Number(r.n);
      }
    }
    if (layout.tables.has('checkpoints')) {
      for (let i = 0; i < live.length; i += IDS_PER_STATEMENT) {
        const { where, params } = checkpointPredicate(live.slice(i, i + IDS_PER_STATEMENT));
        const [rows] = await conn.query<mysql.RowDataPacket[]>(
          `SELECT step_run_id, ${oldExpr(layout.columns.get('checkpoints'), CHECKPOINT_TIMES, cutoff)} AS old FROM checkpoints WHERE ${where}${lock}`,
          params,
        );
        for (const r of rows) {
          const key = String(r.step_run_id);
          const runId = checkpointRunId(key);
          const g = runId === null ? undefined : groups.get(runId);
          if (!g) continue;
          g.old &&= Number(r.old) === 1;
          g.checkpointKeys.push(key);
        }
      }
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
    // Only rows the locking reads above saw and locked: nothing can have joined or left a group since.
    if (keys.length > 0) {
      const [res] = await conn.query<mysql.ResultSetHeader>('DELETE FROM checkpoints WHERE step_run_id IN (?)', [keys]);
      counts.checkpoints = res.affectedRows;
    }
    for (const t of tables) {
      const [res] = await conn.query<mysql.ResultSetHeader>(`DELETE FROM ${t} WHERE run_id IN (?) AND CAST(run_id AS BINARY) IN (?)`, [doomedIds, doomedIds]);
      counts[PER_RUN[t].kind] = (counts[PER_RUN[t].kind] ?? 0) + res.affectedRows;
    }
    return counts;
  });
}
