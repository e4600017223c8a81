// Purging one batch of runs from pyworkflow's DynamoDB table (pyworkflow-storage.md §8.2): re-read the
// runs consistently and confirm the batch, then per run, children before parents: checkpoints (keys
// from the step ids in its events, so before the events), hook tokens, hooks, cancellation flag, every
// other item of `RUN#{id}` (events, steps, event counter), and the run item last, conditionally on
// its status and updated_at being what was confirmed (H15). A kill at any instant leaves the run item
// and whatever dependents it still has, which a re-run finds the same way.
//
// Counting is exact also with two sweeps at once: counted items are deleted one by one with
// ReturnValues ALL_OLD, and only the request that got the old item back counts it.

import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { PurgeBatch, PurgeResult, RunState } from '../backend.js';
import { awsErrorName, itemKey, keyOf, str, type DynamoApi, type Item, type ItemKey } from './client.js';
import {
  cancellationKey, checkpointKey, EVENT_COUNTER_SK, EVENT_SK_PREFIX, METADATA_SK, runHooksGsi1pk, runMetadataKey, runPk, STEP_SK_PREFIX,
  stepCheckpointId, tokenPk,
} from './keys.js';
import { batchDelete, batchGet, deleteCounted, mapLimit, queryAll, type Limiter, type RetryPolicy } from './requests.js';
import { readChildren, readRuns, type RunRead } from './runs.js';

export interface PurgeContext {
  api: DynamoApi;
  table: string;
  limiter: Limiter;
  /** Runs of one wave processed at once (their requests share `limiter`). */
  runConcurrency: number;
  retry: RetryPolicy;
  logger: Logger;
}

type Outcome = 'purged' | 'gone' | 'kept';

/** What one run owns besides its run item, as found now. */
interface RunItems {
  checkpoints: ItemKey[];
  tokens: ItemKey[];
  hooks: ItemKey[];
  cancellation: ItemKey;
  /** EVENT#, STEP#, #EVENT_COUNTER and anything else under RUN#{id} except #METADATA. */
  runItems: ItemKey[];
}

