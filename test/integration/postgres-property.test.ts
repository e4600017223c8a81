// Needs: the PostgreSQL 15 test server (PG_URL).
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { postgresFixture } from '../support/stores/postgres-store.js';

describe('postgres backend (PostgreSQL 15)', () => {
  it('purges exactly what the oracle predicts, leaves every other row byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(postgresFixture(), s)), { numRuns: 30 });
  });

  it('gives the same result when a tiny transaction budget splits every batch into chunks of 10 runs', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(postgresFixture({ storage: { transaction_budget_ms: 1 } }), s)), { numRuns: 15 });
  });
});
