// Needs: the PostgreSQL 15 test server (PG_URL) and the built CLI. The orphan sweep (--orphans, H24) on
// pyworkflow's PostgreSQL layout and on the Citus layout (no foreign keys; created on plain PostgreSQL,
// so Citus routing itself is not exercised): old groups go with exact counts, every other row stays
// byte-identical (a run with a record, a group with one young record, a live stream step, stream-step
// checkpoints, keys that only look like an orphan's), and a dry run predicts it and deletes nothing.
import { describe, expect, it } from 'vitest';
import { seedPostgresStore } from '../../src/backends/postgres/seed.js';
import { sweep } from '../../src/engine/sweep.js';
import type { Dataset } from '../../src/model/dataset.js';
import { runCli } from '../support/cli.js';
import { CUTOFF, KEPT, OLD, ORPHAN_COUNTS, orphanScenario, STREAM_CHECKPOINT, YOUNG, orphanSweepOptions as options, withoutPurgedGroups, dryRunThenSweep } from '../support/orphan-scenario.js';
import { createPgDatabase, dropPgDatabase, pgHandle, withPgClient } from '../support/stores/postgres-store.js';
import type { StoreHandle } from '../support/stores/store-fixture.js';

const ICU = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'";

interface Variant {
  name: string;
  type: 'postgres' | 'citus';
  /** Seed with foreign-key triggers off: rows written without enforcement (a restore, an import). */
  fkOff: boolean;
  createDatabase?: string;
}

/** A fresh store holding exactly `d`. On postgres with `fkOff`, orphan events/steps/hooks/flags can exist. */
async function create(v: Variant, d: Dataset): Promise<StoreHandle> {
  const database = await createPgDatabase('pywr_t', v.createDatabase ?? '');
  try {
    await withPgClient(database, async (c) => {
      if (v.fkOff) await c.query('SET session_replication_role = replica');
      await seedPostgresStore(c, d, { layout: v.type === 'citus' ? 'citus' : 'v7' });
    });
  } catch (err) {
    await dropPgDatabase(database);
    throw err;
  }
  return pgHandle(v.type, database);
}

/** Young checkpoints whose keys only look like run_gone_a's: LIKE sees '_' as a wildcard, a longer id, the bare id, another case, ';'. */
const LOOKALIKES = ['runXgone_a:step_a', 'run_gone_a0:step_a', 'run_gone_a', 'RUN_GONE_A:step_a', 'run_gone_a;x'];

function withLookalikes(d: Dataset): Dataset {
  for (const key of LOOKALIKES) d.checkpoints.push({ step_run_id: key, data: { n: 1 }, created_at: YOUNG, updated_at: YOUNG });
  return d;
}

const variants: Variant[] = [
  { name: 'postgres (rows written with foreign keys off)', type: 'postgres', fkOff: true },
  { name: 'postgres, ICU collation (no key range is a prefix)', type: 'postgres', fkOff: true, createDatabase: ICU },
  { name: 'citus-shaped (no foreign keys)', type: 'citus', fkOff: false },
];

