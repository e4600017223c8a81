// Purges (or, in a dry run, counts) one batch of runs in one short InnoDB transaction: lock the batch's
// run rows (SELECT ... FOR UPDATE, re-read, H15), find children outside the batch, let the engine
// confirm, then delete checkpoints by exact key prefix (H9), events, steps, hooks, cancellation flags
// and the run rows. Ids go as literal lists (never `IN (SELECT ...)`: error 1093, no LIMIT in IN,
// H25). InnoDB checks the parent foreign key row by row, so run rows go one level at a time, leaves
// first: a run is deleted only after every child of it in the batch (H5).

import type mysql from 'mysql2/promise';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { purgeInBudgetedChunks, type TransactionBudget } from '../transaction-budget.js';
import { runColumns, toRunState, type RunRow } from './candidates.js';
import type { MysqlLayout } from './layout.js';
import { inTransaction } from './transaction.js';

const KIND_OF = { events: 'events', steps: 'steps', hooks: 'hooks', cancellation_flags: 'cancellationFlags' } as const;

/** Runs per checkpoint statement: one index range each, OR-ed. */
const CHECKPOINT_RANGES_PER_STATEMENT = 100;

export interface PurgeContext {
  conn: mysql.Connection;
  layout: MysqlLayout;
  budget: TransactionBudget;
  logger: Logger;
}

/** Purges a batch in one transaction, or in consecutive ones the transaction budget keeps short. */
export function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean, signal?: AbortSignal): Promise<PurgeResult> {
  return purgeInBudgetedChunks(ctx.budget, batch, (chunk, purgedBefore) => purgeChunk(ctx, batch, chunk.map((r) => r.runId).sort(), purgedBefore, dryRun), signal);
}

async function purgeChunk(ctx: PurgeContext, batch: PurgeBatch, ids: string[], purgedBefore: ReadonlySet<string>, dryRun: boolean): Promise<PurgeResult> {
  return inTransaction(ctx.conn, { what: `purge ${ids.length} runs`, readOnly: dryRun, logger: ctx.logger }, async () => {
    const { conn, layout } = ctx;
    const [rows] = await conn.query<RunRow[]>(
      `SELECT ${runColumns(layout)} FROM workflow_runs WHERE run_id IN (?) ORDER BY run_id${dryRun ? '' : ' FOR UPDATE'}`,
      [ids],
    );
    let outside: Pick<RunState, 'runId' | 'parentRunId'>[] = [];
    if (layout.hasParentColumn) {
      // Children of the chunk, minus the chunk itself in JS: a NOT IN list makes the optimizer give up
      // the clean range over idx_runs_parent_run_id.
      const [o] = await conn.query<mysql.RowDataPacket[]>(`SELECT run_id, parent_run_id FROM workflow_runs ${layout.parentIndexHint} WHERE parent_run_id IN (?)`, [ids]);
      const inChunk = new Set(ids);
      outside = o
        .filter((r) => !inChunk.has(String(r.run_id)) && !purgedBefore.has(String(r.run_id)))
        .map((r) => ({ runId: String(r.run_id), parentRunId: String(r.parent_run_id) }));
    }
    // Runs outside the chunk are not in the rows read: confirm() treats them as gone and keeps to the chunk.
    const confirmed = batch.confirm(rows.map(toRunState), outside);
    if (confirmed.length === 0) return { counts: {}, purgedRunIds: [] };
    const doomed = confirmed.map((r) => r.runId);
    const counts: Partial<KindCounts> = {};
    const add = (kind: keyof KindCounts, n: number): void => {
      counts[kind] = (counts[kind] ?? 0) + n;
    };
    const exec = async (verb: 'DELETE' | 'COUNT', from: string, where: string, params: unknown[]): Promise<number> => {
      if (verb === 'COUNT') {
        const [r] = await conn.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${from} WHERE ${where}`, params);
        return Number(r[0]?.n ?? 0);
      }
      const [res] = await conn.query<mysql.ResultSetHeader>(`DELETE FROM ${from} WHERE ${where}`, params);
      return res.affectedRows;
    };
    const verb = dryRun ? 'COUNT' : 'DELETE';

    if (layout.tables.has('checkpoints')) {
      for (let i = 0; i < doomed.length; i += CHECKPOINT_RANGES_PER_STATEMENT) {
        const { where, params } = checkpointPredicate(doomed.slice(i, i + CHECKPOINT_RANGES_PER_STATEMENT));
        add('checkpoints', await exec(verb, 'checkpoints', where, params));
      }
    }
    for (const table of ['events', 'steps', 'hooks', 'cancellation_flags'] as const) {
      if (layout.tables.has(table)) add(KIND_OF[table], await exec(verb, table, 'run_id IN (?)', [doomed]));
    }
    for (const level of levelsLeavesFirst(confirmed)) {
      add('runs', await exec(verb, 'workflow_runs', 'run_id IN (?)', [level]));
    }
    return { counts, purgedRunIds: doomed };
  });
}

/**
 * The exact key prefix `{run_id}:` per run. The column's collation (utf8mb4_unicode_ci) is
 * case-insensitive and orders ';' before ':', so no key range is exact: an escaped LIKE prefix picks
 * the index range (a case-insensitive superset) and a binary comparison keeps exactly the prefix.
 */
export function checkpointPredicate(runIds: readonly string[]): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const parts = runIds.map((id) => {
    const prefix = `${id}:`;
    params.push(prefix.replace(/[!%_]/g, (c) => `!${c}`) + '%', [...prefix].length, prefix);
    return `(step_run_id LIKE ? ESCAPE '!' AND CAST(LEFT(step_run_id, ?) AS BINARY) = CAST(? AS BINARY))`;
  });
  return { where: parts.join(' OR '), params };
}

/**
 * Splits confirmed runs into levels: level 0 has no child in the batch, level n+1 only children in
 * levels up to n. Deleting level by level never removes a parent before its child, whatever order
 * InnoDB visits rows in.
 */
export function levelsLeavesFirst(runs: readonly RunState[]): string[][] {
  const inBatch = new Set(runs.map((r) => r.runId));
  const children = new Map<string, string[]>();
  for (const r of runs) {
    if (r.parentRunId !== null && inBatch.has(r.parentRunId)) children.set(r.parentRunId, [...(children.get(r.parentRunId) ?? []), r.runId]);
  }
  const level = new Map<string, number>();
  const levelOf = (id: string, depth = 0): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    // pyworkflow nests at most 3 deep; a longer chain is a cycle, which confirm() never passes.
    const l = depth > 64 ? 0 : Math.max(-1, ...(children.get(id) ?? []).map((c) => levelOf(c, depth + 1))) + 1;
    level.set(id, l);
    return l;
  };
  const out: string[][] = [];
  for (const r of runs) {
    const l = levelOf(r.runId);
    (out[l] ??= []).push(r.runId);
  }
  return out.filter((l) => l !== undefined && l.length > 0);
}
