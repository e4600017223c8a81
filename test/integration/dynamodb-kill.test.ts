// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto 5.2.5) and the built CLI.
import { describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { killAtRandomSteps } from '../support/progress-kill.js';
import { dynamoStoreFixture } from '../support/stores/dynamodb-store.js';

describe('dynamodb sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = dynamoStoreFixture.adapt(generateDataset({ seed: 42, runs: 100, now, spanDays: 30, eventsPerRun: 3, edges: [cutoff] }));
    // Kills are placed 0-3 ms after a random purged batch (support/progress-kill.ts), so they land
    // mid-sweep however slow the CLI's start-up is; at least 20 must.
    const report = await killAtRandomSteps(dynamoStoreFixture, data, { cutoff, kills: 22, batchSize: 2, seed: 7, marker: 'batch' });
    console.log(`dynamodb kill test: ${report.kills} kills, ${report.landedMidSweep} mid-sweep (of ${report.steps} batches), uninterrupted ${report.uninterruptedMs} ms`);
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(20);
  }, 40 * 60_000);
});