describe.each(variants)('$name orphan sweep', (v) => {
  it('purges exactly the old orphan groups, leaves every other row byte-identical; a dry run predicts it and deletes nothing', async () => {
    const store = await create(v, orphanScenario());
    const want = await create(v, withoutPurgedGroups(orphanScenario()));
    try {
      const backend = store.backend();
      await backend.open();
      // The ICU database matches checkpoints by the key's exact run part, the others by key ranges.
      expect((await backend.detectLayout()).details?.checkpoints).toBe(v.createDatabase ? 'event-keys' : 'range');
      await backend.close();
      const { after } = await dryRunThenSweep(store);
      expect(after).toEqual(await want.dump());
      expect(after.checkpoints!.some((r) => r.includes(STREAM_CHECKPOINT))).toBe(true);

      const again = await sweep(store.backend(), options());
      expect(again.deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });

  it('checkpoint keys that only look like a purged group\'s (young, so kept) are never deleted with it', async () => {
    const store = await create(v, withLookalikes(orphanScenario()));
    try {
      const report = await sweep(store.backend(), options({ batchSize: 100 }));
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(report.deleted).toMatchObject(ORPHAN_COUNTS);
      const left = await withPgClient(String(store.storageConfig.database), async (c) =>
        (await c.query<{ k: string }>('SELECT step_run_id AS k FROM checkpoints')).rows.map((r) => r.k),
      );
      expect(left.filter((k) => !KEPT.some((id) => k.startsWith(`${id}:`))).sort()).toEqual([...LOOKALIKES, STREAM_CHECKPOINT].sort());
    } finally {
      await store.destroy();
    }
  });

  it('without --orphans no orphan row is touched', async () => {
    const store = await create(v, orphanScenario());
    try {
      const before = await store.dump();
      const { orphanCutoff: _omit, ...rest } = options();
      const report = await sweep(store.backend(), rest);
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(await store.dump()).toEqual(before);
    } finally {
      await store.destroy();
    }
  });

  it('--orphans through the built CLI: exit 0 and the counts in the JSON result', async () => {
    const store = await create(v, orphanScenario());
    const want = await create(v, withoutPurgedGroups(orphanScenario()));
    try {
      const r = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', CUTOFF.toISOString(), '--output', 'json', '--orphans', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'succeeded', deleted: ORPHAN_COUNTS });
      expect(await store.dump()).toEqual(await want.dump());
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });
});

describe('postgres orphan sweep with foreign keys enforced', () => {
  it('only checkpoints can be orphans: those of deleted runs go, a young one keeps its group, runs with a record keep theirs', async () => {
    const v: Variant = { name: 'postgres', type: 'postgres', fkOff: false };
    const d = orphanScenario();
    // The FK-valid part of the scenario (runs with a record and their data), plus checkpoints of gone runs.
    const valid: Dataset = {
      ...d,
      checkpoints: d.checkpoints.filter((c) => /^run_(live|recent):/.test(c.step_run_id) || c.step_run_id === STREAM_CHECKPOINT),
      events: d.events.filter((e) => e.run_id === 'run_live' || e.run_id === 'run_recent'),
      steps: d.steps.filter((s) => s.run_id === 'run_live' || s.run_id === 'run_recent'),
      hooks: d.hooks.filter((h) => h.run_id === 'run_live' || h.run_id === 'run_recent'),
      cancellationFlags: d.cancellationFlags.filter((f) => f.run_id === 'run_live' || f.run_id === 'run_recent'),
    };
    const ck = (key: string, at: Date) => ({ step_run_id: key, data: { n: 1 }, created_at: at, updated_at: at });
    valid.checkpoints.push(ck('run_deleted_1:step_a', OLD), ck('run_deleted_1:step_b', OLD), ck('run_deleted_2:step_a', OLD));
    valid.checkpoints.push(ck('run_deleted_3:step_a', OLD), { ...ck('run_deleted_3:step_b', OLD), updated_at: YOUNG }); // one young record
    const store = await create(v, valid);
    try {
      const dry = await sweep(store.backend(), options({ dryRun: true }));
      expect(dry.deleted).toMatchObject({ runs: 0, events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 3 });
      const report = await sweep(store.backend(), options());
      expect(report.deleted).toEqual(dry.deleted);
      const left = await withPgClient(String(store.storageConfig.database), async (c) =>
        (await c.query<{ k: string }>('SELECT step_run_id AS k FROM checkpoints ORDER BY step_run_id COLLATE "C"')).rows.map((r) => r.k),
      );
      expect(left).toEqual(['run_deleted_3:step_a', 'run_deleted_3:step_b', 'run_live:step_a', 'run_recent:step_a', STREAM_CHECKPOINT].sort());
    } finally {
      await store.destroy();
    }
  });
});
