// StoreFixture for MySQL/MariaDB: a fresh database per store, created and dropped as root on the test
// server (MYSQL_URL), seeded in pyworkflow's v2 layout (what 0.2.3 creates, H7), dumped table by table
// with every value as the server's text.

import mysql from 'mysql2/promise';
import { MysqlBackend } from '../../../src/backends/mysql/mysql-backend.js';
import { adaptToMysqlV2, seedMysqlStore, type MysqlSeedLayout } from '../../../src/backends/mysql/seed.js';
import type { Logger } from '../../../src/log.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import { requireEnv } from '../test-env.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

let counter = 0;

export function mysqlAdminOptions(database?: string): mysql.ConnectionOptions {
  const url = new URL(requireEnv('MYSQL_URL'));
  return {
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    ...(database ? { database } : {}),
    dateStrings: true,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4_unicode_ci',
  };
}

export async function withMysql<T>(database: string | undefined, work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection(mysqlAdminOptions(database));
  try {
    return await work(conn);
  } finally {
    await conn.end();
  }
}

export async function createMysqlDatabase(prefix = 'pywr_t'): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await withMysql(undefined, (c) => c.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`));
  return name;
}

export async function dropMysqlDatabase(name: string): Promise<void> {
  await withMysql(undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${name}`));
}

export function mysqlStorageConfig(database: string): Record<string, unknown> & { type: 'mysql' } {
  const o = mysqlAdminOptions(database);
  return { type: 'mysql', host: o.host!, port: o.port!, user: o.user!, password: o.password!, database };
}

/** `storage` adds our own config keys (e.g. transaction_budget_ms) to every store's config. */
export function mysqlFixture(options: { layout?: MysqlSeedLayout; storage?: Record<string, unknown> } = {}): StoreFixture {
  return {
    type: 'mysql',
    adapt: adaptToMysqlV2,
    async create(dataset: Dataset): Promise<StoreHandle> {
      const database = await createMysqlDatabase();
      try {
        await withMysql(database, (c) => seedMysqlStore(c, dataset, { layout: options.layout ?? 'v2' }));
      } catch (err) {
        await dropMysqlDatabase(database);
        throw err;
      }
      return mysqlHandle(database, silentLogger, options.storage);
    },
  };
}

export function mysqlHandle(database: string, logger: Logger = silentLogger, extra: Record<string, unknown> = {}): StoreHandle {
  const storageConfig = { ...mysqlStorageConfig(database), ...extra };
  return {
    storageConfig,
    backend: () => new MysqlBackend(storageConfig, { logger }),
    dump: () => dumpMysql(database),
    destroy: () => dropMysqlDatabase(database),
  };
}

export async function dumpMysql(database: string): Promise<Snapshot> {
  return withMysql(database, async (c) => {
    const [tables] = await c.query<mysql.RowDataPacket[]>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
    );
    const out: Snapshot = {};
    for (const { t } of tables) {
      const [rows] = await c.query<mysql.RowDataPacket[][]>({ sql: `SELECT * FROM \`${String(t)}\``, rowsAsArray: true });
      out[String(t)] = rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  });
}
