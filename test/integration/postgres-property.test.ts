// Needs: the PostgreSQL 15 test server (PG_URL).
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { postgresFixture } from '../support/stores/postgres-store.js';

describe('postgres backend (PostgreSQL 15)', () => {
  it('purges exactly what the oracle predicts, leaves every other row byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(postgresFixture(), s)), { numRuns: 40 });
  });
});
