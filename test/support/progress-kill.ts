// Kill tests: SIGKILL the real CLI at random instants of a sweep, re-run it to completion, and require
// the final store to equal an uninterrupted sweep's: nothing lost, nothing left behind.
// Kills are steered by the sweep's own progress, not by wall-clock fractions (which a loaded 2-core
// machine makes land before the sweep starts or after it ends): the CLI runs with --verbose, each
// committed transaction (SQL stores) or purged batch (any store) logs a line, and a kill is sent a
// random 0-3 ms after a random such line, so it lands between two steps or inside the next one.

import { expect } from 'vitest';
import type { Dataset } from '../../src/model/dataset.js';
import { prng } from '../../src/model/generate.js';
import { onStderrLines, runCli, startCli } from './cli.js';
import type { StoreFixture } from './stores/store-fixture.js';

/** Which verbose log line marks a step: a committed transaction (SQL stores) or a purged batch (any store). */
export type KillMarker = 'transaction' | 'batch';

export interface KillReport {
  kills: number;
  /** Kills that left a partly swept store (neither the initial nor the final state). */
  landedMidSweep: number;
  uninterruptedMs: number;
  /** Steps (transactions or batches) the uninterrupted sweep logged. */
  steps: number;
}

export async function killAtRandomSteps(
  fixture: StoreFixture,
  dataset: Dataset,
  options: { cutoff: Date; kills: number; batchSize: number; seed: number; marker?: KillMarker },
): Promise<KillReport> {
  const args = (config: Record<string, unknown>, verbose: boolean): string[] => [
    'sweep', '--storage', JSON.stringify(config), '--older-than', options.cutoff.toISOString(), '--batch-size', String(options.batchSize),
    '--output', 'json', '--progress', 'none', '--log-format', 'json', ...(verbose ? ['--verbose'] : []),
  ];
  const marker = `"msg":"${options.marker ?? 'transaction'}"`;
  const isStepLine = (line: string): boolean => line.includes(marker);
  const reference = await fixture.create(dataset);
  const initial = await reference.dump();
  const t0 = Date.now();
  const ref = await runCli(args(reference.storageConfig, true));
  const uninterruptedMs = Date.now() - t0;
  expect(ref.code, ref.stderr).toBe(0);
  const steps = ref.stderr.split('\n').filter(isStepLine).length;
  expect(steps).toBeGreaterThan(options.kills);
  const final = await reference.dump();
  await reference.destroy();
  expect(final).not.toEqual(initial);

  const rnd = prng(options.seed);
  let landed = 0;
  for (let i = 0; i < options.kills; i++) {
    const store = await fixture.create(dataset);
    try {
      const target = 1 + Math.floor(rnd() * (steps - 1));
      const extraMs = Math.floor(rnd() * 4);
      const { child, done } = startCli(args(store.storageConfig, true));
      let seen = 0;
      onStderrLines(child, (line) => {
        if (isStepLine(line) && ++seen === target) setTimeout(() => child.kill('SIGKILL'), extraMs);
      });
      const killed = await done;
      const afterKill = JSON.stringify(await store.dump());
      if (killed.signal === 'SIGKILL' && afterKill !== JSON.stringify(initial) && afterKill !== JSON.stringify(final)) landed += 1;
      const resumed = await runCli(args(store.storageConfig, false));
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await store.dump()).toEqual(final);
    } finally {
      await store.destroy();
    }
  }
  return { kills: options.kills, landedMidSweep: landed, uninterruptedMs, steps };
}
