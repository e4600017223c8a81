// StoreFixture for Cassandra: a keyspace in pyworkflow's layout per store on the test server
// (CASSANDRA_* from .test-env/env), dumped table by table as raw rows.
//
// Creating 21 tables costs ~3.5 s and dropping a keyspace ~2 s on the test node, so a property test
// with dozens of stores would spend minutes on schema changes. A destroyed store's keyspace is
// therefore kept for the next store of this process, which empties it with TRUNCATE (~0.8 s; truncated
// data leaves no tombstones), and dropCassandraTestKeyspaces() drops them all at the end.

import cassandra from 'cassandra-driver';
import { CassandraBackend } from '../../../src/backends/cassandra/cassandra-backend.js';
import type { CassandraConfig } from '../../../src/backends/cassandra/config.js';
import { createPyworkflowKeyspace, writeDataset } from '../../../src/backends/cassandra/seed.js';
import { tablesOf, type Generation } from '../../../src/backends/cassandra/tables.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import { requireEnv } from '../test-env.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

const PREFIX = 'pywr_t';

export interface CassandraTestServer {
  contactPoints: string[];
  port: number;
  localDataCenter: string;
}

/** The test server; a missing variable fails (never skips) the test. */
export function cassandraServer(): CassandraTestServer {
  return {
    contactPoints: requireEnv('CASSANDRA_CONTACT_POINTS').split(','),
    port: Number(requireEnv('CASSANDRA_PORT')),
    localDataCenter: requireEnv('CASSANDRA_LOCAL_DC'),
  };
}

/** pyworkflow's storage config for a keyspace on the test server (pyworkflow's keys; RF 1 on one node). */
export function cassandraStorageConfig(keyspace: string, extra: Partial<CassandraConfig> = {}): CassandraConfig & Record<string, unknown> {
  const s = cassandraServer();
  return { type: 'cassandra', contact_points: s.contactPoints, port: s.port, keyspace, replication_factor: 1, ...extra };
}

let client: cassandra.Client | null = null;
const free: { keyspace: string; generation: Generation }[] = [];
const owned = new Set<string>();
let counter = 0;

export async function testClient(): Promise<cassandra.Client> {
  if (client) return client;
  const s = cassandraServer();
  const c = new cassandra.Client({ contactPoints: s.contactPoints, protocolOptions: { port: s.port }, localDataCenter: s.localDataCenter });
  await c.connect();
  client = c;
  await dropAbandoned(c);
  return c;
}

/** A Cassandra fixture; `generation` picks pyworkflow's 16-, 17- or 21-table layout. */
export function cassandraFixture(options: { generation?: Generation } = {}): StoreFixture {
  const generation = options.generation ?? 21;
  const tables = new Set(tablesOf(generation).map((t) => t.name));
  return {
    type: 'cassandra',
    adapt: (d: Dataset): Dataset => ({
      ...d,
      // No scheduled_signals table, no deleted_at column (H10) in Cassandra.
      scheduledSignals: [],
      schedules: d.schedules.map((s) => ({ ...s, deleted_at: null })),
      // hooks_by_id keeps one row per hook id, naming its last writer; a purge of that writer deletes
      // the row rather than re-pointing it at an earlier writer, so a store seeded from the remaining
      // data would differ. Run-unique hook ids keep snapshots comparable; shared ids are tested on
      // their own (cassandra-backend.test.ts) and in the pyworkflow interop test.
      hooks: d.hooks.map((h) => {
        const hook_id = `${h.hook_id}_${h.run_id.slice(-8)}`;
        return { ...h, hook_id, token: `${h.run_id}:${hook_id}` };
      }),
      ...(tables.has('checkpoints') ? {} : { checkpoints: [] }),
      ...(tables.has('signals') ? {} : { streams: [], signals: [], subscriptions: [], acknowledgments: [] }),
    }),
    async create(dataset: Dataset): Promise<StoreHandle> {
      const c = await testClient();
      const keyspace = await takeKeyspace(c, generation);
      await writeDataset(c, keyspace, dataset, { generation });
      return cassandraHandle(keyspace, async () => void free.push({ keyspace, generation }));
    },
  };
}

export const cassandraStoreFixture = cassandraFixture();

export function cassandraHandle(keyspace: string, cleanup: () => Promise<void> = async () => undefined, extra: Partial<CassandraConfig> = {}): StoreHandle {
  const storageConfig = { ...cassandraStorageConfig(keyspace), local_data_center: cassandraServer().localDataCenter, ...extra };
  return {
    storageConfig,
    backend: () => new CassandraBackend(storageConfig, { logger: silentLogger }),
    dump: async () => dumpKeyspace(await testClient(), keyspace),
    destroy: cleanup,
  };
}

/** Every table of the keyspace, every row as raw JSON values in column order, sorted. */
export async function dumpKeyspace(c: cassandra.Client, keyspace: string): Promise<Snapshot> {
  const tables = (await c.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true })).rows
    .map((r) => r.get('table_name') as string)
    .sort();
  const out: Snapshot = {};
  await Promise.all(
    tables.map(async (t) => {
      const rows: string[] = [];
      const rs = await c.execute(`SELECT * FROM ${keyspace}.${t}`, [], { prepare: true, fetchSize: 1000 });
      for await (const row of rs) rows.push(JSON.stringify(rs.columns.map((col) => raw(row.get(col.name)))));
      out[t] = rows.sort();
    }),
  );
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function raw(v: unknown): unknown {
  if (v instanceof Date) return `ts:${v.getTime()}`;
  if (v instanceof cassandra.types.Uuid) return `uuid:${v.toString()}`;
  return v ?? null;
}

/** Drops every keyspace this process created (call in afterAll). */
export async function dropCassandraTestKeyspaces(): Promise<void> {
  const c = client;
  if (!c) return;
  for (const ks of owned) await c.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
  owned.clear();
  free.length = 0;
  client = null;
  await c.shutdown();
}

/** A fresh keyspace name owned by this process (pid in the name, so leftovers of dead runs are recognisable). */
export function newTestKeyspaceName(purpose = 'store'): string {
  const ks = `${PREFIX}_${process.pid}_${purpose}_${++counter}`;
  owned.add(ks);
  return ks;
}

async function takeKeyspace(c: cassandra.Client, generation: Generation): Promise<string> {
  const i = free.findIndex((f) => f.generation === generation);
  if (i >= 0) {
    const keyspace = free.splice(i, 1)[0]!.keyspace;
    await Promise.all(tablesOf(generation).map((t) => c.execute(`TRUNCATE ${keyspace}.${t.name}`)));
    return keyspace;
  }
  const keyspace = newTestKeyspaceName(`g${generation}`);
  await createPyworkflowKeyspace(c, keyspace, { generation });
  return keyspace;
}

/** Keyspaces of test processes that died before their afterAll (their pid is gone). */
async function dropAbandoned(c: cassandra.Client): Promise<void> {
  const rows = (await c.execute('SELECT keyspace_name FROM system_schema.keyspaces')).rows.map((r) => r.get('keyspace_name') as string);
  for (const ks of rows) {
    const m = new RegExp(`^${PREFIX}_(\\d+)_`).exec(ks);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    await c.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
