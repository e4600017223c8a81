// The DynamoDB orphan sweep (docs/storage.md H24, semantics in backend.ts at OrphanRequest).
// One paginated Scan over the RUN#, HOOK#, TOKEN#, CANCEL# and CHECKPOINT# items finds the run ids
// whose items have no `RUN#{id}/#METADATA` and dates each group; then per batch every group is read
// again consistently (its RUN# partition, its other items by key) just before its items go.
//
// Deletes, in an order a killed sweep's re-run finishes: the event counter only at the value read (a
// writer that appended since owns the group), then tokens and other uncounted index items, then every
// counted item only if its timestamps are still as read, counted only when this request removed it.
// Memory: the ids that have a run item, and the keys of hook, token, flag and checkpoint items whose
// run item the Scan has not (yet) shown; events and steps are re-read per group, not held.

import { CancelledError } from '../../errors.js';
import type { KindCounts } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { OrphanRequest } from '../backend.js';
import { awsErrorName, itemKey, keyOf, type DynamoApi, type Item, type ItemKey } from './client.js';
import { EVENT_COUNTER_SK, runPk } from './keys.js';
import { classify, keyId, newestStamp, STAMP_NAMES, STAMP_PROJECTION, unchangedCondition, type OrphanKind } from './orphan-items.js';
import { batchDelete, batchGet, queryAll, scanPages, type Limiter, type RetryPolicy } from './requests.js';

export interface OrphanContext {
  api: DynamoApi;
  table: string;
  limiter: Limiter;
  retry: RetryPolicy;
  logger: Logger;
}

/** A group as the Scan saw it. */
interface Found {
  newestMs: number;
  undatable: boolean;
  /** Keys outside `RUN#{id}` (hooks, tokens, flag, checkpoints); the partition is re-read by Query. */
  keys: ItemKey[];
}

type Counts = Pick<KindCounts, OrphanKind>;

const PREFIXES = { ':run': 'RUN#', ':hook': 'HOOK#', ':token': 'TOKEN#', ':cancel': 'CANCEL#', ':cp': 'CHECKPOINT#' };

export async function sweepDynamoOrphans(ctx: OrphanContext, request: OrphanRequest): Promise<void> {
  const groups = await scanGroups(ctx, request);
  const cutoffMs = request.orphanCutoff.getTime();
  const undatable = [...groups].filter(([, g]) => g.undatable).map(([id]) => id);
  if (undatable.length > 0) {
    ctx.logger.warn('orphan groups kept: an item of theirs has no readable timestamp', { groups: undatable.length, runIds: undatable.slice(0, 10) });
  }
  const ids = [...groups].filter(([, g]) => !g.undatable && g.newestMs < cutoffMs).map(([id]) => id).sort();
  for (let from = 0; from < ids.length; from += request.batchSize) {
    throwIfAborted(request);
    const counts: Counts = { events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 };
    try {
      await orphanBatch(ctx, ids.slice(from, from + request.batchSize), groups, cutoffMs, request.dryRun, counts);
    } finally {
      // Also when the batch failed: the deletes that returned before it are gone and counted.
      request.onBatch(counts);
    }
  }
}

async function scanGroups(ctx: OrphanContext, request: OrphanRequest): Promise<Map<string, Found>> {
  const withRecord = new Set<string>();
  const groups = new Map<string, Found>();
  const group = (runId: string): Found => {
    let g = groups.get(runId);
    if (!g) groups.set(runId, (g = { newestMs: -Infinity, undatable: false, keys: [] }));
    return g;
  };
  // Token items written before v0.1.14 name neither their run nor its id in their key: their hook item does.
  const legacyTokens: { key: ItemKey; hookPk: string }[] = [];
  const legacyHookOwner = new Map<string, string>();
  const pages = scanPages(ctx.api, {
    TableName: ctx.table,
    FilterExpression: Object.keys(PREFIXES).map((p) => `begins_with(PK, ${p})`).join(' OR '),
    ExpressionAttributeValues: Object.fromEntries(Object.entries(PREFIXES).map(([k, v]) => [k, { S: v }])),
    ProjectionExpression: STAMP_PROJECTION,
    ExpressionAttributeNames: STAMP_NAMES,
    Limit: Math.min(1000, Math.max(100, request.batchSize)),
  });
  for await (const items of pages) {
    throwIfAborted(request);
    for (const item of items) {
      const c = classify(item);
      if (c === null) continue;
      const key = itemKey(item);
      if ('legacyToken' in c) {
        legacyTokens.push({ key, hookPk: c.legacyToken });
        continue;
      }
      if (c.role === 'hooks' && !key.PK.slice('HOOK#'.length).includes('#')) legacyHookOwner.set(key.PK, c.runId);
      if (c.role === 'record') {
        withRecord.add(c.runId);
        groups.delete(c.runId);
        continue;
      }
      if (withRecord.has(c.runId)) continue;
      const g = group(c.runId);
      if (c.role !== 'index') {
        const t = newestStamp(item, c.role);
        if (t === null) g.undatable = true;
        else g.newestMs = Math.max(g.newestMs, t);
      }
      if (!key.PK.startsWith('RUN#')) g.keys.push(key);
    }
  }
  for (const t of legacyTokens) {
    const owner = legacyHookOwner.get(t.hookPk);
    if (owner !== undefined && !withRecord.has(owner)) group(owner).keys.push(t.key);
  }
  return groups;
}

