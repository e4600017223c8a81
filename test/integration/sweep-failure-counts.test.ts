// Needs: the built CLI and the test servers of .test-env/env (postgres, mariadb, cassandra, moto).
// A sweep fails at a random run in the middle of its work, by real means: a BEFORE DELETE trigger that
// raises for that run's record (SQLite RAISE(ABORT), PostgreSQL RAISE EXCEPTION, MariaDB SIGNAL), or,
// for Cassandra and DynamoDB, a TCP proxy in front of the real server that cuts the sweep off after a
// random number of requests (support/cutting-proxy.ts). The failed result (exit 1, JSON and termination
// log) must report exactly what is gone from the store: a rolled-back transaction counts nothing, a
// committed one or an acknowledged delete counts in full. After the cause is removed, a re-run
// completes the sweep, and the two results add up to one uninterrupted sweep's.
//
// The SQL stores run with a 1 ms transaction budget, so batches are split into several transactions
// and the failure usually hits a later one of its batch: the committed transactions before it in the
// same batch must be counted too.
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import type { Dataset } from '../../src/model/dataset.js';
import { generateDataset, prng } from '../../src/model/generate.js';
import { runCli } from '../support/cli.js';
import { startCommitReplyLosingProxy, startCuttingProxy, type CuttingProxy } from '../support/cutting-proxy.js';
import { expectHonestInterruption, resultOf, scratchDir, sweepArgs, uninterrupted } from '../support/interrupted-sweep.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { cassandraStoreFixture, dropCassandraTestKeyspaces } from '../support/stores/cassandra-store.js';
import { dynamoStoreFixture } from '../support/stores/dynamodb-store.js';
import { mysqlFixture, withMysql } from '../support/stores/mysql-store.js';
import { postgresFixture, withPgClient } from '../support/stores/postgres-store.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';
import type { StoreFixture, StoreHandle } from '../support/stores/store-fixture.js';

const scratch = scratchDir();
afterAll(async () => {
  scratch.remove();
  await dropCassandraTestKeyspaces();
});

const now = new Date();
const cutoff = new Date(now.getTime() - 10 * 86_400_000);

/** A run purged in the middle of the sweep (run-id order, which is how the SQL backends page). */
function runInTheMiddle(data: Dataset, rnd: () => number): string {
  const doomed = [...expectedAfterSweep(data, { cutoff, statuses: TERMINAL_STATUSES, housekeeping: false }).deletedRunIds].sort();
  return doomed[Math.floor(doomed.length * (0.3 + 0.4 * rnd()))]!;
}

interface Injection {
  /** The --storage config the failing sweep uses. */
  config: Record<string, unknown>;
  /** Removes the cause, so a re-run can complete. */
  heal(): Promise<void>;
}

interface TriggerCase {
  fixture: () => StoreFixture;
  runs: number;
  batchSize: number;
  extraConfig: Record<string, unknown>;
  addTrigger(store: StoreHandle, runId: string): Promise<void>;
  dropTrigger(store: StoreHandle): Promise<void>;
}

