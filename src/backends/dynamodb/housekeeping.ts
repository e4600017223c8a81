// Stream and schedule housekeeping in pyworkflow's DynamoDB table (rules in src/engine/housekeeping.ts,
// docs/storage.md#housekeeping, H10, H11). pyworkflow itself purges none of this in DynamoDB (its
// schedule filter looks for 'DELETED' and never matches).
//
// Cost: soft-deleted schedules come from a Query of GSI1 `SCHEDULES` / `deleted#`. Signals,
// subscriptions and acknowledgments have no index, so they take one Scan of the whole table per sweep
// (eventually consistent: about table size / 8 KB read units, e.g. ~1.3 M for a 10 GB table), plus a
// consistent Query per stream run partition. Memory: the ids of kept signals, the stream run
// partitions seen, and acknowledgments older than the cutoff, until the Scan ends.

import { CancelledError } from '../../errors.js';
import { DELETED_SCHEDULE_STATUS, isPurgeableAcknowledgment, isPurgeableSchedule, isPurgeableSignal, isPurgeableSubscription } from '../../engine/housekeeping.js';
import type { HousekeepingRequest } from '../backend.js';
import { parsePythonTimestamp } from '../python-time.js';
import { awsErrorName, itemKey, keyOf, str, type DynamoApi, type Item, type ItemKey } from './client.js';
import { SCHEDULES_GSI1PK, SIGACK_PREFIX, STREAMSUB_PREFIX, STREAM_RUN_PREFIX } from './keys.js';
import { deleteCounted, queryAll, queryPages, scanPages, type Limiter } from './requests.js';

export interface HousekeepContext {
  api: DynamoApi;
  table: string;
  limiter: Limiter;
}

export async function housekeepDynamo(ctx: HousekeepContext, request: HousekeepingRequest): Promise<void> {
  await purgeDeletedSchedules(ctx, request);
  await purgeStreamRecords(ctx, request);
}

const pageLimit = (batchSize: number): number => Math.min(1000, Math.max(100, batchSize));

function throwIfAborted(request: HousekeepingRequest): void {
  if (request.signal.aborted) throw new CancelledError('stop requested during housekeeping');
}

/** Deletes an item only if the condition still holds; true when this request removed it. */
async function deleteIf(ctx: HousekeepContext, key: ItemKey, condition: string, names: Record<string, string>, values: Item): Promise<boolean> {
  try {
    await ctx.api.deleteItem({
      TableName: ctx.table, Key: keyOf(key), ConditionExpression: condition,
      ExpressionAttributeNames: names, ExpressionAttributeValues: values, ReturnValues: 'ALL_OLD',
    });
    return true;
  } catch (err) {
    if (awsErrorName(err) === 'ConditionalCheckFailedException') return false; // changed or deleted by someone else
    throw err;
  }
}

/** Schedules with status `deleted` (lowercase, H10) whose updated_at is older than the cutoff (DynamoDB keeps no deleted_at). */
async function purgeDeletedSchedules(ctx: HousekeepContext, request: HousekeepingRequest): Promise<void> {
  const pages = queryPages(ctx.api, {
    TableName: ctx.table,
    IndexName: 'GSI1',
    KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :st)',
    ExpressionAttributeValues: { ':pk': { S: SCHEDULES_GSI1PK }, ':st': { S: `${DELETED_SCHEDULE_STATUS}#` } },
    ProjectionExpression: 'PK, SK, #st, updated_at',
    ExpressionAttributeNames: { '#st': 'status' },
    Limit: pageLimit(request.batchSize),
  });
  for await (const items of pages) {
    throwIfAborted(request);
    const doomed = items.filter((i) => {
      const updated = parsePythonTimestamp(str(i, 'updated_at'));
      return updated !== null && isPurgeableSchedule({ status: str(i, 'status') ?? '', deleted_at: null, updated_at: updated }, request.cutoff);
    });
    let n = request.dryRun ? doomed.length : 0;
    try {
      // GSI1 is eventually consistent: delete only if the schedule is still deleted and unchanged.
      if (!request.dryRun) {
        await ctx.limiter.map(doomed, async (i) => {
          const removed = await deleteIf(ctx, itemKey(i), '#st = :st AND updated_at = :u', { '#st': 'status' }, {
            ':st': { S: DELETED_SCHEDULE_STATUS }, ':u': { S: str(i, 'updated_at')! },
          });
          if (removed) n += 1;
        });
      }
    } finally {
      // Also when a delete failed: the ones that returned before it are gone and counted.
      if (n > 0) request.onBatch({ schedules: n });
    }
  }
}

interface AckCandidate {
  key: ItemKey;
  signalId: string;
  acknowledgedAt: Date;
}

