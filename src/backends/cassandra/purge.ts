// Purges one batch of runs from pyworkflow's Cassandra tables in the order of docs/storage.md#purge-order:
// rows found through a run's partitions before those partitions, rows found through its workflow_runs row
// before that row, the row itself last and conditionally. A sweep killed at any instant leaves a run whose
// workflow_runs row still leads a re-run to everything left of it.
//
// Cassandra has no transactions, so three guards replace one:
//  - the batch is re-read and confirmed, and each run is re-read again just before its rows go (H15);
//  - lookup rows keyed by ids that repeat across runs (hook ids, step ids, idempotency keys) are deleted
//    with `IF run_id = R` after a plain read showed R: the read keeps Paxos off the common case (a hook id's
//    row normally names a newer run), the condition stops a row a new run wrote in between from going;
//  - the workflow_runs row goes with `IF status = ? AND updated_at = ?`: it cannot remove a run that came
//    back to life, and it tells exactly one of two concurrent sweeps that it deleted the run. Only that
//    sweep counts the run and the related rows it read, so concurrent sweeps never double-count.
//
// A run whose deletes fail partway (a lost connection, a timeout) keeps its workflow_runs row, and a
// re-run finds what is left of it; the rows of it already gone are counted from the deletes that were
// acknowledged, as the batch reports them when it fails (IncompleteBatchError), so a failed sweep and
// its re-run add up to exactly what was removed. What a client cannot know is a delete the cluster
// applied whose acknowledgement was lost: it counts as not applied, and the rows it removed go uncounted.

import { TERMINAL_STATUSES, ACTIVE_STATUSES } from '../../engine/statuses.js';
import type { KindCounts } from '../../engine/records.js';
import { IncompleteBatchError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { dateBucket } from './buckets.js';
import type { CassandraSession } from './connection.js';
import type { CassandraLayout } from './layout.js';
import { listedChildren, readRun, readRuns, type RunRow } from './runs.js';
import { mapLimit } from './throttle.js';

export interface PurgeContext {
  session: CassandraSession;
  layout: CassandraLayout;
  concurrency: number;
  logger: Logger;
}

/** Every status a runs_by_status row can be filed under: try_claim_run leaves rows under old statuses (docs/storage.md#cassandra). */
const ALL_STATUSES: readonly string[] = [...ACTIVE_STATUSES, ...TERMINAL_STATUSES];
/** Keys per `IN` read of checkpoints: small multi-partition reads. */
const IN_CHUNK = 50;

type RunCounts = Pick<KindCounts, 'runs' | 'events' | 'steps' | 'hooks' | 'cancellationFlags' | 'checkpoints'>;

type Outcome =
  | { kind: 'purged'; counts: RunCounts }
  | { kind: 'gone' }
  | { kind: 'kept' }
  /** Its deletes failed partway: `counts` holds the rows whose deletes were acknowledged. */
  | { kind: 'failed'; error: unknown; counts: Partial<RunCounts> };

export async function purgeCassandraBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean): Promise<PurgeResult> {
  const { session, concurrency } = ctx;
  const ids = batch.runs.map((r) => r.runId);
  const inBatch = new Set(ids);
  const current = await readRuns(session, ids, concurrency);
  const listed = new Map(await mapLimit(ids, concurrency, async (id) => [id, await listedChildren(session, id)] as const));
  const outsideIds = [...new Set([...listed.values()].flat().filter((id) => !inBatch.has(id)))];
  const outside = (await readRuns(session, outsideIds, concurrency))
    .filter((c) => c.parentRunId !== null && inBatch.has(c.parentRunId))
    .map((c) => ({ runId: c.runId, parentRunId: c.parentRunId }));
  const confirmed = batch.confirm(current, outside);

  const counts: Partial<KindCounts> = {};
  const purgedRunIds: string[] = [];
  // Parents of runs that turned out to be alive after all: never purged in this batch.
  const blocked = new Set<string>();
  const add = (more: Partial<RunCounts>): void => {
    for (const [kind, n] of Object.entries(more) as [keyof RunCounts, number][]) counts[kind] = (counts[kind] ?? 0) + n;
  };
  // Set from inside the workers below (a cast keeps TypeScript from narrowing it to null here).
  let failure = null as { error: unknown } | null;
  for (const level of levels(confirmed)) {
    // Every run's outcome is collected, also of runs in flight when another one failed.
    const outcomes = await mapLimit(level, concurrency, async (planned): Promise<Outcome> => {
      if (blocked.has(planned.runId) || failure !== null) return { kind: 'kept' };
      const outcome = await purgeRun(ctx, planned, (listed.get(planned.runId)?.length ?? 0) > 0, dryRun).catch(
        (error: unknown): Outcome => ({ kind: 'failed', error, counts: {} }),
      );
      if (outcome.kind === 'failed') failure ??= { error: outcome.error };
      return outcome;
    });
    level.forEach((planned, i) => {
      const outcome = outcomes[i]!;
      if ((outcome.kind === 'kept' || outcome.kind === 'failed') && planned.parentRunId !== null) blocked.add(planned.parentRunId);
      if (outcome.kind === 'purged') purgedRunIds.push(planned.runId);
      if (outcome.kind === 'purged' || outcome.kind === 'failed') add(outcome.counts);
    });
    if (failure !== null) {
      const { error } = failure;
      if (dryRun || (purgedRunIds.length === 0 && Object.keys(counts).length === 0)) throw error instanceof Error ? error : new Error(String(error));
      throw new IncompleteBatchError(error, { counts, purgedRunIds });
    }
  }
  return { counts, purgedRunIds };
}

