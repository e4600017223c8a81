// Run files are deleted in waves, each run only after all of its children in the batch.
import { describe, expect, it } from 'vitest';
import type { RunState } from '../../../../src/backends/backend.js';
import { childrenFirstWaves } from '../../../../src/backends/file/purge.js';

const r = (runId: string, parentRunId: string | null = null): RunState => ({ runId, status: 'completed', updatedAt: new Date(0), parentRunId });

describe('childrenFirstWaves', () => {
  it('puts every run in a later wave than each of its children', () => {
    // Children-first order as the engine plans it: grandchild, child, parent; plus lone runs and a second family.
    const batch = [r('gc', 'c'), r('c', 'p'), r('c2', 'p'), r('p'), r('lone'), r('k', 'q'), r('q'), r('orphan', 'gone')];
    const waves = childrenFirstWaves(batch).map((w) => w.map((x) => x.runId));
    expect(waves).toEqual([['gc', 'c2', 'lone', 'k', 'orphan'], ['c', 'q'], ['p']]);
    const waveOf = new Map(waves.flatMap((w, i) => w.map((id) => [id, i] as const)));
    for (const run of batch) {
      if (run.parentRunId !== null && waveOf.has(run.parentRunId)) expect(waveOf.get(run.parentRunId)!).toBeGreaterThan(waveOf.get(run.runId)!);
    }
  });
});