/** What one group holds now, read consistently, and will lose. */
interface Plan {
  runId: string;
  counter: Item | null;
  index: ItemKey[];
  counted: { item: Item; kind: OrphanKind }[];
}

/** Adds what the batch deletes (or would) into `counts`, each item as its delete returns. */
async function orphanBatch(ctx: OrphanContext, ids: readonly string[], groups: ReadonlyMap<string, Found>, cutoffMs: number, dryRun: boolean, counts: Counts): Promise<void> {
  const { api, table, limiter } = ctx;
  // Immediately before deleting: the run item (if one appeared), events, steps and counter by a consistent
  // Query of each partition, the group's other items by a consistent BatchGetItem.
  const partitions = await limiter.map(ids, (id) =>
    queryAll(api, {
      TableName: table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: runPk(id) } },
      ProjectionExpression: `${STAMP_PROJECTION}, #seq`,
      ExpressionAttributeNames: { ...STAMP_NAMES, '#seq': 'seq' },
      ConsistentRead: true,
    }),
  );
  const ownerOf = new Map<string, string>();
  for (const id of ids) for (const k of groups.get(id)!.keys) ownerOf.set(keyId(k), id);
  const others = await limiter.run(() =>
    batchGet(api, table, ids.flatMap((id) => groups.get(id)!.keys), { consistent: true, projection: STAMP_PROJECTION, names: STAMP_NAMES }, ctx.retry),
  );
  const byOwner = new Map<string, Item[]>();
  for (const item of others) {
    const owner = ownerOf.get(keyId(itemKey(item)))!;
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), item]);
  }

  const plans: Plan[] = [];
  ids.forEach((runId, i) => {
    const plan = planGroup(ctx.logger, runId, [...partitions[i]!, ...(byOwner.get(runId) ?? [])], cutoffMs);
    if (plan) plans.push(plan);
  });
  if (dryRun) {
    for (const p of plans) for (const c of p.counted) counts[c.kind] += 1;
    return;
  }

  const counterGone = await limiter.map(plans, (p) => (p.counter === null ? Promise.resolve(true) : deleteCounter(ctx, p)));
  const live = plans.filter((_, i) => counterGone[i]);
  // Tokens before their hooks: a hook item is how a re-run would find its token.
  await limiter.run(() => batchDelete(api, table, live.flatMap((p) => p.index), ctx.retry));
  const counted = live.flatMap((p) => p.counted);
  await limiter.map(counted, async ({ item, kind }) => {
    if (await deleteIfUnchanged(ctx, item, kind)) counts[kind] += 1;
  });
}

/** The group's plan from its items as read now; null when it stays (a run item exists, or an item is young or undatable). */
function planGroup(logger: Logger, runId: string, items: readonly Item[], cutoffMs: number): Plan | null {
  const plan: Plan = { runId, counter: null, index: [], counted: [] };
  let newest = -Infinity;
  for (const item of items) {
    const c = classify(item);
    const key = itemKey(item);
    if (c === null) continue; // no run's item: never one of a group's
    if ('legacyToken' in c || c.role === 'index') {
      if (key.SK === EVENT_COUNTER_SK && key.PK === runPk(runId)) plan.counter = item;
      else plan.index.push(key);
    } else if (c.role === 'record') {
      logger.info('orphan group kept: its run record exists now', { runId });
      return null;
    } else {
      const t = newestStamp(item, c.role);
      if (t === null) {
        logger.warn('orphan group kept: an item of it has no readable timestamp', { runId, pk: key.PK, sk: key.SK });
        return null;
      }
      newest = Math.max(newest, t);
      plan.counted.push({ item, kind: c.role });
    }
  }
  if (newest >= cutoffMs) {
    logger.info('orphan group kept: an item of it is newer than the cutoff now', { runId });
    return null;
  }
  return plan;
}

/** The event counter at the value read; false when it moved (someone appends to this run id: the group stays). */
async function deleteCounter(ctx: OrphanContext, plan: Plan): Promise<boolean> {
  const seq = plan.counter!.seq;
  try {
    await ctx.api.deleteItem({
      TableName: ctx.table,
      Key: keyOf(itemKey(plan.counter!)),
      ConditionExpression: seq === undefined ? 'attribute_not_exists(#seq)' : '#seq = :seq',
      ExpressionAttributeNames: { '#seq': 'seq' },
      ...(seq === undefined ? {} : { ExpressionAttributeValues: { ':seq': seq } }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return true;
  } catch (err) {
    if (awsErrorName(err) !== 'ConditionalCheckFailedException') throw err;
    const item = (err as { Item?: Item }).Item;
    if (item === undefined || Object.keys(item).length === 0) return true; // another sweep took it; its counted items are still guarded
    ctx.logger.info('orphan group kept: events were appended to it while it was read', { runId: plan.runId });
    return false;
  }
}

/** Deletes a counted item only if its timestamps are still as read; true when this request removed it. */
async function deleteIfUnchanged(ctx: OrphanContext, item: Item, kind: OrphanKind): Promise<boolean> {
  try {
    await ctx.api.deleteItem({ TableName: ctx.table, Key: keyOf(itemKey(item)), ...unchangedCondition(item, kind) });
    return true;
  } catch (err) {
    if (awsErrorName(err) === 'ConditionalCheckFailedException') return false; // rewritten, or another sweep removed it
    throw err;
  }
}

function throwIfAborted(request: OrphanRequest): void {
  if (request.signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
}
