// Needs: the PostgreSQL 15 test server (PG_URL). Every distinct statement a real sweep sends is
// EXPLAINed (custom and generic plan) on an identical unswept copy of a store of realistic shape:
// candidate selection and every delete must use an index on the big tables.
import { describe, expect, it } from 'vitest';
import { capturePgStatements, explainPg, formatPlans } from '../../bench/sql-plans.js';
import { sweep } from '../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { silentLogger } from '../../src/log.js';
import { generateDataset } from '../../src/model/generate.js';
import { postgresFixture, withPgClient } from '../support/stores/postgres-store.js';

describe('postgres statements use pyworkflow\'s indexes', () => {
  it('no full scan of workflow_runs, events or checkpoints in selection, locking or deletes', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 24 * 86_400_000);
    const data = generateDataset({ seed: 3, runs: 30_000, now, spanDays: 60, eventsPerRun: 5 });
    const fixture = postgresFixture();
    const swept = await fixture.create(data);
    const copy = await fixture.create(data);
    try {
      for (const db of [swept, copy]) await withPgClient(String(db.storageConfig.database), (c) => c.query('ANALYZE'));
      const statements = await capturePgStatements(async () => {
        const report = await sweep(swept.backend(), {
          cutoff, statuses: [...TERMINAL_STATUSES], batchSize: 100, dryRun: false, housekeeping: true, lockWaitMs: 1000,
          signal: new AbortController().signal, now: () => now, logger: silentLogger,
        });
        expect(report.outcome, report.error?.message).toBe('succeeded');
      });
      const plans = await withPgClient(String(copy.storageConfig.database), (c) => explainPg(c, statements));
      console.log(formatPlans(plans));
      // Counting candidates for the progress bar is the one full scan, by design (bounded by a timeout).
      const offending = plans.filter((p) => p.fullScans.length > 0 && !/^SELECT count\(\*\) AS n FROM workflow_runs WHERE status/.test(p.statement));
      expect(offending.map((p) => p.statement)).toEqual([]);
      expect(plans.some((p) => /DELETE FROM events/.test(p.statement))).toBe(true);
      expect(plans.some((p) => /DELETE FROM checkpoints/.test(p.statement))).toBe(true);
    } finally {
      await swept.destroy();
      await copy.destroy();
    }
  });
});