async function purgeStreamRecords(ctx: HousekeepContext, request: HousekeepingRequest): Promise<void> {
  const keptSignals = new Set<string>();
  const seenPartitions = new Set<string>();
  const oldAcks: AckCandidate[] = [];
  const pages = scanPages(ctx.api, {
    TableName: ctx.table,
    FilterExpression: 'begins_with(PK, :sr) OR begins_with(PK, :sub) OR begins_with(PK, :ack)',
    ExpressionAttributeValues: { ':sr': { S: STREAM_RUN_PREFIX }, ':sub': { S: STREAMSUB_PREFIX }, ':ack': { S: SIGACK_PREFIX } },
    ProjectionExpression: 'PK, SK, #st, created_at, acknowledged_at, signal_id',
    ExpressionAttributeNames: { '#st': 'status' },
    Limit: pageLimit(request.batchSize),
  });
  for await (const items of pages) {
    throwIfAborted(request);
    let n = 0;
    const count = (k: number): void => void (n += k);
    try {
      const subscriptions: Item[] = [];
      for (const item of items) {
        const key = itemKey(item);
        if (key.PK.startsWith(STREAM_RUN_PREFIX)) {
          if (seenPartitions.has(key.PK)) continue;
          seenPartitions.add(key.PK);
          await purgeSignalPartition(ctx, request, key.PK, keptSignals, count);
        } else if (key.PK.startsWith(STREAMSUB_PREFIX)) {
          const created = parsePythonTimestamp(str(item, 'created_at'));
          if (created !== null && isPurgeableSubscription({ status: str(item, 'status') ?? '', created_at: created }, request.cutoff)) subscriptions.push(item);
        } else if (key.PK.startsWith(SIGACK_PREFIX)) {
          const at = parsePythonTimestamp(str(item, 'acknowledged_at'));
          const signalId = str(item, 'signal_id') ?? key.PK.slice(SIGACK_PREFIX.length);
          if (at !== null && at.getTime() < request.cutoff.getTime()) oldAcks.push({ key, signalId, acknowledgedAt: at });
        }
      }
      if (request.dryRun) count(subscriptions.length);
      else {
        // A subscription is deleted only in the terminal status it was read in.
        await ctx.limiter.map(subscriptions, async (s) => {
          if (await deleteIf(ctx, itemKey(s), '#st = :st', { '#st': 'status' }, { ':st': { S: str(s, 'status')! } })) count(1);
        });
      }
    } finally {
      // Also when a delete failed: the ones that returned before it are gone and counted.
      if (n > 0) request.onBatch({ streamRecords: n });
    }
  }

  // Every signal partition has been seen: an acknowledgment goes only once its signal is gone (H11).
  const doomedAcks = oldAcks.filter((a) =>
    isPurgeableAcknowledgment({ signal_id: a.signalId, acknowledged_at: a.acknowledgedAt }, (id) => keptSignals.has(id), request.cutoff),
  );
  const chunk = Math.max(1, request.batchSize);
  for (let i = 0; i < doomedAcks.length; i += chunk) {
    throwIfAborted(request);
    const part = doomedAcks.slice(i, i + chunk);
    let n = request.dryRun ? part.length : 0;
    try {
      if (!request.dryRun) {
        await ctx.limiter.map(part, async (a) => {
          if (await deleteCounted(ctx.api, ctx.table, a.key)) n += 1;
        });
      }
    } finally {
      if (n > 0) request.onBatch({ streamRecords: n });
    }
  }
}

/**
 * One stream run's signals (`STREAM_RUN#{id}`, all streams that published under it), read
 * consistently: those older than the cutoff go, except the newest of each stream, so pyworkflow's
 * max(sequence)+1 numbering never restarts (H11). Passes to `count` how many went (or would), as they go.
 */
async function purgeSignalPartition(ctx: HousekeepContext, request: HousekeepingRequest, pk: string, kept: Set<string>, count: (n: number) => void): Promise<void> {
  const items = await ctx.limiter.run(() =>
    queryAll(ctx.api, {
      TableName: ctx.table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
      ProjectionExpression: 'PK, SK, stream_id, #seq, published_at, signal_id',
      ExpressionAttributeNames: { '#seq': 'sequence' },
      ConsistentRead: true,
    }),
  );
  const streamRunId = pk.slice(STREAM_RUN_PREFIX.length);
  const signals = items.map((i) => ({
    item: i,
    stream_id: str(i, 'stream_id') ?? '',
    stream_run_id: streamRunId,
    sequence: sequenceOf(i),
    published_at: parsePythonTimestamp(str(i, 'published_at')),
    signalId: str(i, 'signal_id'),
  }));
  const newest = new Map<string, number>();
  for (const s of signals) if (Number.isFinite(s.sequence)) newest.set(s.stream_id, Math.max(newest.get(s.stream_id) ?? -Infinity, s.sequence));
  const doomed = signals.filter(
    (s) =>
      s.published_at !== null && Number.isFinite(s.sequence) &&
      isPurgeableSignal({ ...s, published_at: s.published_at }, (streamId) => newest.get(streamId) ?? -Infinity, request.cutoff),
  );
  const doomedSet = new Set(doomed);
  for (const s of signals) if (!doomedSet.has(s) && s.signalId !== undefined) kept.add(s.signalId);
  if (request.dryRun) {
    count(doomed.length);
    return;
  }
  await ctx.limiter.map(doomed, async (s) => {
    if (await deleteCounted(ctx.api, ctx.table, itemKey(s.item))) count(1);
  });
}

/** pyworkflow stores the sequence as a string attribute; the SK `SIGNAL#{seq:08d}` says the same. */
function sequenceOf(item: Item): number {
  const attr = item.sequence;
  const text = attr?.S ?? attr?.N ?? str(item, 'SK')?.replace(/^SIGNAL#/, '');
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
}
