// Kill tests steered by the sweep's own progress instead of wall-clock fractions: the CLI runs with
// --verbose and each committed transaction logs a line; a kill is sent a random 0-3 ms after a random
// transaction's line, so it lands between two batches or inside the next one whatever the machine's
// load (kill-harness.ts times kills by wall clock, which a loaded 2-core machine makes land before
// the sweep starts or after it ends). As there: every killed store is resumed and must equal an
// uninterrupted sweep's result.

import { expect } from 'vitest';
import type { Dataset } from '../../src/model/dataset.js';
import { prng } from '../../src/model/generate.js';
import { runCli, startCli } from './cli.js';
import type { KillReport } from './kill-harness.js';
import type { StoreFixture } from './stores/store-fixture.js';

const isTransactionLine = (line: string): boolean => line.includes('"msg":"transaction"');

export async function killAtRandomTransactions(
  fixture: StoreFixture,
  dataset: Dataset,
  options: { cutoff: Date; kills: number; batchSize: number; seed: number },
): Promise<KillReport & { transactions: number }> {
  const args = (config: Record<string, unknown>, verbose: boolean): string[] => [
    'sweep', '--storage', JSON.stringify(config), '--older-than', options.cutoff.toISOString(), '--batch-size', String(options.batchSize),
    '--output', 'json', '--progress', 'none', '--log-format', 'json', ...(verbose ? ['--verbose'] : []),
  ];
  const reference = await fixture.create(dataset);
  const initial = await reference.dump();
  const t0 = Date.now();
  const ref = await runCli(args(reference.storageConfig, true));
  const uninterruptedMs = Date.now() - t0;
  expect(ref.code, ref.stderr).toBe(0);
  const transactions = ref.stderr.split('\n').filter(isTransactionLine).length;
  expect(transactions).toBeGreaterThan(options.kills);
  const final = await reference.dump();
  await reference.destroy();
  expect(final).not.toEqual(initial);

  const rnd = prng(options.seed);
  let landed = 0;
  for (let i = 0; i < options.kills; i++) {
    const store = await fixture.create(dataset);
    try {
      const target = 1 + Math.floor(rnd() * (transactions - 1));
      const extraMs = Math.floor(rnd() * 4);
      const { child, done } = startCli(args(store.storageConfig, true));
      let seen = 0;
      let buffered = '';
      child.stderr!.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          if (isTransactionLine(line) && ++seen === target) setTimeout(() => child.kill('SIGKILL'), extraMs);
        }
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
  return { kills: options.kills, landedMidSweep: landed, uninterruptedMs, transactions };
}