export async function purgeBatch(ctx: PurgeContext, batch: PurgeBatch, dryRun: boolean): Promise<PurgeResult> {
  const ids = batch.runs.map((r) => r.runId);
  const inBatchIds = new Set(ids);
  const current = await readRuns(ctx.api, ctx.table, ids);
  const outside = (await readChildren(ctx.api, ctx.table, ids, ctx.limiter))
    .filter((c) => !inBatchIds.has(c.state.runId))
    .map((c) => ({ runId: c.state.runId, parentRunId: c.state.parentRunId }));
  const confirmed = batch.confirm([...current.values()].map((r) => r.state), outside);

  const counts: Partial<KindCounts> = {};
  const add = (kind: keyof KindCounts, n: number): void => {
    if (n > 0) counts[kind] = (counts[kind] ?? 0) + n;
  };
  const purged: string[] = [];
  const blocked = new Set<string>();
  const parentOf = new Map(confirmed.map((r) => [r.runId, r.parentRunId]));
  // A run that stays keeps every ancestor in this batch: no parent goes while a child of it stays.
  const block = (run: RunState): void => {
    for (let p = run.parentRunId; p !== null && parentOf.has(p) && !blocked.has(p); p = parentOf.get(p) ?? null) blocked.add(p);
  };

  for (const wave of waves(confirmed)) {
    const runs = wave.filter((r) => {
      if (!blocked.has(r.runId)) return true;
      block(r);
      return false;
    });
    const outcomes = await mapLimit(runs, ctx.runConcurrency, (run) => purgeRun(ctx, current.get(run.runId)!, dryRun, add));
    runs.forEach((run, i) => {
      if (outcomes[i] === 'purged') purged.push(run.runId);
      else if (outcomes[i] === 'kept') block(run);
    });
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

async function purgeRun(ctx: PurgeContext, read: RunRead, dryRun: boolean, add: (kind: keyof KindCounts, n: number) => void): Promise<Outcome> {
  const { api, table, limiter } = ctx;
  const runId = read.state.runId;
  if (!dryRun) {
    // Narrows the H15 window to this run's own deletes: a run that changed since the batch was
    // confirmed (e.g. an interrupted run recovered) keeps every item.
    const now = await limiter.run(() => api.getItem({
      TableName: table, Key: keyOf(runMetadataKey(runId)), ConsistentRead: true,
      ProjectionExpression: '#st, updated_at', ExpressionAttributeNames: { '#st': 'status' },
    }));
    if (!now.Item) return 'gone';
    if (str(now.Item, 'status') !== read.statusText || str(now.Item, 'updated_at') !== read.updatedAtText) {
      ctx.logger.info('run kept: it changed while the sweep was running', { runId });
      return 'kept';
    }
  }
  const items = await findRunItems(ctx, runId);

  if (dryRun) {
    const existing = await limiter.run(() =>
      batchGet(api, table, [...items.checkpoints, ...items.hooks, items.cancellation], { consistent: true, projection: 'PK, SK' }, ctx.retry),
    );
    const found = new Set(existing.map((i) => `${str(i, 'PK')}\u0000${str(i, 'SK')}`));
    const present = (keys: ItemKey[]): number => keys.filter((k) => found.has(`${k.PK}\u0000${k.SK}`)).length;
    add('checkpoints', present(items.checkpoints));
    add('hooks', present(items.hooks));
    add('cancellationFlags', present([items.cancellation]));
    add('events', items.runItems.filter((k) => k.SK.startsWith(EVENT_SK_PREFIX)).length);
    add('steps', items.runItems.filter((k) => k.SK.startsWith(STEP_SK_PREFIX)).length);
    add('runs', 1);
    return 'purged';
  }

  const deleteAll = async (keys: ItemKey[]): Promise<ItemKey[]> => {
    const removed = await limiter.map(keys, (k) => deleteCounted(api, table, k));
    return keys.filter((_, i) => removed[i]);
  };
  add('checkpoints', (await deleteAll(items.checkpoints)).length);
  await limiter.run(() => batchDelete(api, table, items.tokens, ctx.retry));
  add('hooks', (await deleteAll(items.hooks)).length);
  add('cancellationFlags', (await deleteAll([items.cancellation])).length);
  const isCounted = (k: ItemKey): boolean => k.SK.startsWith(EVENT_SK_PREFIX) || k.SK.startsWith(STEP_SK_PREFIX);
  const counted = items.runItems.filter(isCounted);
  const indexOnly = items.runItems.filter((k) => !isCounted(k));
  const removed = await deleteAll(counted);
  add('events', removed.filter((k) => k.SK.startsWith(EVENT_SK_PREFIX)).length);
  add('steps', removed.filter((k) => k.SK.startsWith(STEP_SK_PREFIX)).length);
  await limiter.run(() => batchDelete(api, table, indexOnly, ctx.retry));

  try {
    await limiter.run(() => api.deleteItem({
      TableName: table,
      Key: keyOf(runMetadataKey(runId)),
      ConditionExpression: '#st = :st AND updated_at = :u',
      ExpressionAttributeNames: { '#st': 'status' },
      ExpressionAttributeValues: { ':st': { S: read.statusText ?? '' }, ':u': { S: read.updatedAtText ?? '' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    if (awsErrorName(err) !== 'ConditionalCheckFailedException') throw err;
    const item = (err as { Item?: Item }).Item;
    if (item === undefined || Object.keys(item).length === 0) return 'gone'; // another sweep deleted it
    ctx.logger.warn('run kept: it changed while its records were being deleted', { runId });
    return 'kept';
  }
  add('runs', 1);
  return 'purged';
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
  const runItems: ItemKey[] = [];
  for (const item of partition) {
    const key = itemKey(item);
    if (key.SK === METADATA_SK) continue;
    runItems.push(key);
    if (key.SK.startsWith(STEP_SK_PREFIX)) stepIds.add(key.SK.slice(STEP_SK_PREFIX.length));
    if (key.SK.startsWith(EVENT_SK_PREFIX)) {
      const stepId = stepIdOf(str(item, 'data'));
      if (stepId !== null) stepIds.add(stepId);
    }
  }
  const unknown = runItems.filter((k) => k.SK !== EVENT_COUNTER_SK && !k.SK.startsWith(EVENT_SK_PREFIX) && !k.SK.startsWith(STEP_SK_PREFIX));
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
    cancellation: cancellationKey(runId),
    runItems,
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
