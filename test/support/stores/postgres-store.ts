// StoreFixture for PostgreSQL (and the Citus-shaped layout on plain PostgreSQL): a fresh database per
// store, created and dropped with the superuser of the test server (PG_URL), seeded in pyworkflow's
// exact layout, dumped table by table as the rows' text form.

import pg from 'pg';
import { PostgresBackend } from '../../../src/backends/postgres/postgres-backend.js';
import { seedPostgresStore, type PostgresSeedLayout } from '../../../src/backends/postgres/seed.js';
import type { Logger } from '../../../src/log.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import { requireEnv } from '../test-env.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

let counter = 0;

/** Superuser connection settings of the test server. */
export function pgAdminConfig(database = 'postgres'): pg.ClientConfig {
  const url = new URL(requireEnv('PG_URL'));
  return {
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    options: '-c TimeZone=UTC',
  };
}

export async function withPgClient<T>(database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(pgAdminConfig(database));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new empty database; its name is unique per test process. */
export async function createPgDatabase(prefix = 'pywr_t', extra = ''): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await withPgClient('postgres', (c) => c.query(`CREATE DATABASE ${name} ${extra}`));
  return name;
}

export async function dropPgDatabase(name: string): Promise<void> {
  await withPgClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export function pgStorageConfig(type: 'postgres' | 'citus', database: string): Record<string, unknown> & { type: 'postgres' | 'citus' } {
  const admin = pgAdminConfig(database);
  return { type, host: admin.host!, port: admin.port!, user: admin.user!, password: String(admin.password), database, sslmode: 'disable' };
}

/** `createDatabase` is appended to CREATE DATABASE (e.g. an ICU locale for a linguistic collation). */
/** `storage` adds our own config keys (e.g. transaction_budget_ms) to every store's config. */
export function postgresFixture(
  options: { type?: 'postgres' | 'citus'; layout?: PostgresSeedLayout; createDatabase?: string; storage?: Record<string, unknown> } = {},
): StoreFixture {
  const type = options.type ?? 'postgres';
  const layout = options.layout ?? (type === 'citus' ? 'citus' : 'v7');
  return {
    type,
    adapt: (d: Dataset): Dataset => d,
    async create(dataset: Dataset): Promise<StoreHandle> {
      const database = await createPgDatabase('pywr_t', options.createDatabase ?? '');
      try {
        await withPgClient(database, (c) => seedPostgresStore(c, dataset, { layout }));
      } catch (err) {
        await dropPgDatabase(database);
        throw err;
      }
      return pgHandle(type, database, silentLogger, options.storage);
    },
  };
}

export function pgHandle(type: 'postgres' | 'citus', database: string, logger: Logger = silentLogger, extra: Record<string, unknown> = {}): StoreHandle {
  const storageConfig = { ...pgStorageConfig(type, database), ...extra };
  return {
    storageConfig,
    backend: () => new PostgresBackend(storageConfig, { logger }),
    dump: () => dumpPostgres(database),
    destroy: () => dropPgDatabase(database),
  };
}

/** Every table of the public schema, each row as PostgreSQL's text form of the whole row, sorted. */
export async function dumpPostgres(database: string): Promise<Snapshot> {
  return withPgClient(database, async (c) => {
    const tables = (await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t);
    const out: Snapshot = {};
    for (const t of tables) {
      out[t] = (await c.query<{ r: string }>(`SELECT x::text AS r FROM "${t}" x`)).rows.map((r) => r.r).sort();
    }
    return out;
  });
}
