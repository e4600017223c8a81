// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env) and the built CLI. SIGKILLs real
// sweeps at random instants placed by the sweep's own progress (0-3 ms after a random batch; see
// support/progress-kill.ts) and requires every re-run to end in the uninterrupted result: with no
// transactions, the order of deletes alone (docs/storage.md#purge-order) must leave nothing a re-run cannot find.
import { afterAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { killAtRandomSteps } from '../support/progress-kill.js';
import { cassandraStoreFixture, dropCassandraTestKeyspaces } from '../support/stores/cassandra-store.js';

afterAll(dropCassandraTestKeyspaces);

describe('cassandra sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = cassandraStoreFixture.adapt(generateDataset({ seed: 42, runs: 600, now, spanDays: 30, eventsPerRun: 1, edges: [cutoff] }));
    const report = await killAtRandomSteps(cassandraStoreFixture, data, { cutoff, kills: 22, batchSize: 5, seed: 7, marker: 'batch' });
    console.log(`cassandra kill test: ${report.kills} kills, ${report.landedMidSweep} mid-sweep (of ${report.steps} batches), uninterrupted ${report.uninterruptedMs} ms`);
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(20);
  });
});
