// Needs: real SQLite files and the built CLI (no server). Kills are placed by the sweep's own progress
// (support/progress-kill.ts), so they land mid-sweep however loaded the machine is.
import { describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/model/generate.js';
import { killAtRandomSteps } from '../support/progress-kill.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';

describe('sqlite sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = sqliteFixture.adapt(generateDataset({ seed: 42, runs: 2000, now, spanDays: 30, eventsPerRun: 4, edges: [cutoff] }));
    const report = await killAtRandomSteps(sqliteFixture, data, { cutoff, kills: 24, batchSize: 10, seed: 7 });
    console.log(`sqlite kill test: ${report.kills} kills, ${report.landedMidSweep} mid-sweep (of ${report.steps} transactions), uninterrupted ${report.uninterruptedMs} ms`);
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(20);
  });
});
