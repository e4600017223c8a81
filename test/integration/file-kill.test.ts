// Needs: the built CLI and a local directory (no server). SIGKILLs the real CLI at random instants of a
// file-store sweep's deleting phase and requires every re-run to end in the uninterrupted sweep's exact
// store. (Like test/support/progress-kill.ts, but timed from the sweep's first progress line: a file
// sweep's start-up is a large and variable part of its run, and kills there would test nothing.)
import type { ChildProcess } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedFileStore } from '../../src/backends/file/seed.js';
import type { Dataset } from '../../src/model/dataset.js';
import { generateDataset, prng } from '../../src/model/generate.js';
import { runCli, startCli, type CliResult } from '../support/cli.js';
import { fileHandle, fileStoreFixture } from '../support/stores/file-store.js';
import type { StoreFixture } from '../support/stores/store-fixture.js';

const work = mkdtempSync(join(tmpdir(), 'pywr-file-kill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Stores for one dataset as hard-linked copies of a single seeded template: 25 seeds of 20k files would
 * dominate the test. Safe because a sweep never writes into an existing file: it unlinks files, and
 * replaces the token index and signal files by renaming a new file over them.
 */
function linkedStores(): StoreFixture {
  const templates = new Map<Dataset, string>();
  let n = 0;
  const clone = (from: string, to: string): void => {
    mkdirSync(to);
    for (const e of readdirSync(from, { withFileTypes: true })) {
      if (e.isDirectory()) clone(join(from, e.name), join(to, e.name));
      else linkSync(join(from, e.name), join(to, e.name));
    }
  };
  return {
    type: 'file',
    adapt: (d) => fileStoreFixture.adapt(d),
    async create(dataset) {
      let template = templates.get(dataset);
      if (template === undefined) {
        template = join(work, `template-${templates.size}`);
        seedFileStore(template, dataset);
        templates.set(dataset, template);
      }
      const base = join(work, `store-${++n}`);
      clone(template, base);
      return fileHandle(base, () => rmSync(base, { recursive: true, force: true }));
    },
  };
}

interface Sweep {
  /** Resolves when the sweep starts deleting (its first progress line: the run scan is done). */
  started: Promise<number>;
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** Longest a single sweep of this test's store may take before it is killed and the test fails (s). */
const SWEEP_WATCHDOG_MS = 120_000;

function startSweep(base: string, cutoff: Date): Sweep {
  const { child, done } = startCli([
    'sweep', '--storage', JSON.stringify({ type: 'file', base_path: base }), '--older-than', cutoff.toISOString(),
    '--batch-size', '7', '--output', 'json', '--progress', 'log', '--log-format', 'json',
  ]);
  // A hung sweep must fail this test with its own output, not run into vitest's test timeout.
  const watchdog = setTimeout(() => child.kill('SIGKILL'), SWEEP_WATCHDOG_MS);
  child.once('close', () => clearTimeout(watchdog));
  const started = new Promise<number>((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (seen.includes('"sweep progress"')) {
        child.stderr!.off('data', onData);
        resolve(Date.now());
      }
    };
    child.stderr!.on('data', onData);
    // Without this a sweep that ends before its first progress line (an error at start-up) would
    // leave the test waiting forever; a no-op once `started` has resolved.
    child.once('close', (code, signal) =>
      reject(new Error(`the sweep of ${base} ended (code ${code}, signal ${signal}) before its first progress line; stderr:\n${seen.slice(-2000)}`)),
    );
  });
  return { started, child, done };
}

describe('file sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = fileStoreFixture.adapt(generateDataset({ seed: 42, runs: 3000, now, spanDays: 30, eventsPerRun: 4, edges: [cutoff] }));
    const stores = linkedStores();

    const reference = await stores.create(data);
    const initial = await reference.dump();
    const ref = startSweep(reference.storageConfig.base_path as string, cutoff);
    const deletingFrom = await ref.started;
    const refResult = await ref.done;
    const deletingMs = Date.now() - deletingFrom;
    expect(refResult.code, refResult.stderr).toBe(0);
    const final = await reference.dump();
    expect(final).not.toEqual(initial);

    const rnd = prng(11);
    const kills = 24;
    let landed = 0;
    for (let i = 0; i < kills; i++) {
      const store = await stores.create(data);
      const base = store.storageConfig.base_path as string;
      const sweep = startSweep(base, cutoff);
      // Kill somewhere in the deleting part of the sweep (start-up and the run scan delete nothing).
      await sweep.started;
      await new Promise((r) => setTimeout(r, deletingMs * (0.05 + 0.7 * rnd())));
      sweep.child.kill('SIGKILL');
      const killed = await sweep.done;
      const afterKill = JSON.stringify(await store.dump());
      if (killed.signal === 'SIGKILL' && afterKill !== JSON.stringify(initial) && afterKill !== JSON.stringify(final)) landed += 1;
      const resumed = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', cutoff.toISOString(), '--batch-size', '7', '--output', 'json', '--progress', 'none']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await store.dump()).toEqual(final);
      await store.destroy();
    }
    await reference.destroy();
    console.log(`file kill test: ${kills} kills, ${landed} landed mid-sweep (deleting phase of an uninterrupted sweep: ${deletingMs} ms)`);
    expect(landed).toBeGreaterThanOrEqual(20);
  });
});
