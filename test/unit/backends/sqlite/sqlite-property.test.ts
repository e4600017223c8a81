import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../../../support/sweep-property.js';
import { sqliteFixture } from '../../../support/stores/sqlite-store.js';

describe('sqlite backend', () => {
  it('purges exactly what the oracle predicts, leaves every other row byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(sqliteFixture, s)), { numRuns: 150 });
  });
});
