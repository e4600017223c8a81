// Smoke tests of the database part of the test environment (scripts/env/components/postgres.sh,
// mariadb.sh, cassandra.sh, dynamodb.sh, pyworkflow.sh) and of test/support/pyworkflow_driver.py:
// every server accepts a write and a read through the project's own client libraries, and
// pyworkflow itself writes a run into every backend and reads it back.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { requireEnv } from '../../support/test-env.js';

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const tmp = mkdtempSync(join(tmpdir(), 'pywr-db-smoke-'));
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// throwaway databases / keyspaces / tables

async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: requireEnv('PG_URL') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function pgDatabase(name: string): Promise<string> {
  await pgAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  cleanups.push(() => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  return name;
}

async function mysqlAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection(requireEnv('MYSQL_URL'));
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function mysqlDatabase(name: string): Promise<string> {
  await mysqlAdmin((c) => c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`));
  cleanups.push(() => mysqlAdmin((c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``)).then(() => undefined));
  return name;
}

function cassandraClient(keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    contactPoints: requireEnv('CASSANDRA_CONTACT_POINTS').split(','),
    protocolOptions: { port: Number(requireEnv('CASSANDRA_PORT')) },
    localDataCenter: requireEnv('CASSANDRA_LOCAL_DC'),
    socketOptions: { readTimeout: 60_000 }, // schema changes take seconds on a busy 2-core machine
    ...(keyspace ? { keyspace } : {}),
  });
}

function dropKeyspaceLater(keyspace: string): void {
  cleanups.push(async () => {
    const c = cassandraClient();
    try {
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    } finally {
      await c.shutdown();
    }
  });
}

function dynamo(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: requireEnv('DYNAMODB_ENDPOINT'),
    region: requireEnv('AWS_REGION'),
    credentials: { accessKeyId: requireEnv('AWS_ACCESS_KEY_ID'), secretAccessKey: requireEnv('AWS_SECRET_ACCESS_KEY') },
  });
}

function dropTableLater(table: string): void {
  cleanups.push(async () => {
    const d = dynamo();
    try {
      await d.send(new DeleteTableCommand({ TableName: table }));
    } finally {
      d.destroy();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// the servers themselves

describe('database servers of the test environment', () => {
  it('PostgreSQL: superuser creates a database, pyworkflow role connects, write and read', async () => {
    const db = await pgDatabase(`smoke_${suffix}`);
    const url = new URL(requireEnv('PG_URL'));
    url.pathname = `/${db}`;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      await c.query('CREATE TABLE t (id int PRIMARY KEY, at timestamptz NOT NULL)');
      await c.query("INSERT INTO t VALUES (1, '2020-01-01T00:00:00Z')");
      const r = await c.query<{ id: number; at: Date }>('SELECT id, at FROM t');
      expect(r.rows).toEqual([{ id: 1, at: new Date('2020-01-01T00:00:00Z') }]);
      const v = await c.query<{ server_version: string }>('SHOW server_version');
      expect(v.rows[0]?.server_version).toMatch(/^15\./);
    } finally {
      await c.end();
    }
    const app = new pg.Client({ connectionString: requireEnv('PG_PYWORKFLOW_URL') });
    await app.connect();
    try {
      expect((await app.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe('pyworkflow');
    } finally {
      await app.end();
    }
    expect(requireEnv('PG_HOST')).toBe('127.0.0.1');
    expect(Number(requireEnv('PG_PORT'))).toBe(15432);
    expect(requireEnv('PG_USER')).toBeTruthy();
    expect(requireEnv('PG_PASSWORD')).toBeTruthy();
  });

  it('MariaDB: root creates a database, write and read; pyworkflow user connects', async () => {
    const db = await mysqlDatabase(`smoke_${suffix}`);
    const c = await mysql.createConnection({
      host: requireEnv('MYSQL_HOST'), port: Number(requireEnv('MYSQL_PORT')),
      user: requireEnv('MYSQL_USER'), password: requireEnv('MYSQL_PASSWORD'), database: db, timezone: 'Z',
    });
    try {
      await c.query('CREATE TABLE t (id INT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB');
      await c.query("INSERT INTO t VALUES (1, '2020-01-01 00:00:00.123456')");
      const [rows] = await c.query('SELECT id, CAST(at AS CHAR) AS at FROM t');
      expect(rows).toEqual([{ id: 1, at: '2020-01-01 00:00:00.123456' }]);
      const [ver] = await c.query('SELECT VERSION() AS v');
      expect((ver as { v: string }[])[0]?.v).toMatch(/MariaDB/);
    } finally {
      await c.end();
    }
    const app = await mysql.createConnection(requireEnv('MYSQL_PYWORKFLOW_URL'));
    try {
      const [rows] = await app.query('SELECT DATABASE() AS d');
      expect((rows as { d: string }[])[0]?.d).toBe('pyworkflow');
    } finally {
      await app.end();
    }
  });

  it('Cassandra: keyspace, table, write and read over CQL', async () => {
    const ks = `smoke_${suffix}`;
    dropKeyspaceLater(ks);
    const c = cassandraClient();
    try {
      await c.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      await c.execute(`CREATE TABLE ${ks}.t (id text PRIMARY KEY, at timestamp)`);
      await c.execute(`INSERT INTO ${ks}.t (id, at) VALUES (?, ?)`, ['a', new Date('2020-01-01T00:00:00Z')], { prepare: true });
      const r = await c.execute(`SELECT id, at FROM ${ks}.t WHERE id = ?`, ['a'], { prepare: true });
      expect(r.rows.map((row) => [row.get('id') as string, (row.get('at') as Date).toISOString()])).toEqual([['a', '2020-01-01T00:00:00.000Z']]);
      const v = await c.execute('SELECT release_version, data_center FROM system.local');
      expect(v.first().get('release_version')).toMatch(/^5\.0\./);
      expect(v.first().get('data_center')).toBe(requireEnv('CASSANDRA_LOCAL_DC'));
    } finally {
      await c.shutdown();
    }
  });

  it('DynamoDB API (moto): table, PutItem, consistent GetItem', async () => {
    const table = `smoke-${suffix}`;
    const d = dynamo();
    try {
      await d.send(new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
        AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }, { AttributeName: 'SK', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }));
      dropTableLater(table);
      await d.send(new PutItemCommand({ TableName: table, Item: { PK: { S: 'RUN#a' }, SK: { S: '#METADATA' }, status: { S: 'completed' } } }));
      const got = await d.send(new GetItemCommand({ TableName: table, Key: { PK: { S: 'RUN#a' }, SK: { S: '#METADATA' } }, ConsistentRead: true }));
      expect(got.Item?.status?.S).toBe('completed');
    } finally {
      d.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// pyworkflow through test/support/pyworkflow_driver.py

interface DriverResult {
  ok: boolean;
  error?: string;
  pyworkflow_version?: string;
  shims?: string[];
  runs?: unknown;
}

interface InspectedRun {
  exists: boolean;
  status: string | null;
  updated_at: string | null;
  parent_run_id: string | null;
  events: number;
  hooks: number;
  hook_tokens: Record<string, boolean>;
  cancel_flag: boolean;
  checkpoints: Record<string, boolean>;
}

/** Runs one driver command; resolves with its JSON result (also for a failure: ok=false, error). */
function driver(python: string, args: string[]): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    execFile(python, [requireEnv('PYWORKFLOW_DRIVER'), ...args], { timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as DriverResult);
      } catch {
        reject(new Error(`driver ${args[0]} printed no JSON (${err?.message ?? 'exit 0'}):\n${stdout}\n${stderr.slice(-3000)}`));
      }
    });
  });
}

async function driverOk(python: string, args: string[]): Promise<DriverResult> {
  const r = await driver(python, args);
  if (!r.ok) throw new Error(`driver ${args[0]} failed: ${r.error}`);
  return r;
}

const OLD = '2020-03-04T05:06:07.123456+00:00';
const RUN = 'run_5e0ke0000000000a';

function spec(streams: boolean): unknown {
  return {
    runs: [
      { run_id: RUN, status: 'completed', updated_at: OLD, hooks: 1, checkpoints: 1, cancel: true },
      { run_id: `${RUN}c`, status: 'running', parent_run_id: RUN },
    ],
    schedules: [{ status: 'deleted', updated_at: OLD }],
    ...(streams ? { streams: [{ stream_id: 'smoke', signals: [{ signal_type: 'x', published_at: OLD }], subscriptions: [{ status: 'terminated', created_at: OLD, acks: [{ signal: 0, acknowledged_at: OLD }] }] }] } : {}),
  };
}

/** populate with `writer`, inspect with `reader`, and check what pyworkflow reads back. */
async function roundTrip(storage: Record<string, unknown>, writer: string, reader: string, streams: boolean, timePrecisionMs = false): Promise<void> {
  const s = JSON.stringify(storage);
  const manifest = await driverOk(writer, ['populate', '--storage', s, '--spec', JSON.stringify(spec(streams))]);
  const inspection = await driverOk(reader, ['inspect', '--storage', s, '--manifest', JSON.stringify(manifest), '--run-ids', 'run_absent0000000000']);
  const runs = inspection.runs as Record<string, InspectedRun>;
  const r = runs[RUN]!;
  expect(r.exists).toBe(true);
  expect(r.status).toBe('completed');
  expect(r.updated_at).toBe(timePrecisionMs ? '2020-03-04T05:06:07.123000+00:00' : OLD);
  expect(r.events).toBe(5); // started, step.started, hook.created, step.completed, completed
  expect(r.hooks).toBe(1);
  expect(Object.values(r.hook_tokens)).toEqual([true]);
  expect(Object.values(r.checkpoints)).toEqual([true]);
  expect(r.cancel_flag).toBe(true);
  expect(runs[`${RUN}c`]).toMatchObject({ exists: true, status: 'running', parent_run_id: RUN });
  expect(runs.run_absent0000000000).toMatchObject({ exists: false, events: 0, hooks: 0, cancel_flag: false });
  const schedules = (inspection as unknown as { schedules: Record<string, { status: string } | null> }).schedules;
  expect(Object.values(schedules).map((x) => x?.status)).toEqual(['deleted']);
}

describe('pyworkflow writes and reads back through its own storage classes', () => {
  const newest = requireEnv('PYWORKFLOW_PYTHON');

  it('the venvs hold the published versions', async () => {
    const v = await driverOk(newest, ['version']);
    expect(v.pyworkflow_version).toBe(requireEnv('PYWORKFLOW_VERSION'));
    expect((await driverOk(requireEnv('PYWORKFLOW_LEGACY_PYTHON'), ['version'])).pyworkflow_version).toBe(requireEnv('PYWORKFLOW_LEGACY_VERSION'));
    expect((await driverOk(requireEnv('PYWORKFLOW_MYSQL_PYTHON'), ['version'])).pyworkflow_version).toBe(requireEnv('PYWORKFLOW_MYSQL_VERSION'));
  });

  it('sqlite', async () => {
    await roundTrip({ type: 'sqlite', base_path: join(tmp, 'pyworkflow.db') }, newest, newest, true);
  });

  it('file', async () => {
    await roundTrip({ type: 'file', base_path: join(tmp, 'file-store') }, newest, newest, true);
  });

  it('postgres: bootstrapped by the legacy release, upgraded and populated by the newest (H8)', async () => {
    const db = await pgDatabase(`pyw_${suffix}`);
    const url = new URL(requireEnv('PG_URL'));
    const storage = { type: 'postgres', host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: db };
    const fresh = await pgDatabase(`pyw_fresh_${suffix}`);
    // the newest release cannot initialise an empty database (docs/storage.md H8)
    const failed = await driver(newest, ['init', '--storage', JSON.stringify({ ...storage, database: fresh })]);
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatch(/stream_subscriptions/);
    await driverOk(requireEnv('PYWORKFLOW_LEGACY_PYTHON'), ['init', '--storage', JSON.stringify(storage)]);
    await roundTrip(storage, newest, newest, true);
    const url2 = new URL(requireEnv('PG_URL'));
    url2.pathname = `/${db}`;
    const c = new pg.Client({ connectionString: url2.toString() });
    await c.connect();
    let version: number | undefined;
    try {
      version = (await c.query<{ v: number }>('SELECT max(version) AS v FROM schema_versions')).rows[0]?.v;
    } finally {
      await c.end();
    }
    expect(version).toBe(7);
  });

  it('mysql: only the MySQL-capable legacy release can create and use the store (H7)', async () => {
    const db = await mysqlDatabase(`pyw_${suffix}`);
    const storage = { type: 'mysql', host: requireEnv('MYSQL_HOST'), port: Number(requireEnv('MYSQL_PORT')), user: requireEnv('MYSQL_USER'), password: requireEnv('MYSQL_PASSWORD'), database: db };
    const fresh = await mysqlDatabase(`pyw_fresh_${suffix}`);
    const failed = await driver(newest, ['init', '--storage', JSON.stringify({ ...storage, database: fresh })]);
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatch(/SQL syntax/);
    const legacy = requireEnv('PYWORKFLOW_MYSQL_PYTHON');
    await roundTrip(storage, legacy, legacy, false);
  });

  it('cassandra (with the driver\'s `token` quoting shim; no signals)', async () => {
    const keyspace = `pyw_${suffix}`;
    dropKeyspaceLater(keyspace);
    const storage = {
      type: 'cassandra', contact_points: requireEnv('CASSANDRA_CONTACT_POINTS').split(','), port: Number(requireEnv('CASSANDRA_PORT')),
      keyspace, replication_factor: 1,
    };
    await roundTrip(storage, newest, newest, false, true);
    // unmodified pyworkflow cannot even create its schema: `token` is a reserved CQL keyword
    const raw = await driver(newest, ['init', '--no-shims', '--storage', JSON.stringify({ ...storage, keyspace: `${keyspace}_raw` })]);
    dropKeyspaceLater(`${keyspace}_raw`);
    expect(raw.ok).toBe(false);
    expect(raw.error).toMatch(/token/);
  });

  it('dynamodb', async () => {
    const table = `pyw-${suffix}`;
    dropTableLater(table);
    await roundTrip({ type: 'dynamodb', table_name: table, region: requireEnv('AWS_REGION'), endpoint_url: requireEnv('DYNAMODB_ENDPOINT') }, newest, newest, true);
  });
});
