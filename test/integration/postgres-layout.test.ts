// Needs: the PostgreSQL 15 test server (PG_URL), real pyworkflow 0.2.6 and 0.4.0 (PYWORKFLOW_LEGACY_PYTHON,
// PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) and the built CLI. Layout detection against stores real
// pyworkflow created, and the states of docs/storage.md#detection-sql.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { seedPostgresStore } from '../../src/backends/postgres/seed.js';
import { silentLogger } from '../../src/log.js';
import { emptyDataset } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import { runCli } from '../support/cli.js';
import { pyworkflow } from '../support/pyworkflow.js';
import { checkSweepScenario, sweepScenario } from '../support/sweep-property.js';
import { postgresCatalog } from '../support/stores/catalog.js';
import { createPgDatabase, dropPgDatabase, pgHandle, pgStorageConfig, postgresFixture, withPgClient } from '../support/stores/postgres-store.js';
import { requireEnv } from '../support/test-env.js';

const created: string[] = [];
async function database(extra = ''): Promise<string> {
  const name = await createPgDatabase('pywr_layout', extra);
  created.push(name);
  return name;
}
afterAll(async () => {
  for (const name of created) await dropPgDatabase(name);
});

async function sweepJson(storage: Record<string, unknown>, extra: string[] = []): Promise<{ code: number | null; result: Record<string, unknown>; stderr: string }> {
  const r = await runCli(['sweep', '--storage', JSON.stringify(storage), '--retention-days', '1', '--output', 'json', ...extra]);
  return { code: r.code, result: JSON.parse(r.stdout || '{}') as Record<string, unknown>, stderr: r.stderr };
}

