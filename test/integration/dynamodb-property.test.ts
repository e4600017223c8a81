// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto 5.2.5). Each scenario creates two
// tables shaped as pyworkflow creates them: the swept one and one seeded with the oracle's answer.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { dynamoFixture } from '../support/stores/dynamodb-store.js';

// Smaller datasets than the SQL stores: the test server answers a few hundred requests per second.
const scenario = sweepScenario.map((s) => ({ ...s, runs: Math.min(s.runs, 60), batchSize: s.batchSize }));

describe('dynamodb backend (moto)', () => {
  it('purges exactly what the oracle predicts, leaves every other item byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(scenario, (s) => checkSweepScenario(dynamoFixture(), s)), { numRuns: 25 });
  });

  it('does the same on a table with legacy hook items (HOOK#{hook_id}, pre-v0.1.14)', async () => {
    await fc.assert(fc.asyncProperty(scenario, (s) => checkSweepScenario(dynamoFixture({ legacyHookShare: 0.5 }), s)), { numRuns: 6 });
  });
});
