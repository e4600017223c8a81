// Purging one batch of runs from pyworkflow's DynamoDB table (docs/storage.md#purge-order): re-read the
// runs consistently and confirm the batch, then per run, children before parents: checkpoints (keys
// from the step ids in its events, so before the events), hook tokens, hooks, cancellation flag, every
// other item of `RUN#{id}` (events, steps, event counter), and the run item last, conditionally on
// its status and updated_at being what was confirmed (H15). A kill at any instant leaves the run item
// and whatever dependents it still has, which a re-run finds the same way.
//
// Counting is exact also with two sweeps at once: counted items are deleted one by one with
// ReturnValues ALL_OLD, and only the request that got the old item back counts it. Each item is
// counted the moment its delete returns, and a failing batch waits for its requests in flight before
// it reports (IncompleteBatchError), so a failed sweep still counts everything it removed. The one
// thing no client can know is a delete applied by the server whose reply was lost (a cut connection):
// the SDK's retry then finds the item gone, gets no old item back, and it goes uncounted.

import type { KindCounts } from '../../engine/records.js';
import { IncompleteBatchError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { awsErrorName, itemKey, keyOf, str, type DynamoApi, type Item, type ItemKey } from './client.js';
import {
  cancellationKey, checkpointKey, EVENT_COUNTER_SK, EVENT_SK_PREFIX, METADATA_SK, runHooksGsi1pk, runMetadataKey, runPk, STEP_SK_PREFIX,
  stepCheckpointId, tokenPk,
} from './keys.js';
import { batchDelete, batchGet, deleteCounted, mapLimit, queryAll, type Limiter, type RetryPolicy } from './requests.js';
import { readChildren, readRuns, type ChildListings, type RunRead } from './runs.js';

export interface PurgeContext {
  api: DynamoApi;
  table: string;
  limiter: Limiter;
  /** Groups of CHUNK_RUNS runs of one wave processed at once (their requests share `limiter`). */
  chunkConcurrency: number;
  retry: RetryPolicy;
  logger: Logger;
  listings: ChildListings;
}

/**
 * Runs processed together: their index items share BatchWriteItems and their optional items one
 * BatchGetItem. Small, because a run is re-checked when its chunk starts, and the time from that
 * re-check to its last delete is the window in which a change by pyworkflow could be missed (H15).
 */
export const CHUNK_RUNS = 25;

type Outcome = 'purged' | 'gone' | 'kept';

/** What one run owns besides its run item, as found now. */
interface RunItems {
  checkpoints: ItemKey[];
  tokens: ItemKey[];
  hooks: ItemKey[];
  cancellation: ItemKey[];
  /** EVENT# and STEP# items (counted). */
  events: ItemKey[];
  /** #EVENT_COUNTER and anything else under RUN#{id} except #METADATA (deleted, not counted). */
  indexItems: ItemKey[];
}

type Add = (kind: keyof KindCounts, n: number) => void;

export async function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean): Promise<PurgeResult> {
  const ids = batch.runs.map((r) => r.runId);
  const inBatchIds = new Set(ids);
  const current = await readRuns(ctx.api, ctx.table, ids);
  const outside = (await readChildren(ctx.api, ctx.table, ids, ctx.limiter, ctx.listings))
    .filter((c) => !inBatchIds.has(c.state.runId))
    .map((c) => ({ runId: c.state.runId, parentRunId: c.state.parentRunId }));
  ctx.listings.forget(ids);
  const confirmed = batch.confirm([...current.values()].map((r) => r.state), outside);

  const counts: Partial<KindCounts> = {};
  const add: Add = (kind, n) => {
    if (n > 0) counts[kind] = (counts[kind] ?? 0) + n;
  };
  const purged: string[] = [];
  // Runs whose item is deleted, as the deletes return (the batch may still fail after them).
  const gone: string[] = [];
  const blocked = new Set<string>();
  const parentOf = new Map(confirmed.map((r) => [r.runId, r.parentRunId]));
  // A run that stays keeps every ancestor in this batch: no parent goes while a child of it stays.
  const block = (run: RunState): void => {
    for (let p = run.parentRunId; p !== null && parentOf.has(p) && !blocked.has(p); p = parentOf.get(p) ?? null) blocked.add(p);
  };

  try {
    for (const wave of waves(confirmed)) {
      const runs = wave.filter((r) => {
        if (!blocked.has(r.runId)) return true;
        block(r);
        return false;
      });
      const chunks: RunState[][] = [];
      for (let i = 0; i < runs.length; i += CHUNK_RUNS) chunks.push(runs.slice(i, i + CHUNK_RUNS));
      // mapLimit and the limiter let every request in flight settle before a failure is thrown.
      const outcomes = (
        await mapLimit(chunks, ctx.chunkConcurrency, (chunk) => purgeChunk(ctx, chunk.map((r) => current.get(r.runId)!), dryRun, add, (id) => gone.push(id)))
      ).flat();
      runs.forEach((run, i) => {
        if (outcomes[i] === 'purged') purged.push(run.runId);
        else if (outcomes[i] === 'kept') block(run);
      });
    }
  } catch (err) {
    if (dryRun || (gone.length === 0 && Object.keys(counts).length === 0)) throw err;
    throw new IncompleteBatchError(err, { counts, purgedRunIds: gone });
  }
  return { counts, purgedRunIds: purged };
}

