import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../../../support/sweep-property.js';
import { memoryFixture } from '../../../support/stores/memory-store.js';

describe('reference memory store', () => {
  it('purges exactly what the oracle predicts, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(memoryFixture, s)), { numRuns: 200 });
  });
});
