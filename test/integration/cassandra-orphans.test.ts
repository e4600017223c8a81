// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env) and the built CLI. The orphan sweep
// (--orphans, H24) on pyworkflow's keyspace: old groups go with exact counts (lookup rows only where
// they name the orphan), everything else stays byte-identical, a dry run predicts it, and two sweeps
// at once never count a row twice.
import { afterAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/engine/sweep.js';
import { runCli } from '../support/cli.js';
import { CUTOFF, ORPHAN_COUNTS, orphanScenario, PURGED, STREAM_CHECKPOINT, orphanSweepOptions as options, dryRunThenSweep } from '../support/orphan-scenario.js';
import { cassandraFixture, dropCassandraTestKeyspaces } from '../support/stores/cassandra-store.js';
import type { Snapshot } from '../support/stores/store-fixture.js';

afterAll(dropCassandraTestKeyspaces);
const fixture = cassandraFixture();

/**
 * The store without the purged groups' rows. Hook ids repeat across runs in the scenario, so the
 * hooks_by_id rows of run_gone_a's hooks name a run that has a record, and must stay.
 */
function withoutPurged(dump: Snapshot): Snapshot {
  const purged = (table: string, row: string): boolean =>
    PURGED.some((id) => row.includes(`"${id}`)) && !(table === 'checkpoints' && row.startsWith(`["${STREAM_CHECKPOINT}"`));
  return Object.fromEntries(Object.entries(dump).map(([table, rows]) => [table, rows.filter((r) => !purged(table, r))]));
}

describe('cassandra orphan sweep', () => {
  it('purges the old orphan groups (exact counts, their lookup rows too) and leaves every other row byte-identical; a dry run predicts it', async () => {
    const store = await fixture.create(orphanScenario());
    try {
      const { before, after } = await dryRunThenSweep(store);
      expect(after).toEqual(withoutPurged(before));
      // 15 counted rows, and 5 lookup rows: 3 tokens, hooks_by_id of hook_x_1, steps_by_id of run_gone_a's step.
      expect(Object.values(before).flat().length - Object.values(after).flat().length).toBe(15 + 5);
      expect(after.hooks_by_id).toContain('["hook_approval_1","run_recent"]');

      const again = await sweep(store.backend(), options());
      expect(again.deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
    } finally {
      await store.destroy();
    }
  });

  it('two sweeps at once: the store ends the same and no row is counted twice', async () => {
    const store = await fixture.create(orphanScenario());
    try {
      const before = await store.dump();
      const reports = await Promise.all([sweep(store.backend(), options()), sweep(store.backend(), options())]);
      for (const r of reports) expect(r.outcome, r.error?.message).toBe('succeeded');
      for (const kind of ['events', 'hooks', 'steps', 'cancellationFlags', 'checkpoints'] as const) {
        expect(reports[0].deleted[kind] + reports[1].deleted[kind], kind).toBeLessThanOrEqual(ORPHAN_COUNTS[kind]);
      }
      expect(await store.dump()).toEqual(withoutPurged(before));
    } finally {
      await store.destroy();
    }
  });

  it('--orphans through the built CLI: exit 0 and the counts in the JSON result', async () => {
    const store = await fixture.create(orphanScenario());
    try {
      const before = await store.dump();
      const r = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', CUTOFF.toISOString(), '--output', 'json', '--orphans', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'succeeded', deleted: ORPHAN_COUNTS });
      expect(await store.dump()).toEqual(withoutPurged(before));
    } finally {
      await store.destroy();
    }
  });
});
