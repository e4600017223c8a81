// Kill tests: SIGKILL the real CLI at random instants of a sweep, re-run it to completion, and
// require the final store to equal an uninterrupted sweep's: nothing lost, nothing left behind.

import { expect } from 'vitest';
import type { Dataset } from '../../src/model/dataset.js';
import { prng } from '../../src/model/generate.js';
import { runCli, startCli } from './cli.js';
import type { StoreFixture } from './stores/store-fixture.js';

export interface KillReport {
  kills: number;
  /** Kills that left a partly swept store (neither the initial nor the final state). */
  landedMidSweep: number;
  uninterruptedMs: number;
}

export async function killAndResume(
  fixture: StoreFixture,
  dataset: Dataset,
  options: { cutoff: Date; kills: number; batchSize: number; seed: number; extraArgs?: string[] },
): Promise<KillReport> {
  const args = (config: Record<string, unknown>): string[] => [
    'sweep', '--storage', JSON.stringify(config), '--older-than', options.cutoff.toISOString(),
    '--batch-size', String(options.batchSize), '--output', 'json', '--progress', 'none', ...(options.extraArgs ?? []),
  ];
  const reference = await fixture.create(dataset);
  const initial = await reference.dump();
  const t0 = Date.now();
  const ref = await runCli(args(reference.storageConfig));
  const uninterruptedMs = Date.now() - t0;
  expect(ref.code, ref.stderr).toBe(0);
  const final = await reference.dump();
  await reference.destroy();
  expect(final).not.toEqual(initial);

  const rnd = prng(options.seed);
  let landed = 0;
  for (let i = 0; i < options.kills; i++) {
    const store = await fixture.create(dataset);
    try {
      const { child, done } = startCli(args(store.storageConfig));
      // Node needs a moment to start; spread kills over the rest of the run.
      const delay = uninterruptedMs * (0.1 + 0.85 * rnd());
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      const killed = await done;
      const afterKill = await store.dump();
      if (killed.signal === 'SIGKILL' && JSON.stringify(afterKill) !== JSON.stringify(initial) && JSON.stringify(afterKill) !== JSON.stringify(final)) {
        landed += 1;
      }
      const resumed = await runCli(args(store.storageConfig));
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await store.dump()).toEqual(final);
    } finally {
      await store.destroy();
    }
  }
  return { kills: options.kills, landedMidSweep: landed, uninterruptedMs };
}
