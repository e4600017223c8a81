// Needs: the built CLI and a local directory (no server). SIGKILLs the real CLI at random instants of a
// file-store sweep and requires every re-run to end in the uninterrupted sweep's exact store.
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedFileStore } from '../../src/backends/file/seed.js';
import type { Dataset } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import { killAndResume } from '../support/kill-harness.js';
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

describe('file sweep killed at random instants', () => {
  it('a re-run always ends in the uninterrupted result, with no orphans', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = fileStoreFixture.adapt(generateDataset({ seed: 42, runs: 3000, now, spanDays: 30, eventsPerRun: 4, edges: [cutoff] }));
    const report = await killAndResume(linkedStores(), data, { cutoff, kills: 24, batchSize: 7, seed: 11 });
    console.log(`file kill test: ${report.kills} kills, ${report.landedMidSweep} landed mid-sweep, uninterrupted sweep ${report.uninterruptedMs} ms`);
    // Most kills must hit a partly swept store (the rest land in start-up or after the last deletion).
    expect(report.landedMidSweep).toBeGreaterThanOrEqual(18);
  });
});
