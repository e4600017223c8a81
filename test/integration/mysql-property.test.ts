// Needs: the MariaDB 10.11 test server (MYSQL_URL). Stores are in pyworkflow's v2 layout, the one
// 0.2.3 creates; later releases cannot create a MySQL store (H7), so no stream tables exist.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { mysqlFixture } from '../support/stores/mysql-store.js';

describe('mysql backend (MariaDB 10.11)', () => {
  it('purges exactly what the oracle predicts, leaves every other row byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(mysqlFixture(), s)), { numRuns: 40 });
  });

  it('gives the same result when a tiny transaction budget splits every batch into chunks of 10 runs', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(mysqlFixture({ storage: { transaction_budget_ms: 1 } }), s)), { numRuns: 15 });
  });
});
