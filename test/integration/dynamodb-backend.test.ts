// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto 5.2.5) and the built CLI.
// Concurrent sweeps, a run changing mid-purge (H15), UnprocessedItems during a real sweep (H12),
// unknown layouts refused with nothing deleted, and credentials never in any output.
import type { BatchWriteItemCommandInput, DeleteItemCommandInput } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { DynamoApi } from '../../src/backends/dynamodb/client.js';
import type { DynamodbConfig } from '../../src/backends/dynamodb/config.js';
import { DynamodbBackend } from '../../src/backends/dynamodb/dynamodb-backend.js';
import { createPyworkflowTable, pyworkflowCreateTable, writeDynamoDataset } from '../../src/backends/dynamodb/seed.js';
import { addCounts, zeroCounts } from '../../src/engine/records.js';
import { sweep, type SweepOptions } from '../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { silentLogger } from '../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import { runCli, startCli } from '../support/cli.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { raceGate } from '../support/race.js';
import { dumpTable, dynamoFixture, dynamoTestServer, freshTableName, testApi } from '../support/stores/dynamodb-store.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const CUTOFF = new Date(NOW.getTime() - 10 * DAY);
const fixture = dynamoFixture();
const server = dynamoTestServer();
const api = testApi(server);
afterAll(() => api.destroy());

const configOf = (c: Record<string, unknown>): DynamodbConfig => ({
  type: 'dynamodb', table_name: c.table_name as string, region: c.region as string, endpoint_url: c.endpoint_url as string,
});

function options(over: Partial<SweepOptions> = {}): SweepOptions {
  return {
    cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], batchSize: 7, dryRun: false, housekeeping: true, lockWaitMs: 1000,
    signal: new AbortController().signal, now: () => NOW, logger: silentLogger, ...over,
  };
}

function dataset(seed: number, runs: number): Dataset {
  return fixture.adapt(generateDataset({ seed, runs, now: NOW, spanDays: 30, eventsPerRun: 3, edges: [CUTOFF] }));
}

describe('dynamodb sweeps racing each other', () => {
  it('three sweeps at once delete everything once and report, together, exactly what one sweep would', async () => {
    const data = dataset(11, 120);
    const expected = expectedAfterSweep(data, { cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], housekeeping: true });
    const store = await fixture.create(data);
    const want = await fixture.create(expected.remaining);
    try {
      // The sweeps really race: see support/race.ts.
      const gated = raceGate(3);
      const reports = await Promise.all([0, 1, 2].map(() => sweep(gated(store.backend()), options())));
      for (const r of reports) expect(r.outcome, r.error?.message).toBe('succeeded');
      const total = zeroCounts();
      for (const r of reports) addCounts(total, r.deleted);
      expect(total).toEqual(expected.counts);
      expect(await store.dump()).toEqual(await want.dump());
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });

  it('two CLI processes at once: exit 0 both, the store ends as after one sweep, counts add up to one sweep', async () => {
    const data = dataset(12, 80);
    const expected = expectedAfterSweep(data, { cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], housekeeping: true });
    const store = await fixture.create(data);
    const want = await fixture.create(expected.remaining);
    try {
      const args = ['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', CUTOFF.toISOString(), '--batch-size', '5', '--output', 'json', '--progress', 'none'];
      const runs = await Promise.all([startCli(args).done, startCli(args).done]);
      const total = zeroCounts();
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(0);
        addCounts(total, (JSON.parse(r.stdout) as { deleted: Record<string, number> }).deleted);
      }
      expect(total).toEqual(expected.counts);
      expect(await store.dump()).toEqual(await want.dump());
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });
});

const run = (id: string, status: string, daysAgo: number, parent: string | null = null): RunRecord => ({
  run_id: id, workflow_name: 'wf', status, created_at: new Date(NOW.getTime() - (daysAgo + 1) * DAY), updated_at: new Date(NOW.getTime() - daysAgo * DAY),
  started_at: null, completed_at: null, idempotency_key: null, parent_run_id: parent, nesting_depth: parent ? 1 : 0, continued_from_run_id: null,
  continued_to_run_id: null, input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
});

function familyOf(runIds: string[]): Dataset {
  const d = emptyDataset();
  const [parent, child, other] = runIds as [string, string, string];
  d.runs.push(run(parent, 'completed', 40), run(child, 'failed', 40, parent), run(other, 'completed', 40));
  for (const r of d.runs) {
    for (let seq = 0; seq < 4; seq++) {
      const stepId = seq > 0 ? `step_fetch_${r.run_id.slice(-4)}${seq}` : null;
      d.events.push({ event_id: `evt_${r.run_id.slice(-8)}${seq}`, run_id: r.run_id, sequence: seq, type: seq === 0 ? 'workflow.started' : 'step.completed', timestamp: r.created_at, data: stepId ? { step_id: stepId } : {}, step_id: stepId });
      if (stepId) d.checkpoints.push({ step_run_id: `${r.run_id}:${stepId}`, data: { n: seq }, created_at: r.created_at, updated_at: r.created_at });
    }
    d.hooks.push({ run_id: r.run_id, hook_id: 'hook_approval_1', token: `${r.run_id}:hook_approval_1`, status: 'received', created_at: r.created_at });
    d.cancellationFlags.push({ run_id: r.run_id, created_at: r.updated_at });
  }
  return d;
}

