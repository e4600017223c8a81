// The property every backend must satisfy, run with fast-check: for a random dataset and cutoff,
// a dry run changes nothing and predicts the real counts, and the real sweep leaves exactly the
// store the oracle predicts (raw snapshot equality), with the oracle's per-kind counts.

import fc from 'fast-check';
import { expect } from 'vitest';
import { sweep } from '../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { silentLogger } from '../../src/log.js';
import { generateDataset } from '../../src/model/generate.js';
import { expectedAfterSweep } from './oracle.js';
import type { StoreFixture } from './stores/store-fixture.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;

export const sweepScenario = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  runs: fc.integer({ min: 1, max: 120 }),
  eventsPerRun: fc.integer({ min: 1, max: 4 }),
  spanDays: fc.integer({ min: 2, max: 60 }),
  retentionDays: fc.integer({ min: 1, max: 40 }),
  statuses: fc.subarray([...TERMINAL_STATUSES], { minLength: 1 }),
  housekeeping: fc.boolean(),
  batchSize: fc.integer({ min: 1, max: 40 }),
});

export type SweepScenario = typeof sweepScenario extends fc.Arbitrary<infer T> ? T : never;

export async function checkSweepScenario(fixture: StoreFixture, s: SweepScenario): Promise<void> {
  const cutoff = new Date(NOW.getTime() - s.retentionDays * DAY);
  const data = fixture.adapt(
    generateDataset({ seed: s.seed, runs: s.runs, now: NOW, spanDays: s.spanDays, eventsPerRun: s.eventsPerRun, edges: [cutoff] }),
  );
  const expected = expectedAfterSweep(data, { cutoff, statuses: s.statuses, housekeeping: s.housekeeping });
  const store = await fixture.create(data);
  const want = await fixture.create(expected.remaining);
  try {
    const before = await store.dump();
    const options = {
      cutoff,
      statuses: s.statuses,
      batchSize: s.batchSize,
      housekeeping: s.housekeeping,
      lockWaitMs: 1000,
      signal: new AbortController().signal,
      now: () => NOW,
      logger: silentLogger,
    };
    const dry = await sweep(store.backend(), { ...options, dryRun: true });
    expect(dry.outcome, dry.error?.message).toBe('succeeded');
    expect(await store.dump()).toEqual(before);
    expect(dry.deleted).toEqual(expected.counts);

    const real = await sweep(store.backend(), { ...options, dryRun: false });
    expect(real.outcome, real.error?.message).toBe('succeeded');
    expect(real.deleted).toEqual(expected.counts);
    expect(await store.dump()).toEqual(await want.dump());
  } finally {
    await store.destroy();
    await want.destroy();
  }
}
