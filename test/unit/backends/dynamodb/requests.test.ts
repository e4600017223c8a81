// Batch requests against an injected fake DynamoDB: UnprocessedItems / UnprocessedKeys are resent with
// backoff until done, and a table that never accepts them ends in an error, never in a silent success.
import type { BatchGetItemCommandInput, BatchWriteItemCommandInput, WriteRequest } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DynamoApi, Item } from '../../../../src/backends/dynamodb/client.js';
import { batchDelete, batchGet, batchPut, Limiter, mapLimit, UnprocessedError, type RetryPolicy } from '../../../../src/backends/dynamodb/requests.js';

const id = (i: Item): string => `${i.PK?.S}|${i.SK?.S}`;

/** A table in a Map that processes at most `accept` write requests per call (the rest come back unprocessed). */
function throttledTable(accept: (call: number) => number) {
  const items = new Map<string, Item>();
  const calls: number[] = [];
  const api = {
    async batchWriteItem(input: BatchWriteItemCommandInput) {
      const [table, requests] = Object.entries(input.RequestItems ?? {})[0]!;
      calls.push(requests.length);
      const n = Math.min(requests.length, accept(calls.length));
      for (const r of requests.slice(0, n)) {
        if (r.PutRequest?.Item) items.set(id(r.PutRequest.Item), r.PutRequest.Item);
        if (r.DeleteRequest?.Key) items.delete(id(r.DeleteRequest.Key));
      }
      const rest: WriteRequest[] = requests.slice(n);
      return { UnprocessedItems: rest.length > 0 ? { [table]: rest } : {} };
    },
    async batchGetItem(input: BatchGetItemCommandInput) {
      const [table, req] = Object.entries(input.RequestItems ?? {})[0]!;
      const keys = req.Keys ?? [];
      calls.push(keys.length);
      const n = Math.min(keys.length, accept(calls.length));
      const found = keys.slice(0, n).map((k) => items.get(id(k))).filter((x): x is Item => x !== undefined);
      const rest = keys.slice(n);
      return { Responses: { [table]: found }, UnprocessedKeys: rest.length > 0 ? { [table]: { ...req, Keys: rest } } : {} };
    },
  } as unknown as DynamoApi;
  return { api, items, calls };
}

const sleeps: number[] = [];
const retry: RetryPolicy = { maxAttempts: 12, baseDelayMs: 10, maxDelayMs: 200, sleep: async (ms) => void sleeps.push(ms) };
const key = (i: number) => ({ PK: `RUN#r${i}`, SK: `EVENT#${String(i).padStart(5, '0')}` });
const put = (i: number): Item => ({ PK: { S: key(i).PK }, SK: { S: key(i).SK } });

describe('DynamoDB batch requests', () => {
  it('resends UnprocessedItems with growing backoff until every delete is processed', async () => {
    const t = throttledTable((call) => (call % 2 === 0 ? 25 : 3));
    for (let i = 0; i < 60; i++) t.items.set(id(put(i)), put(i));
    sleeps.length = 0;
    await batchDelete(t.api, 'tbl', Array.from({ length: 60 }, (_, i) => key(i)), retry);
    expect(t.items.size).toBe(0);
    expect(Math.max(...t.calls)).toBeLessThanOrEqual(25);
    expect(sleeps.length).toBeGreaterThan(0);
  });

  it('fails, naming what is left, when a table keeps returning items unprocessed', async () => {
    const t = throttledTable(() => 0);
    t.items.set(id(put(1)), put(1));
    await expect(batchDelete(t.api, 'tbl', [key(1)], { ...retry, maxAttempts: 4 })).rejects.toBeInstanceOf(UnprocessedError);
    expect(t.items.size).toBe(1);
    expect(t.calls).toEqual([1, 1, 1, 1]);
  });

  it('puts in chunks of 25 and resends the unprocessed part only', async () => {
    const t = throttledTable(() => 10);
    await batchPut(t.api, 'tbl', Array.from({ length: 30 }, (_, i) => put(i)), retry);
    expect(t.items.size).toBe(30);
    expect(t.calls).toEqual([25, 15, 5, 5]);
  });

  it('reads with BatchGetItem until no key is left unprocessed, deduplicating keys', async () => {
    const t = throttledTable((call) => (call === 1 ? 1 : 100));
    for (let i = 0; i < 5; i++) t.items.set(id(put(i)), put(i));
    const found = await batchGet(t.api, 'tbl', [key(0), key(0), key(1), key(2), key(9)], { consistent: true }, retry);
    expect(found.map(id).sort()).toEqual([key(0), key(1), key(2)].map((k) => `${k.PK}|${k.SK}`));
    expect(t.calls).toEqual([4, 3]);
  });
});

describe('request concurrency', () => {
  it('Limiter never has more than its maximum in flight and reports the first failure', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const work = (i: number) => limiter.run(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
      if (i === 7) throw new Error('boom 7');
      return i;
    });
    await expect(Promise.all(Array.from({ length: 20 }, (_, i) => work(i)))).rejects.toThrow('boom 7');
    expect(peak).toBe(3);
    expect(await limiter.map([1, 2, 3], async (x) => x * 2)).toEqual([2, 4, 6]);
  });

  it('mapLimit keeps order and stops taking work after a failure', async () => {
    expect(await mapLimit([3, 1, 2], 2, async (x) => x + 1)).toEqual([4, 2, 3]);
    const seen: number[] = [];
    await expect(mapLimit([1, 2, 3, 4, 5, 6], 1, async (x) => { seen.push(x); if (x === 2) throw new Error('x'); })).rejects.toThrow('x');
    expect(seen).toEqual([1, 2]);
  });
});