describe('dynamodb purge guards', () => {
  it('keeps a run that changes while its records are deleted (conditional run delete, H15), and its parent untouched', async () => {
    const [parent, child, other] = ['run_00000000000000p1', 'run_00000000000000c1', 'run_00000000000000o1'];
    const store = await fixture.create(familyOf([parent, child, other]));
    try {
      const table = store.storageConfig.table_name as string;
      let changed = false;
      // Like pyworkflow's recovery claiming the run (try_claim_run) just after the sweep re-read it.
      const racing: DynamoApi = {
        ...api,
        deleteItem: async (input: DeleteItemCommandInput) => {
          if (!changed && input.Key?.PK?.S === `RUN#${child}` && input.Key.SK?.S?.startsWith('EVENT#')) {
            changed = true;
            const now = '2026-06-01T11:59:00+00:00';
            await api.updateItem({
              TableName: table, Key: { PK: { S: `RUN#${child}` }, SK: { S: '#METADATA' } },
              UpdateExpression: 'SET #s = :s, updated_at = :u, GSI1SK = :g', ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':s': { S: 'running' }, ':u': { S: now }, ':g': { S: `running#${now}` } },
            });
          }
          return api.deleteItem(input);
        },
      };
      const before = await store.dump();
      const report = await sweep(new DynamodbBackend(configOf(store.storageConfig), { logger: silentLogger }, { api: racing }), options({ housekeeping: false }));
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(changed).toBe(true);
      expect(report.deleted.runs).toBe(1);
      const after = await store.dump();
      const owned = (snapshot: Record<string, string[]>, family: string, id: string): string[] =>
        (snapshot[family] ?? []).filter((i) => ((JSON.parse(i) as { PK: { S: string } }).PK.S).includes(id));
      const items = (family: string, id: string): string[] => owned(after, family, id);
      // The child's run item survives with its new status; the parent keeps every item it had.
      expect(items('RUN', child).some((i) => i.includes('"#METADATA"') && i.includes('"running"'))).toBe(true);
      for (const family of Object.keys(before)) {
        expect(items(family, parent), `${family} items of the parent`).toEqual(owned(before, family, parent));
      }
      expect(items('RUN', other)).toEqual([]);
    } finally {
      await store.destroy();
    }
  });

  it('resends UnprocessedItems during a real sweep and never counts an item before it is deleted', async () => {
    const data = dataset(13, 60);
    const expected = expectedAfterSweep(data, { cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], housekeeping: true });
    const store = await fixture.create(data);
    const want = await fixture.create(expected.remaining);
    try {
      let calls = 0;
      let unprocessed = 0;
      // A throttled table: every other BatchWriteItem processes only the first of its requests, or none.
      const throttled: DynamoApi = {
        ...api,
        batchWriteItem: async (input: BatchWriteItemCommandInput) => {
          calls++;
          const [table, requests] = Object.entries(input.RequestItems ?? {})[0]!;
          if (calls % 2 === 1) return api.batchWriteItem(input);
          const accepted = requests.length > 1 ? 1 : 0;
          if (accepted > 0) await api.batchWriteItem({ RequestItems: { [table]: requests.slice(0, accepted) } });
          unprocessed += requests.length - accepted;
          return { UnprocessedItems: { [table]: requests.slice(accepted) } };
        },
      };
      const backend = new DynamodbBackend(configOf(store.storageConfig), { logger: silentLogger }, {
        api: throttled, retry: { maxAttempts: 20, baseDelayMs: 1, maxDelayMs: 5, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      });
      const report = await sweep(backend, options());
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(unprocessed).toBeGreaterThan(0);
      expect(report.deleted).toEqual(expected.counts);
      expect(await store.dump()).toEqual(await want.dump());
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });
});

