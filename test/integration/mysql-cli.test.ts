// Needs: the MariaDB 10.11 test server (MYSQL_URL), real pyworkflow 0.2.3 (PYWORKFLOW_MYSQL_PYTHON)
// and the built CLI. The parent/child hazard, two sweeps at once, time zones, and credentials.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { sweepLockName } from '../../src/backends/mysql/sweep-lock.js';
import { generateDataset } from '../../src/model/generate.js';
import { runCli } from '../support/cli.js';
import { checkConcurrentSweeps, checkConnectionFailure, checkParentChildSweep, pyworkflowDeleteOldRuns } from '../support/sql-scenarios.js';
import { mysqlAdminOptions, mysqlFixture, mysqlStorageConfig } from '../support/stores/mysql-store.js';
import { checkPasswordsNeverLeak } from '../support/secrets.js';
import { requireEnv } from '../support/test-env.js';

const termLog = (): string => join(mkdtempSync(join(tmpdir(), 'pywr-term-')), 'termination-log');

describe('mysql sweep through the CLI', () => {
  it('keeps an old parent whose child is kept, deletes children before parents, where pyworkflow delete_old_runs never runs (H5, H6)', async () => {
    await checkParentChildSweep(mysqlFixture(), (storage) => {
      // 0.2.3 is the newest release that can open a MySQL store (H7); its retention raises before any SQL (H6).
      const r = pyworkflowDeleteOldRuns(requireEnv('PYWORKFLOW_MYSQL_PYTHON'), storage, 30);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/unsupported format character/);
    });
  });

  it('two sweeps at once: one waits for GET_LOCK, exactly one deletes, totals equal one sweep', async () => {
    await checkConcurrentSweeps(mysqlFixture(), async (storage) => {
      // The GET_LOCK name the backend documents (sweep-lock.ts), held on a connection of our own.
      const conn = await mysql.createConnection(mysqlAdminOptions(String(storage.database)));
      await conn.query('SELECT GET_LOCK(?, 10)', [sweepLockName(String(storage.database))]);
      return async () => {
        await conn.end();
      };
    });
  });

  it('compares DATETIME(6) as UTC wall-clock time whatever the local zone (runs 1 ms either side of the cutoff)', async () => {
    const now = new Date();
    const cutoff = new Date(Math.floor(now.getTime() / 1000) * 1000 - 10 * 86_400_000 + 123);
    const data = mysqlFixture().adapt(generateDataset({ seed: 11, runs: 400, now, spanDays: 20, eventsPerRun: 1, edges: [cutoff], terminalShare: 1 }));
    const store = await mysqlFixture().create(data);
    try {
      const r = await runCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', cutoff.toISOString(), '--output', 'json'], { TZ: 'America/Los_Angeles' });
      expect(r.code, r.stderr).toBe(0);
      const expected = data.runs.filter((x) => x.updated_at.getTime() < cutoff.getTime()).length;
      const onEdge = data.runs.filter((x) => Math.abs(x.updated_at.getTime() - cutoff.getTime()) <= 1);
      expect(onEdge.length).toBeGreaterThan(2);
      expect((JSON.parse(r.stdout) as { deleted: { runs: number } }).deleted.runs).toBe(expected - keptByChildren(data.runs, cutoff));
      const left = (await store.dump()).workflow_runs!.join('\n');
      for (const x of onEdge) expect(left.includes(x.run_id), `${x.run_id} ${x.updated_at.toISOString()}`).toBe(x.updated_at.getTime() >= cutoff.getTime() || keptIds(data.runs, cutoff).has(x.run_id));
    } finally {
      await store.destroy();
    }
  });

  it('a wrong password fails with the target named and the password nowhere', async () => {
    const secret = `wrong-Pw-${Date.now()}-s3cr3t`;
    const storage = { ...mysqlStorageConfig('mysql'), password: secret };
    await checkConnectionFailure(storage, secret, [/root@127\.0\.0\.1:13306\/mysql/, /Access denied/, /ER_ACCESS_DENIED_ERROR/], termLog());
  });

  it('random wrong passwords in every place a config holds one: refused by the server, printed nowhere', async () => {
    await checkPasswordsNeverLeak({
      stores: ['mysql'],
      port: Number(new URL(requireEnv('MYSQL_URL')).port),
      connectionFailure: /CONNECTION_FAILED.*Access denied for user .*ER_ACCESS_DENIED_ERROR/,
      numRuns: 12,
    });
  });

  it('an unreachable server fails with the target named and the password nowhere', async () => {
    const secret = `unreachable-Pw-${Date.now()}`;
    const storage = { type: 'mysql', host: '127.0.0.1', port: 1, user: 'pyworkflow', password: secret, database: 'pyworkflow', connect_timeout_ms: 3000 };
    await checkConnectionFailure(storage, secret, [/pyworkflow@127\.0\.0\.1:1\/pyworkflow/, /ECONNREFUSED/], termLog());
  });
});

/** Candidates kept because a descendant is kept (the parent/child rule), for the edge test's count. */
function keptIds(runs: { run_id: string; status: string; updated_at: Date; parent_run_id: string | null }[], cutoff: Date): Set<string> {
  const terminal = new Set(['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted']);
  const doomed = new Set(runs.filter((r) => terminal.has(r.status) && r.updated_at.getTime() < cutoff.getTime()).map((r) => r.run_id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of runs) {
      if (r.parent_run_id !== null && doomed.has(r.parent_run_id) && !doomed.has(r.run_id)) {
        doomed.delete(r.parent_run_id);
        changed = true;
      }
    }
  }
  return new Set(runs.filter((r) => terminal.has(r.status) && r.updated_at.getTime() < cutoff.getTime() && !doomed.has(r.run_id)).map((r) => r.run_id));
}

function keptByChildren(runs: Parameters<typeof keptIds>[0], cutoff: Date): number {
  return keptIds(runs, cutoff).size;
}
