// Property: on random pyworkflow file stores, a dry run changes nothing and predicts the counts, and the
// sweep leaves exactly the store the oracle predicts (raw file equality), with the oracle's counts.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkSweepScenario, sweepScenario } from '../../../support/sweep-property.js';
import { fileFixture, fileStoreFixture } from '../../../support/stores/file-store.js';

describe('file backend', () => {
  it('purges exactly what the oracle predicts, leaves every other file byte-identical, and a dry run predicts it', async () => {
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(fileStoreFixture, s)), { numRuns: 60 });
  }, 300_000); // ~10 s on an idle machine; file creation gets slow when the disk is shared

  it('does the same on stores with legacy hook files (≤ v0.1.13: hooks/{hook_id}.json)', async () => {
    // Legacy hook ids were unique per store; the generator's repeat across runs, so only the first of each is legacy.
    const firstOfId = new Map<string, string>();
    const fixture = fileFixture({
      legacyHook: (h) => (firstOfId.get(h.hook_id) ?? (firstOfId.set(h.hook_id, h.run_id), h.run_id)) === h.run_id,
    });
    await fc.assert(
      fc.asyncProperty(sweepScenario, async (s) => {
        firstOfId.clear();
        await checkSweepScenario(fixture, s);
      }),
      { numRuns: 15 },
    );
  }, 300_000);
});