/** Confirmed runs grouped so that every run comes in a later wave than all of its children in the batch. */
export function waves(runs: readonly RunState[]): RunState[][] {
  const ids = new Set(runs.map((r) => r.runId));
  const children = new Map<string, RunState[]>();
  for (const r of runs) {
    if (r.parentRunId !== null && ids.has(r.parentRunId)) children.set(r.parentRunId, [...(children.get(r.parentRunId) ?? []), r]);
  }
  const level = new Map<string, number>();
  const onPath = new Set<string>();
  const levelOf = (r: RunState): number => {
    const known = level.get(r.runId);
    if (known !== undefined) return known;
    if (onPath.has(r.runId)) return 0; // a cycle cannot come from pyworkflow; confirm() keeps such runs anyway
    onPath.add(r.runId);
    const l = Math.max(-1, ...(children.get(r.runId) ?? []).map(levelOf)) + 1;
    onPath.delete(r.runId);
    level.set(r.runId, l);
    return l;
  };
  const out: RunState[][] = [];
  for (const r of runs) (out[levelOf(r)] ??= []).push(r);
  return out.filter((w) => w !== undefined);
}

const keyId = (k: ItemKey): string => `${k.PK}\u0000${k.SK}`;

/**
 * Purges runs that do not depend on each other (one wave), in phases that keep every run's order:
 * re-check and read, checkpoints, index items (tokens before their hooks), hooks / flags / events /
 * steps, run items last. Returns each run's outcome, in order.
 */
async function purgeChunk(ctx: PurgeContext, reads: RunRead[], dryRun: boolean, add: Add, onGone: (runId: string) => void): Promise<Outcome[]> {
  const { api, table, limiter } = ctx;
  const outcomes: Outcome[] = reads.map(() => 'purged');

  if (!dryRun) {
    // A run that changed since the batch was confirmed (e.g. an interrupted run recovered) keeps every item.
    const now = await limiter.run(() =>
      batchGet(api, table, reads.map((r) => runMetadataKey(r.state.runId)), { consistent: true, projection: 'PK, #st, updated_at', names: { '#st': 'status' } }, ctx.retry),
    );
    const byPk = new Map(now.map((i) => [str(i, 'PK'), i]));
    reads.forEach((read, i) => {
      const item = byPk.get(runMetadataKey(read.state.runId).PK);
      if (item === undefined) outcomes[i] = 'gone';
      else if (str(item, 'status') !== read.statusText || str(item, 'updated_at') !== read.updatedAtText) {
        ctx.logger.info('run kept: it changed while the sweep was running', { runId: read.state.runId });
        outcomes[i] = 'kept';
      }
    });
  }
  const live = reads.flatMap((read, i) => (outcomes[i] === 'purged' ? [{ read, index: i }] : []));
  const found = await Promise.all(live.map(({ read }) => findRunItems(ctx, read.state.runId)));

  // Checkpoint keys are derived from step ids and most runs have no cancellation flag: one read
  // says which exist, instead of a delete per key that might not. A dry run checks hooks too (GSI1 may lag).
  const optional = found.flatMap((f) => [...f.checkpoints, ...f.cancellation, ...(dryRun ? f.hooks : [])]);
  const existing = new Set(
    (await limiter.run(() => batchGet(api, table, optional, { consistent: true, projection: 'PK, SK' }, ctx.retry))).map((i) => keyId(itemKey(i))),
  );
  for (const f of found) {
    f.checkpoints = f.checkpoints.filter((k) => existing.has(keyId(k)));
    f.cancellation = f.cancellation.filter((k) => existing.has(keyId(k)));
    if (dryRun) f.hooks = f.hooks.filter((k) => existing.has(keyId(k)));
  }

  if (dryRun) {
    for (const f of found) {
      add('checkpoints', f.checkpoints.length);
      add('hooks', f.hooks.length);
      add('cancellationFlags', f.cancellation.length);
      add('events', f.events.filter((k) => k.SK.startsWith(EVENT_SK_PREFIX)).length);
      add('steps', f.events.filter((k) => k.SK.startsWith(STEP_SK_PREFIX)).length);
      add('runs', 1);
    }
    return outcomes;
  }

  // Counted as each delete returns: a failure among them must not lose the ones that went.
  const deleteAll = async (keys: ItemKey[], kindOf: (k: ItemKey) => keyof KindCounts | null): Promise<void> => {
    await limiter.map(keys, async (k) => {
      if (!(await deleteCounted(api, table, k))) return;
      const kind = kindOf(k);
      if (kind !== null) add(kind, 1);
    });
  };
  // Checkpoints first: their keys come from the events, which go later.
  await deleteAll(found.flatMap((f) => f.checkpoints), () => 'checkpoints');
  // Tokens before their hooks: the hook item is how a re-run would find a token.
  await limiter.run(() => batchDelete(api, table, found.flatMap((f) => [...f.tokens, ...f.indexItems]), ctx.retry));
  await deleteAll(found.flatMap((f) => f.hooks), () => 'hooks');
  await deleteAll(found.flatMap((f) => f.cancellation), () => 'cancellationFlags');
  await deleteAll(found.flatMap((f) => f.events), (k) => (k.SK.startsWith(EVENT_SK_PREFIX) ? 'events' : k.SK.startsWith(STEP_SK_PREFIX) ? 'steps' : null));

  const last = await limiter.map(live, async ({ read }) => {
    const outcome = await deleteRunItem(ctx, read);
    if (outcome === 'purged') {
      add('runs', 1);
      onGone(read.state.runId);
    }
    return outcome;
  });
  live.forEach(({ index }, j) => (outcomes[index] = last[j]!));
  return outcomes;
}

