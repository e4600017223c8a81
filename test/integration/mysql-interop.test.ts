// Needs: the MariaDB 10.11 test server (MYSQL_URL), real pyworkflow 0.2.3 (PYWORKFLOW_MYSQL_PYTHON,
// PYWORKFLOW_DRIVER) and the built CLI.
import { afterAll, describe, it } from 'vitest';
import { runInteropScenario } from '../support/interop.js';
import { pyworkflow } from '../support/pyworkflow.js';
import { createMysqlDatabase, dropMysqlDatabase, mysqlStorageConfig } from '../support/stores/mysql-store.js';
import { requireEnv } from '../support/test-env.js';

const created: string[] = [];
afterAll(async () => {
  for (const name of created) await dropMysqlDatabase(name);
});

describe('mysql interop with real pyworkflow', () => {
  it('purges exactly the eligible runs everywhere pyworkflow 0.2.3 looks, keeps the rest readable', async () => {
    const db = await createMysqlDatabase('pywr_interop');
    created.push(db);
    const storage = mysqlStorageConfig(db);
    // Every release from 0.2.4 fails in connect() on MySQL (a trailing comma in the stream DDL, H7),
    // so 0.2.3 is the newest pyworkflow that can write or read a MySQL store: it creates, writes and
    // reads everything here (it has no stream tables). The CLI runs in a non-UTC zone to show that
    // DATETIME values are never shifted by the local time zone (docs/storage.md#time).
    const python = requireEnv('PYWORKFLOW_MYSQL_PYTHON');
    await pyworkflow('init', storage, [], undefined, python);
    process.env.TZ = 'Asia/Kolkata';
    try {
      await runInteropScenario({ storage, python, streams: false });
    } finally {
      delete process.env.TZ;
    }
  });
});
