// StoreFixture for pyworkflow's DynamoDB table on the test server (moto, DYNAMODB_ENDPOINT): a fresh
// table per store created as pyworkflow creates it, deleted in destroy(), dumped item by item.

import { createHash, randomBytes } from 'node:crypto';
import { createDynamoApi, type DynamoApi, type Item } from '../../../src/backends/dynamodb/client.js';
import { DynamodbBackend, type DynamodbBackendOptions } from '../../../src/backends/dynamodb/dynamodb-backend.js';
import { pkPrefix } from '../../../src/backends/dynamodb/keys.js';
import { scanPages } from '../../../src/backends/dynamodb/requests.js';
import { adaptDatasetForDynamo, createPyworkflowTable, writeDynamoDataset } from '../../../src/backends/dynamodb/seed.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import { requireEnv } from '../test-env.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

export interface DynamoTestServer {
  endpoint: string;
  region: string;
}

/** The test server from .test-env/env; a missing variable fails the test (never a skip). */
export function dynamoTestServer(): DynamoTestServer {
  return { endpoint: requireEnv('DYNAMODB_ENDPOINT'), region: requireEnv('AWS_REGION') };
}

export function testApi(server = dynamoTestServer()): DynamoApi {
  return createDynamoApi({ table: '', region: server.region, endpoint: server.endpoint });
}

export function freshTableName(prefix = 'pywr-test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export interface DynamoFixtureOptions {
  /** Write this share of hooks (0..1) in the legacy `HOOK#{hook_id}` shape (H20); hook ids are made unique. */
  legacyHookShare?: number;
  backendOptions?: DynamodbBackendOptions;
}

export function dynamoFixture(options: DynamoFixtureOptions = {}): StoreFixture {
  const legacyShare = options.legacyHookShare ?? 0;
  return {
    type: 'dynamodb',
    adapt: (d: Dataset): Dataset => {
      const a = adaptDatasetForDynamo(d);
      if (legacyShare === 0) return a;
      // Legacy hooks were keyed by hook_id alone, so their ids were unique across runs.
      return { ...a, hooks: a.hooks.map((h) => ({ ...h, hook_id: `${h.hook_id}_${h.run_id.slice(-6)}`, token: `${h.run_id}:${h.hook_id}_${h.run_id.slice(-6)}` })) };
    },
    async create(dataset: Dataset): Promise<StoreHandle> {
      const server = dynamoTestServer();
      const api = testApi(server);
      const table = freshTableName();
      await createPyworkflowTable(api, table);
      // Chosen by the hook's identity, so the store seeded with the oracle's answer has the same legacy items.
      const legacy = new Set(
        dataset.hooks.map((h) => `${h.run_id}:${h.hook_id}`).filter((id) => legacyShare > 0 && createHash('sha1').update(id).digest()[0]! < legacyShare * 256),
      );
      await writeDynamoDataset(api, table, dataset, { legacyHooks: legacy });
      return dynamoHandle(api, table, server, options.backendOptions, true);
    },
  };
}

export const dynamoStoreFixture = dynamoFixture();

export function dynamoHandle(api: DynamoApi, table: string, server: DynamoTestServer, backendOptions?: DynamodbBackendOptions, owned = true): StoreHandle {
  const storageConfig = { type: 'dynamodb' as const, table_name: table, region: server.region, endpoint_url: server.endpoint };
  return {
    storageConfig,
    backend: () => new DynamodbBackend(storageConfig, { logger: silentLogger }, backendOptions),
    dump: async () => dumpTable(api, table),
    destroy: async () => {
      if (owned) await api.deleteTable({ TableName: table });
      api.destroy();
    },
  };
}

/** Every item, grouped by PK prefix, as canonical JSON (attributes sorted), sorted. */
export async function dumpTable(api: DynamoApi, table: string): Promise<Snapshot> {
  const out: Snapshot = {};
  for await (const page of scanPages(api, { TableName: table, ConsistentRead: true })) {
    for (const item of page) {
      const family = pkPrefix(item.PK?.S ?? '');
      (out[family] ??= []).push(canonical(item));
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

function canonical(item: Item): string {
  return JSON.stringify(Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))));
}
