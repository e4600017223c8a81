// Needs: the MariaDB 10.11 test server (MYSQL_URL), real pyworkflow 0.2.3 and 0.4.0
// (PYWORKFLOW_MYSQL_PYTHON, PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) and the built CLI. Layout detection
// against stores real pyworkflow created, and the states of docs/storage.md#detection-sql.
import { afterAll, describe, expect, it } from 'vitest';
import { seedMysqlStore } from '../../src/backends/mysql/seed.js';
import { emptyDataset } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import { runCli } from '../support/cli.js';
import { pyworkflow } from '../support/pyworkflow.js';
import { mysqlCatalog } from '../support/stores/catalog.js';
import { createMysqlDatabase, dropMysqlDatabase, mysqlFixture, mysqlStorageConfig, withMysql } from '../support/stores/mysql-store.js';
import { requireEnv } from '../support/test-env.js';

const created: string[] = [];
async function database(): Promise<string> {
  const name = await createMysqlDatabase('pywr_layout');
  created.push(name);
  return name;
}
afterAll(async () => {
  for (const name of created) await dropMysqlDatabase(name);
});

async function sweepJson(storage: Record<string, unknown>): Promise<{ code: number | null; result: Record<string, unknown>; stderr: string }> {
  const r = await runCli(['sweep', '--storage', JSON.stringify(storage), '--retention-days', '1', '--output', 'json']);
  return { code: r.code, result: JSON.parse(r.stdout || '{}') as Record<string, unknown>, stderr: r.stderr };
}

describe('mysql layouts pyworkflow really creates', () => {
  it('our v2 seed is the schema 0.2.3 creates (the last release that can, H7)', async () => {
    const real = await database();
    await pyworkflow('init', mysqlStorageConfig(real), [], undefined, requireEnv('PYWORKFLOW_MYSQL_PYTHON'));
    const ours = await database();
    await withMysql(ours, (c) => seedMysqlStore(c, emptyDataset()));
    expect(await mysqlCatalog(ours)).toEqual(await mysqlCatalog(real));
  });

  it('a database 0.4.0 failed to initialise (version 2, no workflow_runs) equals our failed-init seed and sweeps as empty', async () => {
    const real = await database();
    const storage = mysqlStorageConfig(real);
    await expect(pyworkflow('init', storage)).rejects.toThrow(/syntax/i);
    const ours = await database();
    await withMysql(ours, (c) => seedMysqlStore(c, emptyDataset(), { layout: 'failed-init' }));
    expect(await mysqlCatalog(ours)).toEqual(await mysqlCatalog(real));
    const r = await sweepJson(storage);
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ outcome: 'succeeded', schemaVersion: '2', deleted: { runs: 0 } });
  });

  it('refuses an unknown schema version, deleting nothing', async () => {
    const store = await mysqlFixture().create(mysqlFixture().adapt(generateDataset({ seed: 5, runs: 60, now: new Date(), spanDays: 30, eventsPerRun: 3 })));
    try {
      await withMysql(String(store.storageConfig.database), (c) => c.query("INSERT INTO schema_versions VALUES (8, '2027-01-01 00:00:00', 'future')"));
      const before = await store.dump();
      const r = await sweepJson(store.storageConfig);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/unknown pyworkflow schema \(schema_versions holds version 8\); supported: pre-versioning, 1, 2, 3, 4, 5, 6, 7\. Nothing was deleted/);
      expect(r.result).toMatchObject({ outcome: 'failed', error: { code: 'UNKNOWN_SCHEMA' } });
      expect(await store.dump()).toEqual(before);
    } finally {
      await store.destroy();
    }
  });
});
