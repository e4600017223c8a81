// Purges (or, in a dry run, counts) one batch of runs in one short transaction: lock the batch's run
// rows and re-read them (H15), find children outside the batch, let the engine confirm, then delete
// checkpoints by exact key prefix (H9), events, steps, hooks, cancellation flags and finally the run
// rows, counting exact affected rows. Every statement names its rows by literal id arrays
// (`= ANY($1)`), so Citus routes each one (H23); statements after the lock go out pipelined.

import type pg from 'pg';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { runColumns, toRunState, type RunRow } from './candidates.js';
import type { PerRunTable, PostgresLayout } from './layout.js';
import { inTransaction } from './transaction.js';

const KIND_OF: Record<PerRunTable | 'workflow_runs', keyof KindCounts> = {
  events: 'events',
  steps: 'steps',
  hooks: 'hooks',
  cancellation_flags: 'cancellationFlags',
  workflow_runs: 'runs',
};

/** Runs per checkpoint statement: one index range each, OR-ed; small enough to plan in well under a millisecond. */
const CHECKPOINT_RANGES_PER_STATEMENT = 100;

export interface PurgeContext {
  client: pg.Client;
  layout: PostgresLayout;
  /** Citus takes row locks only in single-shard (router) statements: lock run by run. */
  citus: boolean;
  logger: Logger;
}

export async function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean): Promise<PurgeResult> {
  const ids = [...new Set(batch.runs.map((r) => r.runId))].sort();
  return inTransaction(ctx.client, { what: `purge ${ids.length} runs`, readOnly: dryRun, logger: ctx.logger }, async () => {
    const [current, outside] = await readBatch(ctx, ids, !dryRun);
    const confirmed = batch.confirm(current, outside);
    if (confirmed.length === 0) return { counts: {}, purgedRunIds: [] };
    const doomed = confirmed.map((r) => r.runId);
    const counts = dryRun ? await countRelated(ctx, doomed) : await deleteRelated(ctx, doomed);
    return { counts, purgedRunIds: doomed };
  });
}

/** The batch's runs as they are now (locked FOR UPDATE unless counting), and their children outside it. */
async function readBatch(ctx: PurgeContext, ids: string[], lock: boolean): Promise<[RunState[], Pick<RunState, 'runId' | 'parentRunId'>[]]> {
  const { client, layout } = ctx;
  const cols = runColumns(layout);
  let reads: Promise<RunRow[]>[];
  if (lock && ctx.citus) {
    // In id order, so two lockers (ours and a pyworkflow writer) never wait on each other in a cycle.
    reads = ids.map((id) =>
      client.query<RunRow>({ name: `pywr-lock-one-${layout.hasParentColumn}`, text: `SELECT ${cols} FROM workflow_runs WHERE run_id = $1 FOR UPDATE`, values: [id] }).then((r) => r.rows),
    );
  } else {
    reads = [
      client
        .query<RunRow>({
          name: `pywr-read-batch-${lock}-${layout.hasParentColumn}`,
          text: `SELECT ${cols} FROM workflow_runs WHERE run_id = ANY($1::text[]) ORDER BY run_id${lock ? ' FOR UPDATE' : ''}`,
          values: [ids],
        })
        .then((r) => r.rows),
    ];
  }
  const outsideRead = layout.hasParentColumn
    ? client
        .query<{ run_id: string; parent_run_id: string }>({
          name: 'pywr-outside-children',
          text: 'SELECT run_id, parent_run_id FROM workflow_runs WHERE parent_run_id = ANY($1::text[]) AND NOT (run_id = ANY($1::text[]))',
          values: [ids],
        })
        .then((r) => r.rows)
    : Promise.resolve([]);
  const [rows, outsideRows] = await settleInOrder([Promise.all(reads).then((parts) => parts.flat()), outsideRead]);
  return [rows.map(toRunState), outsideRows.map((r) => ({ runId: r.run_id, parentRunId: r.parent_run_id }))];
}

interface Statement {
  kind: keyof KindCounts;
  name?: string;
  text: string;
  values: unknown[];
}

/** Deletes per kind, dependents first and run rows last, pipelined; counts are the rows each statement removed. */
async function deleteRelated(ctx: PurgeContext, doomed: string[]): Promise<Partial<KindCounts>> {
  const statements = [...(await checkpointStatements(ctx, doomed, 'DELETE FROM')), ...perRunStatements(ctx, doomed, 'DELETE FROM')];
  const results = await settleInOrder(statements.map((s) => ctx.client.query(s.name ? { name: s.name, text: s.text, values: s.values } : { text: s.text, values: s.values })));
  const counts: Partial<KindCounts> = {};
  results.forEach((r, i) => {
    const kind = statements[i]!.kind;
    counts[kind] = (counts[kind] ?? 0) + (r.rowCount ?? 0);
  });
  return counts;
}

