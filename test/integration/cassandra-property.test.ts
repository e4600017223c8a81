// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env). Property: on random pyworkflow data in
// pyworkflow's Cassandra layout, a dry run changes nothing and predicts the counts, and a sweep leaves
// exactly the rows the oracle keeps, index tables included.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { cassandraFixture, dropCassandraTestKeyspaces } from '../support/stores/cassandra-store.js';

afterAll(dropCassandraTestKeyspaces);

// Small datasets: every statement is a network round trip to a node sharing 2 cores with everything else.
const small = sweepScenario.map((s) => ({ ...s, runs: 1 + (s.runs % 40) }));

describe('cassandra backend (21 tables)', () => {
  it('purges exactly what the oracle predicts, leaves every other row identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(small, (s) => checkSweepScenario(cassandraFixture(), s)), { numRuns: 18 });
  });
});

describe('cassandra backend (older layouts)', () => {
  it('handles the 17-table (no streams) and 16-table (no checkpoints) generations', async () => {
    await fc.assert(fc.asyncProperty(small, (s) => checkSweepScenario(cassandraFixture({ generation: 17 }), s)), { numRuns: 3 });
    await fc.assert(fc.asyncProperty(small, (s) => checkSweepScenario(cassandraFixture({ generation: 16 }), s)), { numRuns: 3 });
  });
});