describe('dynamodb layouts the sweep refuses', () => {
  const sweepCli = (config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    runCli(['sweep', '--storage', JSON.stringify(config), '--retention-days', '1', '--output', 'json', '--progress', 'none'], env);
  const config = (table: string) => ({ type: 'dynamodb', table_name: table, region: server.region, endpoint_url: server.endpoint });
  const old = (): Dataset => dataset(21, 20);

  async function refused(table: string, reason: RegExp): Promise<void> {
    const before = await dumpTable(api, table);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const r = await sweepCli(config(table));
    expect(r.code, r.stderr).toBe(1);
    const result = JSON.parse(r.stdout) as { outcome: string; error: { code: string; message: string }; deleted: Record<string, number> };
    expect(result).toMatchObject({ outcome: 'failed', error: { code: 'UNKNOWN_SCHEMA' } });
    expect(result.error.message).toMatch(reason);
    expect(result.error.message).toMatch(/Nothing was deleted/);
    expect(Object.values(result.deleted).every((n) => n === 0)).toBe(true);
    expect(await dumpTable(api, table)).toEqual(before);
  }

  it('a table without pyworkflow\'s GSI5', async () => {
    const table = freshTableName('pywr-nogsi5');
    const def = pyworkflowCreateTable(table);
    await api.createTable({
      ...def,
      AttributeDefinitions: def.AttributeDefinitions!.filter((a) => !a.AttributeName!.startsWith('GSI5')),
      GlobalSecondaryIndexes: def.GlobalSecondaryIndexes!.filter((g) => g.IndexName !== 'GSI5'),
    });
    try {
      await writeDynamoDataset(api, table, old());
      await refused(table, /index GSI5 is missing/);
    } finally {
      await api.deleteTable({ TableName: table });
    }
  });

  it('a table with a GSI pyworkflow does not create, or a different key type', async () => {
    const table = freshTableName('pywr-extra');
    const def = pyworkflowCreateTable(table);
    await api.createTable({
      ...def,
      AttributeDefinitions: [...def.AttributeDefinitions!, { AttributeName: 'GSI6PK', AttributeType: 'S' }],
      GlobalSecondaryIndexes: [...def.GlobalSecondaryIndexes!, { IndexName: 'GSI6', KeySchema: [{ AttributeName: 'GSI6PK', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
    });
    const numeric = freshTableName('pywr-numeric');
    await api.createTable({ ...def, TableName: numeric, AttributeDefinitions: def.AttributeDefinitions!.map((a) => (a.AttributeName === 'SK' ? { ...a, AttributeType: 'N' as const } : a)) });
    try {
      await writeDynamoDataset(api, table, old());
      await refused(table, /unexpected global secondary index\(es\) GSI6/);
      await api.batchWriteItem({ RequestItems: { [numeric]: [{ PutRequest: { Item: { PK: { S: 'RUN#x' }, SK: { N: '1' } } } }] } });
      await refused(numeric, /SK has type N, expected S/);
    } finally {
      await api.deleteTable({ TableName: table });
      await api.deleteTable({ TableName: numeric });
    }
  });

  it('pyworkflow\'s table shape holding another application\'s items', async () => {
    const table = freshTableName('pywr-foreign');
    await createPyworkflowTable(api, table);
    try {
      await writeDynamoDataset(api, table, dataset(22, 3));
      await api.batchWriteItem({ RequestItems: { [table]: [{ PutRequest: { Item: { PK: { S: 'USER#42' }, SK: { S: 'PROFILE' } } } }] } });
      await refused(table, /PK prefixes pyworkflow never writes: USER/);
    } finally {
      await api.deleteTable({ TableName: table });
    }
  });

  it('a table that does not exist: a clear error naming table and region', async () => {
    const r = await sweepCli(config('pywr-no-such-table'));
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(result.error.code).toBe('CONNECTION_FAILED');
    expect(result.error.message).toContain(`dynamodb table pywr-no-such-table in ${server.region} at ${server.endpoint}: the table does not exist`);
  });

  it('an empty pyworkflow table: succeeded, nothing to do', async () => {
    const table = freshTableName('pywr-empty');
    await createPyworkflowTable(api, table);
    try {
      const r = await sweepCli(config(table));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'succeeded', deleted: { runs: 0 } });
    } finally {
      await api.deleteTable({ TableName: table });
    }
  });
});

describe('dynamodb credentials', () => {
  const secret = 'pywrSecretKey/Zq9+x7Wv3Lm5Np8Rt2Yb4Hc6Jd0Kf1Ge';
  const keyId = 'AKIAPYWRTESTKEY00042';
  const token = 'pywrSessionToken0123456789abcdefSECRET';
  const env = { AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token };

  it('never appear in output, logs or errors: success, verbose, text output, and an unreachable endpoint', async () => {
    const store = await fixture.create(dataset(31, 15));
    try {
      const base = ['sweep', '--storage', JSON.stringify(store.storageConfig), '--retention-days', '3', '--progress', 'log', '--verbose'];
      const outputs = [
        await runCli([...base, '--output', 'json'], env),
        await runCli([...base, '--output', 'text', '--dry-run'], env),
        await runCli(['sweep', '--storage', JSON.stringify({ ...store.storageConfig, endpoint_url: 'http://127.0.0.1:9' }), '--retention-days', '3', '--verbose', '--output', 'json'], env),
      ];
      expect(outputs.map((o) => o.code)).toEqual([0, 0, 1]);
      expect(JSON.parse(outputs[2]!.stdout)).toMatchObject({ outcome: 'failed', error: { code: 'CONNECTION_FAILED' } });
      for (const o of outputs) {
        for (const s of [secret, keyId, token]) {
          expect(o.stdout).not.toContain(s);
          expect(o.stderr).not.toContain(s);
        }
      }
    } finally {
      await store.destroy();
    }
  });

  it('come from the SDK default chain: with none at all the sweep fails naming the cause, touching nothing', async () => {
    const store = await fixture.create(dataset(32, 10));
    try {
      const before = await store.dump();
      const r = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--retention-days', '3', '--output', 'json'], {
        AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: 'pywr-no-such-profile',
        AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '',
      });
      expect(r.code).toBe(1);
      expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/credential|profile/i);
      expect(await store.dump()).toEqual(before);
    } finally {
      await store.destroy();
    }
  });
});
