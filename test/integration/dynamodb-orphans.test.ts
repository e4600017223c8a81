// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto) and the built CLI. The orphan sweep
// (--orphans, H24) on pyworkflow's table: old groups go with exact counts, everything else stays
// byte-identical, a dry run predicts it, and a writer appending meanwhile keeps its group.
import { describe, expect, it } from 'vitest';
import type { DynamoApi } from '../../src/backends/dynamodb/client.js';
import { DynamodbBackend } from '../../src/backends/dynamodb/dynamodb-backend.js';
import { batchPut } from '../../src/backends/dynamodb/requests.js';
import { createPyworkflowTable, writeDynamoDataset } from '../../src/backends/dynamodb/seed.js';
import { sweep } from '../../src/engine/sweep.js';
import { silentLogger } from '../../src/log.js';
import { runCli } from '../support/cli.js';
import { CUTOFF, KEPT, ORPHAN_COUNTS, orphanScenario, PURGED, STREAM_CHECKPOINT, orphanSweepOptions as options, dryRunThenSweep } from '../support/orphan-scenario.js';
import { dynamoHandle, dynamoTestServer, freshTableName, testApi } from '../support/stores/dynamodb-store.js';
import type { Snapshot, StoreHandle } from '../support/stores/store-fixture.js';

const server = dynamoTestServer();

/** The scenario in pyworkflow's shapes: run_gone_c's hook is a legacy one (HOOK#{hook_id}, a token without run_id). */
async function create(api: DynamoApi = testApi(server)): Promise<StoreHandle> {
  const table = freshTableName('pywr-orphans');
  await createPyworkflowTable(api, table);
  await writeDynamoDataset(api, table, orphanScenario(), { legacyHooks: new Set(['run_gone_c:hook_x_1']) });
  // record_event's atomic counters, which the seed writes only for runs with a record.
  const counter = (runId: string, seq: number) => ({ PK: { S: `RUN#${runId}` }, SK: { S: '#EVENT_COUNTER' }, seq: { N: String(seq) } });
  await batchPut(api, table, [counter('run_gone_a', 3), counter('stream_step_consume_0123456789ab', 4), counter('stream_step_consume_ba9876543210', 3), counter('run_young', 3)]);
  return dynamoHandle(api, table, server, undefined, true);
}

const mentions = (item: string, ids: readonly string[]): boolean => ids.some((id) => item.includes(id));
/** The items of the purged groups (never the stream-step checkpoint, which belongs to no run). */
const purgedItem = (item: string): boolean => mentions(item, PURGED) && !item.includes(`"CHECKPOINT#${STREAM_CHECKPOINT}"`);

function without(dump: Snapshot, drop: (item: string) => boolean): Snapshot {
  return Object.fromEntries(Object.entries(dump).map(([family, items]) => [family, items.filter((i) => !drop(i))] as const).filter(([, items]) => items.length > 0));
}

describe('dynamodb orphan sweep', () => {
  it('purges the old orphan groups (exact counts, tokens and counters too) and leaves every other item byte-identical; a dry run predicts it', async () => {
    const store = await create();
    try {
      const { before, after } = await dryRunThenSweep(store, (i) => mentions(i, KEPT));
      expect(after).toEqual(without(before, purgedItem));
      // 15 counted items, and 5 index items: 3 TOKEN# (one a legacy token without run_id), 2 #EVENT_COUNTER.
      expect(Object.values(before).flat().length - Object.values(after).flat().length).toBe(15 + 5);

      const again = await sweep(store.backend(), options());
      expect(again.deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
    } finally {
      await store.destroy();
    }
  });

  it('keeps a group whose events counter moves after the re-read (a writer appending under that run id)', async () => {
    const api = testApi(server);
    const store = await create(api);
    const table = store.storageConfig.table_name as string;
    const victim = 'RUN#stream_step_consume_0123456789ab';
    let appended = false;
    const appending: DynamoApi = {
      ...api,
      deleteItem: async (input) => {
        if (!appended && input.Key?.PK?.S === victim && input.Key.SK?.S === '#EVENT_COUNTER') {
          appended = true; // record_event: ADD to the counter, then put the event
          await api.updateItem({ TableName: table, Key: input.Key, UpdateExpression: 'ADD seq :one', ExpressionAttributeValues: { ':one': { N: '1' } } });
        }
        return api.deleteItem(input);
      },
      destroy: () => undefined,
    };
    try {
      const before = await store.dump();
      const backend = new DynamodbBackend({ type: 'dynamodb', table_name: table, region: server.region, endpoint_url: server.endpoint }, { logger: silentLogger }, { api: appending });
      const report = await sweep(backend, options());
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(appended).toBe(true);
      expect(report.deleted).toMatchObject({ ...ORPHAN_COUNTS, events: ORPHAN_COUNTS.events - 4 });
      const stay = (i: string): boolean => i.includes(`"${victim}"`);
      const after = await store.dump();
      expect(Object.values(after).flat().filter((i) => stay(i) && !i.includes('#EVENT_COUNTER'))).toEqual(Object.values(before).flat().filter((i) => stay(i) && !i.includes('#EVENT_COUNTER')));
      expect(after.RUN!.filter((i) => stay(i) && i.includes('#EVENT_COUNTER'))).toEqual([expect.stringContaining('"N":"5"')]);
    } finally {
      await store.destroy();
    }
  });

  it('--orphans through the built CLI: exit 0 and the counts in the JSON result', async () => {
    const store = await create();
    try {
      const before = await store.dump();
      const r = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', CUTOFF.toISOString(), '--output', 'json', '--orphans', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { outcome: string; deleted: Record<string, number> };
      expect(result).toMatchObject({ outcome: 'succeeded', deleted: ORPHAN_COUNTS });
      expect(await store.dump()).toEqual(without(before, purgedItem));
    } finally {
      await store.destroy();
    }
  });
});
