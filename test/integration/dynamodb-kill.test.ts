// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto 5.2.5) and the built CLI.
import { describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { killAndResume } from '../support/kill-harness.js';
import { dynamoStoreFixture } from '../support/stores/dynamodb-store.js';

describe('dynamodb sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = dynamoStoreFixture.adapt(generateDataset({ seed: 42, runs: 100, now, spanDays: 30, eventsPerRun: 3, edges: [cutoff] }));
    // 28 kills: the CLI's first seconds (start-up, DescribeTable, counting) delete nothing, so a few
    // kills always land before the first delete; at least 20 must land mid-sweep.
    const report = await killAndResume(dynamoStoreFixture, data, { cutoff, kills: 28, batchSize: 5, seed: 7 });
    console.log(`dynamodb kill test: ${report.kills} kills, ${report.landedMidSweep} mid-sweep, uninterrupted ${report.uninterruptedMs} ms`);
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(20);
  }, 40 * 60_000);
});
