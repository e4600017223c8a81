// Purges (or, in a dry run, counts) one batch of runs in one short transaction: lock the batch's run
// rows and re-read them (H15), find children outside the batch, let the engine confirm, then delete
// checkpoints by exact key prefix (H9), events, steps, hooks, cancellation flags and finally the run
// rows, counting exact affected rows. Every statement names its rows by literal id arrays
// (`= ANY($1)`), so Citus routes each one (H23). Statements go out pipelined: one round trip for the
// reads, one for all deletes and the commit.

import type pg from 'pg';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { purgeInBudgetedChunks, type TransactionBudget } from '../transaction-budget.js';
import { runColumns, toRunState, type RunRow } from './candidates.js';
import { densityProbe, eventCheckpointKeys, isDense, rangeStatements, rootIds } from './checkpoints.js';
import type { PerRunTable, PostgresLayout } from './layout.js';
import { inTransaction } from './transaction.js';

const KIND_OF: Record<PerRunTable | 'workflow_runs', keyof KindCounts> = {
  events: 'events',
  steps: 'steps',
  hooks: 'hooks',
  cancellation_flags: 'cancellationFlags',
  workflow_runs: 'runs',
};

export interface PurgeContext {
  client: pg.Client;
  layout: PostgresLayout;
  /** Citus takes row locks only in single-shard (router) statements: lock run by run. */
  citus: boolean;
  budget: TransactionBudget;
  logger: Logger;
  /** A transaction id's fate, read on a new session (see transaction.ts): a lost COMMIT reply is resolved with it. */
  commitStatus?: (xid: string) => Promise<string | null>;
}

interface Statement {
  kind: keyof KindCounts;
  name?: string;
  text: string;
  values: unknown[];
}

/** Purges a batch in one transaction, or in consecutive ones the transaction budget keeps short. */
export function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean, signal?: AbortSignal): Promise<PurgeResult> {
  return purgeInBudgetedChunks(ctx.budget, batch, (chunk, purgedBefore) => purgeChunk(ctx, batch, chunk, purgedBefore, dryRun), signal);
}

async function purgeChunk(ctx: PurgeContext, batch: PurgeBatch, chunk: readonly RunState[], purgedBefore: ReadonlySet<string>, dryRun: boolean): Promise<PurgeResult> {
  const ids = chunk.map((r) => r.runId).sort();
  const probeRoots = ctx.layout.tables.has('checkpoints') && ctx.layout.checkpointMatch === 'range' ? rootIds(chunk) : [];
  const options = { what: `purge ${ids.length} runs`, readOnly: dryRun, logger: ctx.logger, ...(ctx.commitStatus ? { commitStatus: ctx.commitStatus } : {}) };
  return inTransaction(ctx.client, options, async () => {
    const [current, outside, stretch] = await settleInOrder([
      readRuns(ctx, ids, !dryRun),
      readOutsideChildren(ctx, ids),
      densityProbe(ctx.client, probeRoots),
    ] as const);
    // Runs outside the chunk are not in `current`: confirm() treats them as gone and keeps to the chunk.
    const confirmed = batch.confirm(current, outside.filter((c) => !purgedBefore.has(c.runId)));
    if (confirmed.length === 0) return { counts: {}, purgedRunIds: [] };
    const verb = dryRun ? 'SELECT count(*) AS n FROM' : 'DELETE FROM';
    const statements = [...(await checkpointStatements(ctx, verb, confirmed, isDense(stretch, probeRoots.length))), ...perRunStatements(ctx, verb, confirmed)];
    const results = await settleInOrder(statements.map((s) => ctx.client.query<{ n?: string }>(s.name ? { name: s.name, text: s.text, values: s.values } : { text: s.text, values: s.values })));
    const counts: Partial<KindCounts> = {};
    results.forEach((r, i) => {
      const kind = statements[i]!.kind;
      counts[kind] = (counts[kind] ?? 0) + (dryRun ? Number(r.rows[0]?.n ?? 0) : (r.rowCount ?? 0));
    });
    return { counts, purgedRunIds: confirmed.map((r) => r.runId) };
  });
}

/** The batch's runs as they are now, locked FOR UPDATE unless counting; in id order, so lockers never deadlock on each other. */
async function readRuns(ctx: PurgeContext, ids: string[], lock: boolean): Promise<RunState[]> {
  const { client, layout } = ctx;
  const cols = runColumns(layout);
  if (lock && ctx.citus) {
    const reads = ids.map((id) =>
      client.query<RunRow>({ name: `pywr-lock-one-${layout.hasParentColumn}`, text: `SELECT ${cols} FROM workflow_runs WHERE run_id = $1 FOR UPDATE`, values: [id] }),
    );
    return (await settleInOrder(reads)).flatMap((r) => r.rows.map(toRunState));
  }
  const res = await client.query<RunRow>({
    name: `pywr-read-batch-${lock}-${layout.hasParentColumn}`,
    text: `SELECT ${cols} FROM workflow_runs WHERE run_id = ANY($1::text[]) ORDER BY run_id${lock ? ' FOR UPDATE' : ''}`,
    values: [ids],
  });
  return res.rows.map(toRunState);
}

async function readOutsideChildren(ctx: PurgeContext, ids: string[]): Promise<Pick<RunState, 'runId' | 'parentRunId'>[]> {
  if (!ctx.layout.hasParentColumn) return [];
  const res = await ctx.client.query<{ run_id: string; parent_run_id: string }>({
    name: 'pywr-outside-children',
    text: 'SELECT run_id, parent_run_id FROM workflow_runs WHERE parent_run_id = ANY($1::text[]) AND NOT (run_id = ANY($1::text[]))',
    values: [ids],
  });
  return res.rows.map((r) => ({ runId: r.run_id, parentRunId: r.parent_run_id }));
}

function perRunStatements(ctx: PurgeContext, verb: string, confirmed: readonly RunState[]): Statement[] {
  const doomed = confirmed.map((r) => r.runId);
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

async function checkpointStatements(ctx: PurgeContext, verb: string, confirmed: readonly RunState[], denseRoots: boolean): Promise<Statement[]> {
  if (!ctx.layout.tables.has('checkpoints')) return [];
  if (ctx.layout.checkpointMatch === 'range') return rangeStatements(verb, confirmed, denseRoots).map((s) => ({ kind: 'checkpoints', ...s }));
  const keys = await eventCheckpointKeys(ctx.client, ctx.layout, confirmed.map((r) => r.runId));
  return keys.length === 0 ? [] : [{ kind: 'checkpoints', text: `${verb} checkpoints WHERE step_run_id = ANY($1::text[])`, values: [keys] }];
}

/** Awaits pipelined queries and rethrows the first failure in send order (later ones only echo it). */
export async function settleInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