describe('postgres layouts pyworkflow really creates', () => {
  it('our v7 seed is the schema of a store first initialised by 0.2.6 and upgraded by 0.4.0 (H8 bootstrap)', async () => {
    const real = await database();
    const storage = pgStorageConfig('postgres', real);
    // 0.2.7+ cannot initialise an empty database (H8): bootstrap like an upgrading user did.
    await pyworkflow('init', storage, [], undefined, requireEnv('PYWORKFLOW_LEGACY_PYTHON'));
    await pyworkflow('init', storage);
    const ours = await database();
    await withPgClient(ours, (c) => seedPostgresStore(c, emptyDataset()));
    const want = await postgresCatalog(real);
    const got = await postgresCatalog(ours);
    expect(got.columns).toEqual(want.columns);
    expect(got.constraints).toEqual(want.constraints);
    expect(got.indexes).toEqual(want.indexes);
    expect(got.versions).toEqual(want.versions);
    const backend = new PostgresBackend({ ...storage, type: 'postgres' }, { logger: silentLogger });
    await backend.open();
    try {
      expect(await backend.detectLayout()).toMatchObject({ schemaVersion: '7', empty: false, details: { checkpoints: 'range', schema: 'public' } });
    } finally {
      await backend.close();
    }
  });

  it('a database 0.4.0 failed to initialise (version 4, no workflow_runs) equals our failed-init seed and sweeps as empty', async () => {
    const real = await database();
    const storage = pgStorageConfig('postgres', real);
    await expect(pyworkflow('init', storage)).rejects.toThrow(/stream_subscriptions/);
    const ours = await database();
    await withPgClient(ours, (c) => seedPostgresStore(c, emptyDataset(), { layout: 'failed-init' }));
    const want = await postgresCatalog(real);
    const got = await postgresCatalog(ours);
    expect(got.columns).toEqual(want.columns);
    expect(got.constraints).toEqual(want.constraints);
    expect(got.indexes).toEqual(want.indexes);
    expect(got.versions).toEqual(want.versions);
    const r = await sweepJson(storage);
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ outcome: 'succeeded', schemaVersion: '4', deleted: { runs: 0, streamRecords: 0 } });
  });

  it('refuses an unknown schema version and a gap in the version rows, deleting nothing', async () => {
    const store = await postgresFixture().create(generateDataset({ seed: 5, runs: 60, now: new Date(), spanDays: 30, eventsPerRun: 3 }));
    try {
      const before = await store.dump();
      const db = String(store.storageConfig.database);
      await withPgClient(db, (c) => c.query("INSERT INTO schema_versions VALUES (8, now(), 'future')"));
      const future = await sweepJson(store.storageConfig);
      expect(future.code).toBe(1);
      expect(future.stderr).toMatch(/unknown pyworkflow schema \(schema_versions holds version 8\); supported: pre-versioning, 1, 2, 3, 4, 5, 6, 7\. Nothing was deleted/);
      expect(future.result).toMatchObject({ outcome: 'failed', error: { code: 'UNKNOWN_SCHEMA' } });
      await withPgClient(db, (c) => c.query('DELETE FROM schema_versions WHERE version IN (5, 8)'));
      const gap = await sweepJson(store.storageConfig);
      expect(gap.code).toBe(1);
      expect(gap.stderr).toMatch(/versions 1, 2, 3, 4, 6, 7 \(not 1\.\.n\)/);
      await withPgClient(db, (c) => c.query("INSERT INTO schema_versions VALUES (5, now(), 'x')"));
      const after = await store.dump();
      delete before.schema_versions;
      delete after.schema_versions;
      expect(after).toEqual(before);
    } finally {
      await store.destroy();
    }
  });

  it('sweeps the pre-versioning layout and refuses a database without pyworkflow tables', async () => {
    const store = await postgresFixture().create(generateDataset({ seed: 6, runs: 40, now: new Date(), spanDays: 30, eventsPerRun: 2 }));
    try {
      await withPgClient(String(store.storageConfig.database), (c) => c.query('DROP TABLE schema_versions'));
      const r = await sweepJson(store.storageConfig);
      expect(r.code, r.stderr).toBe(0);
      expect(r.result).toMatchObject({ outcome: 'succeeded', schemaVersion: 'pre-versioning' });
    } finally {
      await store.destroy();
    }
    const nothing = await sweepJson(pgStorageConfig('postgres', await database()));
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/no pyworkflow tables \(schema_versions, workflow_runs\) in the search_path schemas \(public\)/);
  });

  it('resolves tables through the search_path like pyworkflow (H22): only the store its session sees is swept', async () => {
    const now = new Date();
    const data = generateDataset({ seed: 8, runs: 80, now, spanDays: 60, eventsPerRun: 2 });
    const db = await database();
    await withPgClient(db, async (c) => {
      // A decoy store in public, pyworkflow's store in schema wf; the role's search_path puts wf first.
      await seedPostgresStore(c, data);
      await c.query('CREATE SCHEMA wf');
      await c.query('SET search_path = wf');
      await seedPostgresStore(c, data);
    });
    const handle = pgHandle('postgres', db);
    const publicBefore = await handle.dump();
    const url = new URL(requireEnv('PG_URL'));
    const dsn = `postgresql://${url.username}:${url.password}@${url.host}/${db}?sslmode=disable&options=${encodeURIComponent('-c search_path=wf,public')}`;
    const r = await sweepJson({ type: 'postgres', dsn });
    expect(r.code, r.stderr).toBe(0);
    expect((r.result.deleted as { runs: number }).runs).toBeGreaterThan(0);
    expect(r.stderr).toContain('"schema":"wf"');
    expect(await handle.dump()).toEqual(publicBefore);
    expect(r.stderr + JSON.stringify(r.result)).not.toContain(decodeURIComponent(url.password));
  });

  it('under a linguistic (ICU) collation checkpoints are found by their event keys, exactly as the oracle says', async () => {
    const fixture = postgresFixture({ createDatabase: "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'" });
    const probe = await fixture.create(emptyDataset());
    const backend = probe.backend();
    await backend.open();
    try {
      expect(await backend.detectLayout()).toMatchObject({ details: { checkpoints: 'event-keys' } });
    } finally {
      await backend.close();
      await probe.destroy();
    }
    await fc.assert(fc.asyncProperty(sweepScenario, (s) => checkSweepScenario(fixture, s)), { numRuns: 8 });
  });
});