/**
 * Splits a children-first batch into levels: runs without a child in the batch first, then their parents,
 * and so on. Runs of one level are independent and go in parallel; a parent's row never goes before a child's.
 */
function levels(runs: readonly RunState[]): RunState[][] {
  const level = new Map<string, number>();
  const out: RunState[][] = [];
  for (const run of runs) {
    const l = level.get(run.runId) ?? 0;
    (out[l] ??= []).push(run);
    if (run.parentRunId !== null) level.set(run.parentRunId, Math.max(level.get(run.parentRunId) ?? 0, l + 1));
  }
  return out.filter((l) => l.length > 0);
}

interface RunRows {
  events: number;
  stepIds: string[];
  hooks: { hookId: string; token: string }[];
  cancellationFlag: boolean;
  checkpointKeys: string[];
  statusRows: string[];
  /** Lookup rows that name this run: deleted with `IF run_id = R`. */
  stepLookups: string[];
  hookLookups: string[];
  /** Tokens `{run_id}:...`: pyworkflow's shape, this run's alone. */
  ownTokens: string[];
  /** Any other token could be shared: deleted with `IF run_id = R` when its row names this run. */
  foreignTokens: string[];
  idempotencyKey: string | null;
}

async function purgeRun(ctx: PurgeContext, planned: RunState, hasListedChildren: boolean, dryRun: boolean): Promise<Outcome> {
  const { session } = ctx;
  // H15: the run as it is now, just before anything of it goes.
  const run = await readRun(session, planned.runId);
  if (run === null) return { kind: 'gone' };
  if (run.status !== planned.status || run.updatedAt?.getTime() !== planned.updatedAt?.getTime()) {
    ctx.logger.info('run kept: it changed since it was selected', { runId: run.runId, status: run.status });
    return { kind: 'kept' };
  }
  const rows = await readRunRows(ctx, run);
  const counts: RunCounts = {
    runs: 1,
    events: rows.events,
    steps: rows.stepIds.length,
    hooks: rows.hooks.length,
    cancellationFlags: rows.cancellationFlag ? 1 : 0,
    checkpoints: rows.checkpointKeys.length,
  };
  if (dryRun) return { kind: 'purged', counts };

  const t = (name: string): string => session.table(name);
  const R = run.runId;
  // Rows this run's acknowledged deletes removed (the run record aside): what a failure still reports.
  const removed: Partial<RunCounts> = {};
  const counted = (kind: keyof RunCounts, n: number, write: Promise<unknown>): Promise<unknown> =>
    write.then(() => {
      removed[kind] = (removed[kind] ?? 0) + n;
    });
  // Each step lets all its writes settle, so `removed` is complete when a step fails.
  const step = async (writes: (Promise<unknown> | null)[]): Promise<unknown> => {
    const settled = await Promise.allSettled(writes.filter((w): w is Promise<unknown> => w !== null));
    return settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
  };
  // 1. Rows located through the run's partitions, while those partitions still exist.
  const failed1 = await step([
    ...rows.checkpointKeys.map((k) => counted('checkpoints', 1, session.write(`DELETE FROM ${t('checkpoints')} WHERE step_run_id = ?`, [k]))),
    ...rows.ownTokens.map((tok) => session.write(`DELETE FROM ${t('hooks_by_token')} WHERE "token" = ?`, [tok])),
    ...rows.foreignTokens.map((tok) => session.conditional(`DELETE FROM ${t('hooks_by_token')} WHERE "token" = ? IF run_id = ?`, [tok, R])),
    ...rows.hookLookups.map((id) => session.conditional(`DELETE FROM ${t('hooks_by_id')} WHERE hook_id = ? IF run_id = ?`, [id, R])),
    ...rows.stepLookups.map((id) => session.conditional(`DELETE FROM ${t('steps_by_id')} WHERE step_id = ? IF run_id = ?`, [id, R])),
  ]);
  if (failed1 !== undefined) return { kind: 'failed', error: failed1, counts: removed };
  // 2. The run's partitions and the rows located through its workflow_runs row.
  const created = run.createdAt;
  const failed2 = await step([
    rows.events > 0 ? counted('events', rows.events, session.write(`DELETE FROM ${t('events')} WHERE run_id = ?`, [R])) : null,
    rows.stepIds.length > 0 ? counted('steps', rows.stepIds.length, session.write(`DELETE FROM ${t('steps')} WHERE run_id = ?`, [R])) : null,
    rows.hooks.length > 0 ? counted('hooks', rows.hooks.length, session.write(`DELETE FROM ${t('hooks')} WHERE run_id = ?`, [R])) : null,
    rows.cancellationFlag ? counted('cancellationFlags', 1, session.write(`DELETE FROM ${t('cancellation_flags')} WHERE run_id = ?`, [R])) : null,
    ...(created === null
      ? []
      : rows.statusRows.map((status) =>
          session.write(`DELETE FROM ${t('runs_by_status')} WHERE status = ? AND date_bucket = ? AND created_at = ? AND run_id = ?`, [status, dateBucket(created), created, R]),
        )),
    created !== null && run.workflowName !== null
      ? session.write(`DELETE FROM ${t('runs_by_workflow')} WHERE workflow_name = ? AND date_bucket = ? AND created_at = ? AND run_id = ?`, [run.workflowName, dateBucket(created), created, R])
      : null,
    created !== null && run.parentRunId !== null
      ? session.write(`DELETE FROM ${t('runs_by_parent')} WHERE parent_run_id = ? AND created_at = ? AND run_id = ?`, [run.parentRunId, created, R])
      : null,
    // Entries of children: every child was purged before this run (or the batch would not hold it), so
    // whatever the partition still lists names runs that no longer exist.
    hasListedChildren ? session.write(`DELETE FROM ${t('runs_by_parent')} WHERE parent_run_id = ?`, [R]) : null,
    rows.idempotencyKey !== null
      ? session.conditional(`DELETE FROM ${t('runs_by_idempotency_key')} WHERE idempotency_key = ? IF run_id = ?`, [rows.idempotencyKey, R])
      : null,
  ]);
  if (failed2 !== undefined) return { kind: 'failed', error: failed2, counts: removed };
  // 3. The run record, only as it was confirmed.
  let last: Awaited<ReturnType<CassandraSession['conditional']>>;
  try {
    last = await session.conditional(`DELETE FROM ${t('workflow_runs')} WHERE run_id = ? IF status = ? AND updated_at = ?`, [R, run.status, run.updatedAt]);
  } catch (error) {
    // Applied or not, unknown: the record is counted only by the sweep that sees it go (a re-run).
    return { kind: 'failed', error, counts: removed };
  }
  if (last.applied) return { kind: 'purged', counts };
  if (last.current === null) return { kind: 'gone' };
  // Updated between the re-read and now (e.g. an interrupted run claimed back by recovery): its record
  // stays; its related rows are gone, which Cassandra offers no way to prevent short of a transaction.
  // They are not counted (the run was not purged), as test/integration/cassandra-backend.test.ts requires.
  ctx.logger.warn('run record kept: the run changed while its related rows were being deleted', { runId: R, status: String(last.current.get('status')) });
  return { kind: 'kept' };
}

