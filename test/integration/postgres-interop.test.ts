// Needs: the PostgreSQL 15 test server (PG_URL), real pyworkflow 0.2.6 and 0.4.0 (PYWORKFLOW_LEGACY_PYTHON,
// PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) and the built CLI.
import { afterAll, describe, it } from 'vitest';
import { runInteropScenario } from '../support/interop.js';
import { pyworkflow } from '../support/pyworkflow.js';
import { createPgDatabase, dropPgDatabase, pgStorageConfig } from '../support/stores/postgres-store.js';
import { requireEnv } from '../support/test-env.js';

const created: string[] = [];
afterAll(async () => {
  for (const name of created) await dropPgDatabase(name);
});

describe('postgres interop with real pyworkflow', () => {
  it('purges exactly the eligible runs everywhere pyworkflow 0.4.0 looks, keeps the rest readable', async () => {
    const db = await createPgDatabase('pywr_interop');
    created.push(db);
    const storage = pgStorageConfig('postgres', db);
    // 0.2.7 and later cannot initialise an empty PostgreSQL database (H8): the store is bootstrapped
    // by 0.2.6, as an upgrading user's was, then written, swept and read by 0.4.0.
    await pyworkflow('init', storage, [], undefined, requireEnv('PYWORKFLOW_LEGACY_PYTHON'));
    await runInteropScenario({ storage, streams: true, scheduledSignals: true });
  });
});