/** The run item, only if its status and updated_at are still what was confirmed. */
async function deleteRunItem(ctx: PurgeContext, read: RunRead): Promise<Outcome> {
  try {
    await ctx.api.deleteItem({
      TableName: ctx.table,
      Key: keyOf(runMetadataKey(read.state.runId)),
      ConditionExpression: '#st = :st AND updated_at = :u',
      ExpressionAttributeNames: { '#st': 'status' },
      ExpressionAttributeValues: { ':st': { S: read.statusText ?? '' }, ':u': { S: read.updatedAtText ?? '' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return 'purged';
  } catch (err) {
    if (awsErrorName(err) !== 'ConditionalCheckFailedException') throw err;
    const item = (err as { Item?: Item }).Item;
    if (item === undefined || Object.keys(item).length === 0) return 'gone'; // another sweep deleted it
    ctx.logger.warn('run kept: it changed while its records were being deleted', { runId: read.state.runId });
    return 'kept';
  }
}

/** Everything run `runId` owns, read now: its partition and hooks, the hooks' tokens, derived checkpoint keys. */
async function findRunItems(ctx: PurgeContext, runId: string): Promise<RunItems> {
  const { api, table, limiter } = ctx;
  const [partition, hookItems] = await Promise.all([
    limiter.run(() => queryAll(api, {
      TableName: table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: runPk(runId) } },
      ProjectionExpression: 'PK, SK, #d',
      ExpressionAttributeNames: { '#d': 'data' },
      ConsistentRead: true,
    })),
    // GSI1 `RUN_HOOKS#{id}` finds new-style and legacy `HOOK#{hook_id}` items alike.
    limiter.run(() => queryAll(api, {
      TableName: table,
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: runHooksGsi1pk(runId) } },
      ProjectionExpression: 'PK, SK, #tk',
      ExpressionAttributeNames: { '#tk': 'token' },
    })),
  ]);

  const stepIds = new Set<string>();
  const events: ItemKey[] = [];
  const indexItems: ItemKey[] = [];
  for (const item of partition) {
    const key = itemKey(item);
    if (key.SK === METADATA_SK) continue;
    if (key.SK.startsWith(STEP_SK_PREFIX)) {
      events.push(key);
      stepIds.add(key.SK.slice(STEP_SK_PREFIX.length));
    } else if (key.SK.startsWith(EVENT_SK_PREFIX)) {
      events.push(key);
      const stepId = stepIdOf(str(item, 'data'));
      if (stepId !== null) stepIds.add(stepId);
    } else {
      indexItems.push(key);
    }
  }
  const unknown = indexItems.filter((k) => k.SK !== EVENT_COUNTER_SK);
  if (unknown.length > 0) ctx.logger.warn('run items of an unknown kind deleted with their run (not counted)', { runId, sortKeys: unknown.slice(0, 5).map((k) => k.SK) });

  const hooks = hookItems.map(itemKey).filter((k) => k.SK === METADATA_SK && k.PK.startsWith('HOOK#'));
  const tokens = (
    await limiter.map(
      hookItems.filter((h) => str(h, 'token') !== undefined && str(h, 'SK') === METADATA_SK),
      async (h) => {
        const hookPk = str(h, 'PK');
        // The token item's SK is the hook item's PK (also for legacy hooks); its run_id, where present, is ours.
        const found = await queryAll(api, {
          TableName: table,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': { S: tokenPk(str(h, 'token')!) } },
          ProjectionExpression: 'PK, SK, run_id',
          ConsistentRead: true,
        });
        return found.filter((t) => str(t, 'SK') === hookPk || str(t, 'run_id') === runId).map(itemKey);
      },
    )
  ).flat();

  return {
    checkpoints: [...stepIds].map((s) => checkpointKey(stepCheckpointId(runId, s))),
    tokens,
    hooks,
    cancellation: [cancellationKey(runId)],
    events,
    indexItems,
  };
}

/** The step_id in an event's data (JSON text), if any. */
export function stepIdOf(data: string | undefined): string | null {
  if (data === undefined || !data.includes('step_id')) return null;
  try {
    const parsed: unknown = JSON.parse(data);
    const id = (parsed as { step_id?: unknown } | null)?.step_id;
    return typeof id === 'string' && id !== '' ? id : null;
  } catch {
    return null;
  }
}
