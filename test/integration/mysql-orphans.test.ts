// Needs: the MariaDB 10.11 test server (MYSQL_URL) and the built CLI. The orphan sweep (--orphans, H24)
// on pyworkflow's MySQL layout: old groups go with exact counts, every other row stays byte-identical
// (a run with a record, a group with one young record, a live stream step, stream-step checkpoints,
// keys that only look like an orphan's, other letter case), a dry run predicts it and deletes nothing,
// and a run record inserted while the sweep runs makes it wait and keep that group.
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { adaptToMysqlV2, seedMysqlStore } from '../../src/backends/mysql/seed.js';
import { formatDatetime6 } from '../../src/backends/mysql/time.js';
import { sweep } from '../../src/engine/sweep.js';
import type { Dataset } from '../../src/model/dataset.js';
import { runCli } from '../support/cli.js';
import { CUTOFF, KEPT, OLD, ORPHAN_COUNTS, orphanScenario, PURGED, STREAM_CHECKPOINT, YOUNG, orphanSweepOptions as options, withoutPurgedGroups, dryRunThenSweep } from '../support/orphan-scenario.js';
import { createMysqlDatabase, dropMysqlDatabase, mysqlAdminOptions, mysqlHandle, withMysql } from '../support/stores/mysql-store.js';
import type { StoreHandle } from '../support/stores/store-fixture.js';

/** A fresh store holding exactly `d`; `fkOff`: written with foreign_key_checks off (a restore, an import). */
async function create(d: Dataset, fkOff = true): Promise<StoreHandle> {
  const database = await createMysqlDatabase();
  try {
    await withMysql(database, async (c) => {
      if (fkOff) await c.query('SET SESSION foreign_key_checks = 0');
      await seedMysqlStore(c, adaptToMysqlV2(d));
    });
  } catch (err) {
    await dropMysqlDatabase(database);
    throw err;
  }
  return mysqlHandle(database);
}

const checkpointKeys = (store: StoreHandle): Promise<string[]> =>
  withMysql(String(store.storageConfig.database), async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT step_run_id FROM checkpoints');
    return rows.map((r) => String(r.step_run_id)).sort();
  });

/** Young checkpoints whose keys only look like run_gone_a's: LIKE's '_' wildcard, a longer id, the bare id, another case, ';'. */
const LOOKALIKES = ['runXgone_a:step_a', 'run_gone_a0:step_a', 'run_gone_a', 'RUN_GONE_A:step_upper', 'run_gone_a;x'];