const TRIGGER_CASES: Record<string, TriggerCase> = {
  sqlite: {
    fixture: () => sqliteFixture,
    runs: 800,
    batchSize: 20,
    extraConfig: {},
    addTrigger: async (store, runId) => {
      const db = new Database(String(store.storageConfig.base_path));
      db.prepare(`CREATE TRIGGER pywr_fail BEFORE DELETE ON workflow_runs WHEN OLD.run_id = '${runId}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`).run();
      db.close();
    },
    dropTrigger: async (store) => {
      const db = new Database(String(store.storageConfig.base_path));
      db.prepare('DROP TRIGGER pywr_fail').run();
      db.close();
    },
  },
  postgres: {
    fixture: () => postgresFixture(),
    runs: 800,
    batchSize: 40,
    extraConfig: { transaction_budget_ms: 1 },
    addTrigger: (store, runId) =>
      withPgClient(String(store.storageConfig.database), async (c) => {
        await c.query(`CREATE FUNCTION pywr_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`);
        await c.query(`CREATE TRIGGER pywr_fail BEFORE DELETE ON workflow_runs FOR EACH ROW WHEN (OLD.run_id = '${runId}') EXECUTE FUNCTION pywr_fail()`);
      }),
    dropTrigger: (store) =>
      withPgClient(String(store.storageConfig.database), async (c) => {
        await c.query('DROP TRIGGER pywr_fail ON workflow_runs');
        await c.query('DROP FUNCTION pywr_fail()');
      }),
  },
  mysql: {
    fixture: () => mysqlFixture(),
    runs: 800,
    batchSize: 40,
    extraConfig: { transaction_budget_ms: 1 },
    addTrigger: (store, runId) =>
      withMysql(String(store.storageConfig.database), async (c) => {
        await c.query(
          `CREATE TRIGGER pywr_fail BEFORE DELETE ON workflow_runs FOR EACH ROW
           BEGIN IF OLD.run_id = '${runId}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END`,
        );
      }),
    dropTrigger: (store) => withMysql(String(store.storageConfig.database), async (c) => void (await c.query('DROP TRIGGER pywr_fail'))),
  },
};

interface ProxyCase {
  fixture: () => StoreFixture;
  runs: number;
  eventsPerRun: number;
  batchSize: number;
  protocol: 'http' | 'cql';
  target(store: StoreHandle): { host: string; port: number };
  through(store: StoreHandle, proxy: CuttingProxy): Record<string, unknown>;
}

const PROXY_CASES: Record<string, ProxyCase> = {
  cassandra: {
    fixture: () => cassandraStoreFixture,
    runs: 100,
    eventsPerRun: 2,
    batchSize: 5,
    protocol: 'cql',
    target: (store) => ({ host: (store.storageConfig.contact_points as string[])[0]!, port: Number(store.storageConfig.port) }),
    through: (store, proxy) => ({ ...store.storageConfig, contact_points: ['127.0.0.1'], port: proxy.port }),
  },
  dynamodb: {
    fixture: () => dynamoStoreFixture,
    runs: 60,
    eventsPerRun: 2,
    batchSize: 3,
    protocol: 'http',
    target: (store) => {
      const url = new URL(String(store.storageConfig.endpoint_url));
      return { host: url.hostname, port: Number(url.port) };
    },
    through: (store, proxy) => ({ ...store.storageConfig, endpoint_url: `http://127.0.0.1:${proxy.port}` }),
  },
};

async function failOnce(store: StoreHandle, ref: Awaited<ReturnType<typeof uninterrupted>>, name: string, batchSize: number, inject: Injection): Promise<string> {
  const terminationLog = scratch.path(`${name}-${Math.random().toString(36).slice(2)}.json`);
  const t0 = Date.now();
  const result = await runCli(sweepArgs(inject.config, cutoff, batchSize, ['--termination-log', terminationLog]));
  const report = resultOf(result);
  console.log(`${name}: failed sweep (${report.durationMs} ms, process ${Date.now() - t0} ms) reported ${JSON.stringify(report.deleted)}; error: ${report.error?.message ?? '-'}`);
  // The failure landed mid-sweep: something was purged, not everything.
  expect(report.deleted.runs, result.stderr).toBeGreaterThan(0);
  expect(report.deleted.runs).toBeLessThan(ref.report.deleted.runs);
  await inject.heal();
  await expectHonestInterruption(store, ref, { result, terminationLog }, 'failed', { cutoff, batchSize });
  return result.stderr;
}

describe.each(Object.entries(TRIGGER_CASES))('%s sweep failing at a random run (a trigger raises)', (name, c) => {
  it.each([1, 2])('seed %i: the failed result counts exactly what is gone; a re-run completes the sweep', async (seed) => {
    const fixture = c.fixture();
    const data = fixture.adapt(generateDataset({ seed: 100 + seed, runs: c.runs, now, spanDays: 30, eventsPerRun: 3, edges: [cutoff] }));
    const reference = await fixture.create(data);
    const ref = await uninterrupted(reference, cutoff, c.batchSize).finally(() => reference.destroy());
    const store = await fixture.create(data);
    try {
      const runId = runInTheMiddle(data, prng(seed));
      await c.addTrigger(store, runId);
      await failOnce(store, ref, name, c.batchSize, { config: { ...store.storageConfig, ...c.extraConfig }, heal: () => c.dropTrigger(store) });
    } finally {
      await store.destroy();
    }
  });
});