async function readRunRows(ctx: PurgeContext, run: RunRow): Promise<RunRows> {
  const { session, layout } = ctx;
  const t = (name: string): string => session.table(name);
  const R = run.runId;
  const created = run.createdAt;
  // Checkpoints of @step code are keyed `{run_id}:{step_id}`; step ids live in the events' data (docs/storage.md#ids).
  const stepIdsSeen = new Set<string>();
  let events = 0;
  const [, stepRows, hookRows, flag, statusRows, idem] = await Promise.all([
    session.eachPage(`SELECT data FROM ${t('events')} WHERE run_id = ?`, [R], 500, (rows) => {
      events += rows.length;
      for (const r of rows) for (const id of stepIdsIn(r.get('data'))) stepIdsSeen.add(id);
    }),
    session.all(`SELECT step_id FROM ${t('steps')} WHERE run_id = ?`, [R]),
    session.all(`SELECT hook_id, "token" FROM ${t('hooks')} WHERE run_id = ?`, [R]),
    session.one(`SELECT run_id FROM ${t('cancellation_flags')} WHERE run_id = ?`, [R]),
    created === null
      ? Promise.resolve([])
      : session.all(`SELECT status FROM ${t('runs_by_status')} WHERE status IN ? AND date_bucket = ? AND created_at = ? AND run_id = ?`, [
          ALL_STATUSES, dateBucket(created), created, R,
        ]),
    run.idempotencyKey === null ? Promise.resolve(null) : session.one(`SELECT run_id FROM ${t('runs_by_idempotency_key')} WHERE idempotency_key = ?`, [run.idempotencyKey]),
  ]);
  const stepIds = stepRows.map((r) => r.get('step_id') as string);
  const hooks = hookRows.map((r) => ({ hookId: r.get('hook_id') as string, token: (r.get('token') as string | null) ?? '' }));

  for (const id of stepIds) stepIdsSeen.add(id);
  let checkpointKeys: string[] = [];
  if (layout.tables.has('checkpoints') && stepIdsSeen.size > 0) {
    const keys = [...stepIdsSeen].map((id) => `${R}:${id}`);
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += IN_CHUNK) chunks.push(keys.slice(i, i + IN_CHUNK));
    checkpointKeys = (
      await Promise.all(chunks.map((c) => session.all(`SELECT step_run_id FROM ${t('checkpoints')} WHERE step_run_id IN ?`, [c])))
    ).flat().map((r) => r.get('step_run_id') as string);
  }

  // Lookup rows: a plain read first; only rows that name this run get a conditional delete.
  const namesRun = (row: { get(c: string): unknown } | null): boolean => row !== null && row.get('run_id') === R;
  const [stepLookups, hookLookups, foreignTokens] = await Promise.all([
    filterAsync(stepIds, async (id) => namesRun(await session.one(`SELECT run_id FROM ${t('steps_by_id')} WHERE step_id = ?`, [id]))),
    filterAsync([...new Set(hooks.map((h) => h.hookId))], async (id) => namesRun(await session.one(`SELECT run_id FROM ${t('hooks_by_id')} WHERE hook_id = ?`, [id]))),
    filterAsync(
      hooks.map((h) => h.token).filter((tok) => tok !== '' && !tok.startsWith(`${R}:`)),
      async (tok) => namesRun(await session.one(`SELECT run_id FROM ${t('hooks_by_token')} WHERE "token" = ?`, [tok])),
    ),
  ]);
  return {
    events,
    stepIds,
    hooks,
    cancellationFlag: flag !== null,
    checkpointKeys,
    statusRows: statusRows.map((r) => r.get('status') as string),
    stepLookups,
    hookLookups,
    ownTokens: hooks.map((h) => h.token).filter((tok) => tok.startsWith(`${R}:`)),
    foreignTokens,
    idempotencyKey: namesRun(idem) ? run.idempotencyKey : null,
  };
}

async function filterAsync<T>(items: readonly T[], pred: (item: T) => Promise<boolean>): Promise<T[]> {
  const keep = await Promise.all(items.map(pred));
  return items.filter((_, i) => keep[i]);
}

/** step_id values in an event's data JSON (the top-level key pyworkflow writes). */
function stepIdsIn(data: unknown): string[] {
  if (typeof data !== 'string' || !data.includes('step_id')) return [];
  try {
    const parsed = JSON.parse(data) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const id = (parsed as Record<string, unknown>).step_id;
      return typeof id === 'string' && id !== '' ? [id] : [];
    }
  } catch {
    // Not JSON: no step id can be read from it.
  }
  return [];
}