describe('mysql orphan sweep', () => {
  it('purges exactly the old orphan groups, leaves every other row byte-identical; a dry run predicts it and deletes nothing', async () => {
    const store = await create(orphanScenario());
    const want = await create(withoutPurgedGroups(orphanScenario()));
    try {
      await dryRunThenSweep(store);
      expect(await store.dump()).toEqual(await want.dump());
      expect(await checkpointKeys(store)).toContain(STREAM_CHECKPOINT);

      const again = await sweep(store.backend(), options());
      expect(again.deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });

  it('checkpoint keys that only look like a purged group\'s (young, so kept) are never deleted with it', async () => {
    const d = orphanScenario();
    for (const key of LOOKALIKES) d.checkpoints.push({ step_run_id: key, data: { n: 1 }, created_at: YOUNG, updated_at: YOUNG });
    const store = await create(d);
    try {
      const report = await sweep(store.backend(), options({ batchSize: 100 }));
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(report.deleted).toMatchObject(ORPHAN_COUNTS);
      const left = (await checkpointKeys(store)).filter((k) => !KEPT.some((id) => k.startsWith(`${id}:`)));
      expect(left.sort()).toEqual([...LOOKALIKES, STREAM_CHECKPOINT].sort());
    } finally {
      await store.destroy();
    }
  });

  it('rows of another letter case are not the group\'s, and a run record in another case keeps a group (the collation decides, as for pyworkflow)', async () => {
    const d = orphanScenario();
    // Old events of RUN_GONE_B (upper case): an orphan group of its own, purged with its own counts.
    d.events.push({ event_id: 'evt_upper_1', run_id: 'RUN_GONE_B', sequence: 0, type: 'step.completed', timestamp: OLD, data: {}, step_id: null });
    // A run record 'RUN_GONE_C': pyworkflow's case-insensitive lookups give it run_gone_c's hook, so that group stays.
    const live = d.runs.find((r) => r.run_id === 'run_live')!;
    d.runs.push({ ...live, run_id: 'RUN_GONE_C', status: 'completed', updated_at: YOUNG });
    const store = await create(d);
    try {
      const report = await sweep(store.backend(), options());
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(report.deleted).toMatchObject({ ...ORPHAN_COUNTS, events: ORPHAN_COUNTS.events + 1, hooks: ORPHAN_COUNTS.hooks - 1 });
      const hooks = await withMysql(String(store.storageConfig.database), async (c) => (await c.query<mysql.RowDataPacket[]>("SELECT hook_id FROM hooks WHERE run_id = 'run_gone_c'"))[0]);
      expect(hooks).toHaveLength(1);
    } finally {
      await store.destroy();
    }
  });

  it('with foreign keys enforced only checkpoints are orphans: those of deleted runs go, a young one keeps its group', async () => {
    const d = orphanScenario();
    const mine = (id: string): boolean => id === 'run_live' || id === 'run_recent';
    const valid: Dataset = {
      ...d,
      events: d.events.filter((e) => mine(e.run_id)),
      steps: d.steps.filter((s) => mine(s.run_id)),
      hooks: d.hooks.filter((h) => mine(h.run_id)),
      cancellationFlags: d.cancellationFlags.filter((f) => mine(f.run_id)),
      checkpoints: d.checkpoints.filter((c) => /^run_(live|recent):/.test(c.step_run_id) || c.step_run_id === STREAM_CHECKPOINT),
    };
    const ck = (key: string, created: Date, updated = created) => ({ step_run_id: key, data: { n: 1 }, created_at: created, updated_at: updated });
    valid.checkpoints.push(ck('run_deleted_1:step_a', OLD), ck('run_deleted_1:step_b', OLD), ck('run_deleted_2:step_a', OLD));
    valid.checkpoints.push(ck('run_deleted_3:step_a', OLD), ck('run_deleted_3:step_b', OLD, YOUNG));
    const store = await create(valid, false);
    try {
      const dry = await sweep(store.backend(), options({ dryRun: true }));
      expect(dry.deleted).toMatchObject({ runs: 0, events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 3 });
      const report = await sweep(store.backend(), options());
      expect(report.deleted).toEqual(dry.deleted);
      expect(await checkpointKeys(store)).toEqual(['run_deleted_3:step_a', 'run_deleted_3:step_b', 'run_live:step_a', 'run_recent:step_a', STREAM_CHECKPOINT].sort());
    } finally {
      await store.destroy();
    }
  });

  it('a run record inserted (uncommitted) while the sweep runs: the sweep waits for it and keeps that group', async () => {
    const store = await create(orphanScenario());
    const want = await create(withoutPurgedGroups(orphanScenario(), PURGED.filter((id) => id !== 'run_gone_c')));
    const writer = await mysql.createConnection(mysqlAdminOptions(String(store.storageConfig.database)));
    try {
      await writer.query('START TRANSACTION');
      const at = formatDatetime6(YOUNG);
      await writer.query(
        "INSERT INTO workflow_runs (run_id, workflow_name, status, created_at, updated_at, input_args, input_kwargs) VALUES ('run_gone_c', 'wf', 'running', ?, ?, '[]', '{}')",
        [at, at],
      );
      const sweeping = sweep(store.backend(), options());
      await new Promise((r) => setTimeout(r, 1500));
      await writer.query('COMMIT');
      const report = await sweeping;
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(report.deleted).toMatchObject({ ...ORPHAN_COUNTS, hooks: ORPHAN_COUNTS.hooks - 1 });
      const dump = await store.dump();
      const wanted = await want.dump();
      expect({ ...dump, workflow_runs: [] }).toEqual({ ...wanted, workflow_runs: [] });
      expect(dump.hooks!.some((r) => r.includes('run_gone_c'))).toBe(true);
    } finally {
      await writer.end();
      await store.destroy();
      await want.destroy();
    }
  });

  it('--orphans through the built CLI: exit 0 and the counts in the JSON result', async () => {
    const store = await create(orphanScenario());
    const want = await create(withoutPurgedGroups(orphanScenario()));
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