/** The same predicates as deleteRelated, counted (a dry run's snapshot sees exactly what a purge would delete). */
async function countRelated(ctx: PurgeContext, doomed: string[]): Promise<Partial<KindCounts>> {
  const statements = [...(await checkpointStatements(ctx, doomed, 'SELECT count(*) AS n FROM')), ...perRunStatements(ctx, doomed, 'SELECT count(*) AS n FROM')];
  const results = await settleInOrder(statements.map((s) => ctx.client.query<{ n: string }>({ text: s.text, values: s.values })));
  const counts: Partial<KindCounts> = {};
  results.forEach((r, i) => {
    const kind = statements[i]!.kind;
    counts[kind] = (counts[kind] ?? 0) + Number(r.rows[0]?.n ?? 0);
  });
  return counts;
}

function perRunStatements(ctx: PurgeContext, doomed: string[], verb: string): Statement[] {
  const out: Statement[] = [];
  for (const table of ['events', 'steps', 'hooks', 'cancellation_flags', 'workflow_runs'] as const) {
    if (!ctx.layout.tables.has(table)) continue;
    // Run rows last: explicit deletes of every dependent even where pyworkflow declared ON DELETE
    // CASCADE (Citus has none), so nothing is removed uncounted. Parent and child run rows may share
    // the statement: PostgreSQL checks the parent foreign key at statement end.
    out.push({ kind: KIND_OF[table], name: `pywr-${verb.startsWith('DELETE') ? 'del' : 'cnt'}-${table}`, text: `${verb} ${table} WHERE run_id = ANY($1::text[])`, values: [doomed] });
  }
  return out;
}

async function checkpointStatements(ctx: PurgeContext, doomed: string[], verb: string): Promise<Statement[]> {
  if (!ctx.layout.tables.has('checkpoints')) return [];
  if (ctx.layout.checkpointMatch === 'range') {
    // Exact prefix `{run_id}:` as the primary-key range [R:, R;) — ';' is the code point after ':'.
    // Never LIKE: its '_' wildcard would match other runs' keys (H9).
    const out: Statement[] = [];
    for (let i = 0; i < doomed.length; i += CHECKPOINT_RANGES_PER_STATEMENT) {
      const chunk = doomed.slice(i, i + CHECKPOINT_RANGES_PER_STATEMENT);
      const values: string[] = [];
      const ranges = chunk.map((id) => {
        values.push(`${id}:`, `${id};`);
        return `(step_run_id >= $${values.length - 1} AND step_run_id < $${values.length})`;
      });
      out.push({ kind: 'checkpoints', text: `${verb} checkpoints WHERE ${ranges.join(' OR ')}`, values });
    }
    return out;
  }
  const keys = await eventCheckpointKeys(ctx, doomed);
  return keys.length === 0 ? [] : [{ kind: 'checkpoints', text: `${verb} checkpoints WHERE step_run_id = ANY($1::text[])`, values: [keys] }];
}

/**
 * `{run_id}:{step_id}` for every step id the runs' events and step records name: the keys pyworkflow's
 * @step checkpoints use. Only needed where the collation keeps no prefix contiguous (see layout.ts).
 */
async function eventCheckpointKeys(ctx: PurgeContext, doomed: string[]): Promise<string[]> {
  const { layout } = ctx;
  const parts: string[] = [];
  if (layout.tables.has('events')) {
    const stepId = layout.columns.get('events')?.has('step_id')
      ? `COALESCE(step_id, substring(data from '"step_id"\\s*:\\s*"([^"]+)"'))`
      : `substring(data from '"step_id"\\s*:\\s*"([^"]+)"')`;
    parts.push(`SELECT run_id || ':' || ${stepId} AS k FROM events WHERE run_id = ANY($1::text[])`);
  }
  if (layout.tables.has('steps')) parts.push(`SELECT run_id || ':' || step_id AS k FROM steps WHERE run_id = ANY($1::text[])`);
  if (parts.length === 0) return [];
  const res = await ctx.client.query<{ k: string | null }>(`SELECT DISTINCT k FROM (${parts.join(' UNION ALL ')}) x WHERE k IS NOT NULL`, [doomed]);
  return res.rows.map((r) => r.k!);
}

/** Awaits pipelined queries and rethrows the first failure in send order (later ones only echo it). */
export async function settleInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