describe.each(Object.entries(PROXY_CASES))('%s sweep cut off from its server after a random request', (name, c) => {
  it.each([1, 2])('seed %i: the failed result counts exactly what is gone; a re-run completes the sweep', async (seed) => {
    const fixture = c.fixture();
    const data = fixture.adapt(generateDataset({ seed: 200 + seed, runs: c.runs, now, spanDays: 30, eventsPerRun: c.eventsPerRun, edges: [cutoff] }));
    // The reference sweep goes through a proxy too, to learn how many requests a whole sweep sends.
    const reference = await fixture.create(data);
    const measuring = await startCuttingProxy(c.target(reference), c.protocol);
    let total: number;
    let ref: Awaited<ReturnType<typeof uninterrupted>>;
    try {
      const initial = await reference.dump();
      const r = await runCli(sweepArgs(c.through(reference, measuring), cutoff, c.batchSize));
      expect(r.code, r.stderr).toBe(0);
      total = measuring.forwarded;
      ref = { initial, final: await reference.dump(), report: resultOf(r) };
    } finally {
      await measuring.close();
      await reference.destroy();
    }

    const store = await fixture.create(data);
    const proxy = await startCuttingProxy(c.target(store), c.protocol);
    try {
      const rnd = prng(seed);
      proxy.cutAfter(Math.floor(total * (0.3 + 0.4 * rnd())));
      await failOnce(store, ref, name, c.batchSize, { config: c.through(store, proxy), heal: () => proxy.close() });
      expect(proxy.dropped).toBeGreaterThan(0);
    } finally {
      await proxy.close();
      await store.destroy();
    }
  });
});

// The one failure a client cannot see through: the server committed, the reply never came. PostgreSQL
// can be asked afterwards (txid_status), and the committed transaction must then be counted.
describe('postgres sweep whose COMMIT reply is lost with the connection', () => {
  it.each([1, 2])('seed %i: the committed transaction is counted; a re-run completes the sweep', async (seed) => {
    const fixture = postgresFixture();
    const batchSize = 20;
    const data = fixture.adapt(generateDataset({ seed: 300 + seed, runs: 600, now, spanDays: 30, eventsPerRun: 3, edges: [cutoff] }));
    const target = (store: StoreHandle): { host: string; port: number } => ({ host: String(store.storageConfig.host), port: Number(store.storageConfig.port) });
    const reference = await fixture.create(data);
    const counting = await startCommitReplyLosingProxy(target(reference), Number.POSITIVE_INFINITY);
    let total: number;
    let ref: Awaited<ReturnType<typeof uninterrupted>>;
    try {
      const initial = await reference.dump();
      const r = await runCli(sweepArgs({ ...reference.storageConfig, host: '127.0.0.1', port: counting.port }, cutoff, batchSize));
      expect(r.code, r.stderr).toBe(0);
      total = counting.commits;
      ref = { initial, final: await reference.dump(), report: resultOf(r) };
    } finally {
      await counting.close();
      await reference.destroy();
    }

    const store = await fixture.create(data);
    const proxy = await startCommitReplyLosingProxy(target(store), Math.floor(total * (0.3 + 0.4 * prng(seed)())));
    try {
      const stderr = await failOnce(store, ref, 'postgres (lost COMMIT reply)', batchSize, {
        config: { ...store.storageConfig, host: '127.0.0.1', port: proxy.port },
        heal: () => proxy.close(),
      });
      expect(proxy.lost).toBe(true);
      expect(stderr).toContain('the COMMIT reply was lost, but the server committed the transaction');
    } finally {
      await proxy.close();
      await store.destroy();
    }
  });
});
