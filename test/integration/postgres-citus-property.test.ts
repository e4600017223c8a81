// Needs: the PostgreSQL 15 test server (PG_URL). No Citus server can be had here: the Citus layout
// (citus.py's tables: no foreign keys, primary keys with the distribution column, docs/storage.md#citus) is created on
// plain PostgreSQL and swept with type "citus", which locks run rows one router statement at a time
// as a real Citus coordinator requires. Routing itself is therefore not exercised.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { postgresFixture } from '../support/stores/postgres-store.js';

describe('citus backend on a Citus-shaped schema (plain PostgreSQL 15)', () => {
  it('purges exactly what the oracle predicts on the layout without foreign keys', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(postgresFixture({ type: 'citus' }), s)), { numRuns: 30 });
  });

  it('gives the same result when a tiny transaction budget splits every batch into chunks of 10 runs', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(postgresFixture({ type: 'citus', storage: { transaction_budget_ms: 1 } }), s)), { numRuns: 15 });
  });
});
