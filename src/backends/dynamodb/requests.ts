// The request patterns every part of the DynamoDB backend shares: Query/Scan always to the last page,
// batch reads and writes whose UnprocessedKeys/UnprocessedItems are retried with exponential backoff
// (pyworkflow ignores them and still counts the run, H12), single-item deletes that report whether
// *this* request removed the item, and a bound on requests in flight.

import type { QueryCommandInput, ScanCommandInput, WriteRequest } from '@aws-sdk/client-dynamodb';
import { keyOf, type DynamoApi, type Item, type ItemKey } from './client.js';

export interface RetryPolicy {
  /** Attempts for one batch whose items keep coming back unprocessed, before giving up with an error. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep(ms: number): Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 12,
  baseDelayMs: 50,
  maxDelayMs: 5_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** "Full jitter" exponential backoff, as AWS recommends for batch retries. */
export function backoffMs(attempt: number, p: RetryPolicy): number {
  const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** attempt);
  return Math.floor(cap / 2 + (Math.random() * cap) / 2);
}

export class UnprocessedError extends Error {
  constructor(what: string, left: number, attempts: number) {
    super(`${what}: ${left} item(s) still unprocessed after ${attempts} attempts (table throttled); nothing of them was counted`);
    this.name = 'UnprocessedError';
  }
}

/** Every page of a Query, as the pages arrive (LastEvaluatedKey pagination). */
export async function* queryPages(api: DynamoApi, input: QueryCommandInput): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const out = await api.query({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) });
    yield out.Items ?? [];
    start = out.LastEvaluatedKey && Object.keys(out.LastEvaluatedKey).length > 0 ? out.LastEvaluatedKey : undefined;
  } while (start);
}

export async function queryAll(api: DynamoApi, input: QueryCommandInput): Promise<Item[]> {
  const all: Item[] = [];
  for await (const page of queryPages(api, input)) all.push(...page);
  return all;
}

export async function* scanPages(api: DynamoApi, input: ScanCommandInput): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const out = await api.scan({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) });
    yield out.Items ?? [];
    start = out.LastEvaluatedKey && Object.keys(out.LastEvaluatedKey).length > 0 ? out.LastEvaluatedKey : undefined;
  } while (start);
}

/**
 * Reads items by key (100 per BatchGetItem), retrying UnprocessedKeys with backoff. Returns the
 * items found, in no particular order; a key without an item is simply absent.
 */
export async function batchGet(
  api: DynamoApi, table: string, keys: readonly ItemKey[], options: { consistent: boolean; projection?: string; names?: Record<string, string> },
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<Item[]> {
  const found: Item[] = [];
  const unique = dedupeKeys(keys);
  for (let i = 0; i < unique.length; i += 100) {
    let pending: Item[] = unique.slice(i, i + 100).map(keyOf);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= retry.maxAttempts) throw new UnprocessedError('BatchGetItem', pending.length, attempt);
      if (attempt > 0) await retry.sleep(backoffMs(attempt, retry));
      const out = await api.batchGetItem({
        RequestItems: {
          [table]: {
            Keys: pending,
            ConsistentRead: options.consistent,
            ...(options.projection ? { ProjectionExpression: options.projection } : {}),
            ...(options.names ? { ExpressionAttributeNames: options.names } : {}),
          },
        },
      });
      found.push(...(out.Responses?.[table] ?? []));
      pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return found;
}

/**
 * Deletes items with BatchWriteItem, 25 per request, resending UnprocessedItems with exponential
 * backoff until all are processed. BatchWriteItem cannot say whether an item existed, so this is used
 * only for index items that are never counted (TOKEN#, #EVENT_COUNTER).
 */
export async function batchDelete(api: DynamoApi, table: string, keys: readonly ItemKey[], retry: RetryPolicy = DEFAULT_RETRY): Promise<void> {
  const unique = dedupeKeys(keys);
  for (let i = 0; i < unique.length; i += 25) {
    const requests: WriteRequest[] = unique.slice(i, i + 25).map((k) => ({ DeleteRequest: { Key: keyOf(k) } }));
    await writeUntilProcessed(api, table, requests, retry, 'BatchWriteItem (delete)');
  }
}

/** Writes items with BatchWriteItem (25 per request) until every one is processed; for seeding. */
export async function batchPut(api: DynamoApi, table: string, items: readonly Item[], retry: RetryPolicy = DEFAULT_RETRY): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    await writeUntilProcessed(api, table, items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })), retry, 'BatchWriteItem (put)');
  }
}

async function writeUntilProcessed(api: DynamoApi, table: string, requests: WriteRequest[], retry: RetryPolicy, what: string): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= retry.maxAttempts) throw new UnprocessedError(what, pending.length, attempt);
    if (attempt > 0) await retry.sleep(backoffMs(attempt, retry));
    const out = await api.batchWriteItem({ RequestItems: { [table]: pending } });
    pending = out.UnprocessedItems?.[table] ?? [];
  }
}

/**
 * Deletes one item and says whether this request removed it (ReturnValues ALL_OLD): two sweeps
 * racing on the same item both succeed, but only one of them gets the old item back, so only one
 * counts it.
 */
export async function deleteCounted(api: DynamoApi, table: string, key: ItemKey): Promise<boolean> {
  const out = await api.deleteItem({ TableName: table, Key: keyOf(key), ReturnValues: 'ALL_OLD' });
  return out.Attributes !== undefined && Object.keys(out.Attributes).length > 0;
}

/** Bounds how many requests one backend has in flight, across all runs of a batch. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  /** Runs fn over all items through this limiter; rejects with the first failure after all settled. */
  async map<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const settled = await Promise.allSettled(items.map((x) => this.run(() => fn(x))));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
  }
}

/** Maps with at most `limit` calls of fn at once (a pool of workers; for outer loops over runs). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return out;
}

function dedupeKeys(keys: readonly ItemKey[]): ItemKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const id = `${k.PK}\u0000${k.SK}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
