// Needs: the built CLI, and the test servers of .test-env/env (postgres, mariadb, cassandra, moto) for
// those backends. A real sweep is asked to stop (SIGTERM, SIGINT, --max-duration) while it deletes,
// in every backend: it must stop between batches, exit 1 with outcome `cancelled`, write its result
// (stdout and --termination-log) with counts equal to what is gone from the store, leave everything a
// full sweep keeps, and a re-run must complete the sweep with counts adding up to an uninterrupted one's.
// The signal is sent right after a progress line of the sweep itself (never after a fixed sleep).
import { afterAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { runCli } from '../support/cli.js';
import { expectHonestInterruption, runUntilLine, scratchDir, sweepArgs, uninterrupted } from '../support/interrupted-sweep.js';
import { dropCassandraTestKeyspaces, cassandraStoreFixture } from '../support/stores/cassandra-store.js';
import { dynamoStoreFixture } from '../support/stores/dynamodb-store.js';
import { fileStoreFixture } from '../support/stores/file-store.js';
import { mysqlFixture } from '../support/stores/mysql-store.js';
import { postgresFixture } from '../support/stores/postgres-store.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';
import type { StoreFixture } from '../support/stores/store-fixture.js';

const scratch = scratchDir();
afterAll(async () => {
  scratch.remove();
  await dropCassandraTestKeyspaces();
});

interface Case {
  fixture: () => StoreFixture;
  runs: number;
  eventsPerRun: number;
  batchSize: number;
  /** Signals sent to this backend's sweep (the first after batch 3, the next after batch 4, ...). */
  signals: NodeJS.Signals[];
}

const CASES: Record<string, Case> = {
  sqlite: { fixture: () => sqliteFixture, runs: 1500, eventsPerRun: 3, batchSize: 2, signals: ['SIGTERM', 'SIGINT'] },
  file: { fixture: () => fileStoreFixture, runs: 400, eventsPerRun: 3, batchSize: 3, signals: ['SIGTERM'] },
  postgres: { fixture: () => postgresFixture(), runs: 600, eventsPerRun: 3, batchSize: 3, signals: ['SIGTERM', 'SIGINT'] },
  mysql: { fixture: () => mysqlFixture(), runs: 600, eventsPerRun: 3, batchSize: 3, signals: ['SIGTERM'] },
  cassandra: { fixture: () => cassandraStoreFixture, runs: 200, eventsPerRun: 1, batchSize: 3, signals: ['SIGTERM'] },
  dynamodb: { fixture: () => dynamoStoreFixture, runs: 80, eventsPerRun: 2, batchSize: 2, signals: ['SIGTERM'] },
};

describe.each(Object.entries(CASES))('%s sweep asked to stop', (_name, c) => {
  const now = new Date();
  const cutoff = new Date(now.getTime() - 10 * 86_400_000);

  it.each(c.signals.map((s, i) => [s, i] as const))('%s: stops between batches with exact counts, and a re-run completes it', async (signal, i) => {
    const fixture = c.fixture();
    const data = fixture.adapt(generateDataset({ seed: 42 + i, runs: c.runs, now, spanDays: 30, eventsPerRun: c.eventsPerRun, edges: [cutoff] }));
    const reference = await fixture.create(data);
    const ref = await uninterrupted(reference, cutoff, c.batchSize).finally(() => reference.destroy());

    const store = await fixture.create(data);
    try {
      const terminationLog = scratch.path(`${_name}-${signal}.json`);
      const args = sweepArgs(store.storageConfig, cutoff, c.batchSize, ['--verbose', '--termination-log', terminationLog]);
      const run = await runUntilLine(args, 'batch', 3 + i, (child) => child.kill(signal));
      expect(run.acted, 'the sweep ended before the signal could be sent').toBe(true);
      const { first } = await expectHonestInterruption(store, ref, { result: run.result, terminationLog }, 'cancelled', { cutoff, batchSize: c.batchSize });
      expect(first.error?.message).toContain(`received ${signal}`);
      // Stopped early: some runs deleted, not all.
      expect(first.deleted.runs).toBeGreaterThan(0);
      expect(first.deleted.runs).toBeLessThan(ref.report.deleted.runs);
    } finally {
      await store.destroy();
    }
  });
});

describe('sweep --max-duration', () => {
  it.each(['sqlite', 'postgres'])('%s: stops when the duration is reached, with exact counts, and a re-run completes it', async (name) => {
    const c = CASES[name]!;
    const fixture = c.fixture();
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    // Batches of one run: the sweep takes several seconds, far beyond the 1 s limit (SQLite too, now
    // that its candidate pages no longer re-sort every old run: 2000 runs took under 2 s there).
    const data = fixture.adapt(generateDataset({ seed: 7, runs: 4000, now, spanDays: 30, eventsPerRun: c.eventsPerRun, edges: [cutoff] }));
    const reference = await fixture.create(data);
    const ref = await uninterrupted(reference, cutoff, 1).finally(() => reference.destroy());
    expect(ref.report.durationMs, 'the uninterrupted sweep must outlast --max-duration 1').toBeGreaterThan(2000);

    const store = await fixture.create(data);
    try {
      const terminationLog = scratch.path(`${name}-max-duration.json`);
      const result = await runCli(sweepArgs(store.storageConfig, cutoff, 1, ['--max-duration', '1', '--termination-log', terminationLog]));
      const { first } = await expectHonestInterruption(store, ref, { result, terminationLog }, 'cancelled', { cutoff, batchSize: 1 });
      expect(first.error?.message).toContain('--max-duration of 1 s reached');
      expect(first.deleted.runs).toBeGreaterThan(0);
      expect(first.deleted.runs).toBeLessThan(ref.report.deleted.runs);
    } finally {
      await store.destroy();
    }
  });
});
