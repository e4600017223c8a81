// The SQLite orphan sweep (--orphans, H24): per-run rows of run ids without a run record go when all
// of them are older than the cutoff; young groups, stream-step checkpoints and runs with a record stay.
import { afterEach, describe, expect, it } from 'vitest';
import { sweep } from '../../../../src/engine/sweep.js';
import type { Dataset } from '../../../../src/model/dataset.js';
import { runCli } from '../../../support/cli.js';
import { CUTOFF, ORPHAN_COUNTS, orphanScenario, orphanSweepOptions as options, withoutPurgedGroups } from '../../../support/orphan-scenario.js';
import { sqliteFixture } from '../../../support/stores/sqlite-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

async function store(d: Dataset): Promise<StoreHandle> {
  const h = await sqliteFixture.create(sqliteFixture.adapt(d));
  handles.push(h);
  return h;
}

describe('sqlite orphan sweep', () => {
  it('a dry run predicts exactly what the sweep deletes; young groups, stream-step checkpoints and runs with a record stay byte-identical', async () => {
    const h = await store(orphanScenario());
    const want = await store(withoutPurgedGroups(orphanScenario()));
    const before = await h.dump();
    const dry = await sweep(h.backend(), options({ dryRun: true }));
    expect(dry.outcome, dry.error?.message).toBe('succeeded');
    expect(await h.dump()).toEqual(before);
    expect(dry.deleted).toMatchObject(ORPHAN_COUNTS);

    const real = await sweep(h.backend(), options());
    expect(real.deleted).toEqual(dry.deleted);
    expect(await h.dump()).toEqual(await want.dump());
    // A second pass finds nothing left.
    expect((await sweep(h.backend(), options())).deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
  });

  it('without --orphans nothing of an orphan group is touched', async () => {
    const h = await store(orphanScenario());
    const before = await h.dump();
    const { orphanCutoff: _omit, ...rest } = options();
    await sweep(h.backend(), rest);
    expect(await h.dump()).toEqual(before);
  });

  it('works through the CLI', async () => {
    const h = await store(orphanScenario());
    const r = await runCli(['sweep', '--storage', JSON.stringify(h.storageConfig), '--older-than', CUTOFF.toISOString(), '--orphans', '--no-housekeeping', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { deleted: unknown }).deleted).toMatchObject(ORPHAN_COUNTS);
  });
});
