// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env) and the built CLI. SIGKILLs real
// sweeps at random instants and requires every re-run to end in the uninterrupted result: with no
// transactions, the order of deletes alone (§8.2) must leave nothing a re-run cannot find.
import { afterAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { killAndResume } from '../support/kill-harness.js';
import { cassandraStoreFixture, dropCassandraTestKeyspaces } from '../support/stores/cassandra-store.js';

afterAll(dropCassandraTestKeyspaces);

describe('cassandra sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = cassandraStoreFixture.adapt(generateDataset({ seed: 42, runs: 600, now, spanDays: 30, eventsPerRun: 1, edges: [cutoff] }));
    const report = await killAndResume(cassandraStoreFixture, data, { cutoff, kills: 21, batchSize: 5, seed: 7 });
    console.log(`cassandra kill test: ${report.kills} kills, ${report.landedMidSweep} mid-sweep, uninterrupted ${report.uninterruptedMs} ms`);
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(15);
  });
});
