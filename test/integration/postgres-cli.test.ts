// Needs: the PostgreSQL 15 test server (PG_URL), real pyworkflow 0.4.0 (PYWORKFLOW_PYTHON) and the
// built CLI. The parent/child hazard, two sweeps at once, and credentials that never leak.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sweepLockKey } from '../../src/backends/postgres/sweep-lock.js';
import { checkConcurrentSweeps, checkConnectionFailure, checkParentChildSweep, pyworkflowDeleteOldRuns } from '../support/sql-scenarios.js';
import { pgAdminConfig, pgStorageConfig, postgresFixture } from '../support/stores/postgres-store.js';
import { checkPasswordsNeverLeak } from '../support/secrets.js';
import { requireEnv } from '../support/test-env.js';

const termLog = (): string => join(mkdtempSync(join(tmpdir(), 'pywr-term-')), 'termination-log');

describe('postgres sweep through the CLI', () => {
  it('keeps an old parent whose child is kept and succeeds, where pyworkflow 0.4.0 delete_old_runs fails and rolls back (H5)', async () => {
    await checkParentChildSweep(postgresFixture(), (storage) => {
      const r = pyworkflowDeleteOldRuns(requireEnv('PYWORKFLOW_PYTHON'), storage, 30);
      expect(r.ok).toBe(false);
      expect(r.type).toBe('ForeignKeyViolationError');
      expect(r.error).toMatch(/workflow_runs_parent_run_id_fkey/);
    });
  });

  it('the citus layout keeps the same parents (no foreign key would stop a dangling child there)', async () => {
    await checkParentChildSweep(postgresFixture({ type: 'citus' }), () => undefined);
  });

  it('two sweeps at once: one waits for the advisory lock, exactly one deletes, totals equal one sweep', async () => {
    await checkConcurrentSweeps(postgresFixture(), async (storage) => {
      // The advisory lock key the backend documents (sweep-lock.ts), held on a session of our own.
      const client = new pg.Client(pgAdminConfig(String(storage.database)));
      await client.connect();
      await client.query('SELECT pg_advisory_lock($1::bigint)', [sweepLockKey('public')]);
      return async () => {
        await client.end();
      };
    });
  });

  it('a wrong password fails with the target named and the password nowhere', async () => {
    const secret = `wrong-Pw-${Date.now()}-s3cr3t`;
    const storage = { ...pgStorageConfig('postgres', 'pyworkflow'), password: secret };
    await checkConnectionFailure(storage, secret, [/postgres@127\.0\.0\.1:15432\/pyworkflow/, /password authentication failed/, /28P01/], termLog());
    const url = new URL(requireEnv('PG_URL'));
    const dsn = `postgresql://postgres:${encodeURIComponent(secret)}@${url.host}/pyworkflow?sslmode=disable`;
    await checkConnectionFailure({ type: 'postgres', dsn }, secret, [/postgres@127\.0\.0\.1:15432\/pyworkflow/, /28P01/], termLog());
  });

  it('random wrong passwords in every place a config holds one: refused by the server, printed nowhere', async () => {
    await checkPasswordsNeverLeak({
      stores: ['postgres'],
      port: Number(new URL(requireEnv('PG_URL')).port),
      connectionFailure: /CONNECTION_FAILED.*password authentication failed for user .{0,2}admin.*28P01/,
      numRuns: 12,
    });
  });

  it('an unreachable server fails with the target named and the password nowhere', async () => {
    const secret = `unreachable-Pw-${Date.now()}`;
    const storage = { type: 'postgres', host: '127.0.0.1', port: 1, user: 'pyworkflow', password: secret, database: 'pyworkflow', connect_timeout_ms: 3000 };
    await checkConnectionFailure(storage, secret, [/pyworkflow@127\.0\.0\.1:1\/pyworkflow/, /ECONNREFUSED/], termLog());
  });
});
