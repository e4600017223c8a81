// Every statement a SQLite sweep sends finds its rows through an index: no full scan of a per-run
// table and no sort of a whole result. The candidate pages once went through idx_runs_status and
// sorted every old run by run_id for each page (7.2 s of paging at 100k runs); over the primary key
// they read just the page. Plans are SQLite's own EXPLAIN QUERY PLAN of the statements as prepared.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TERMINAL_STATUSES } from '../../../../src/engine/statuses.js';
import { sweep } from '../../../../src/engine/sweep.js';
import { silentLogger } from '../../../../src/log.js';
import { generateDataset } from '../../../../src/model/generate.js';
import { sqliteFixture } from '../../../support/stores/sqlite-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

const now = new Date('2026-06-01T00:00:00Z');
const handles: StoreHandle[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const h of handles.splice(0)) await h.destroy();
});

const PER_RUN_TABLES = ['workflow_runs', 'events', 'steps', 'hooks', 'cancellation_flags', 'checkpoints'];

describe('SQLite sweep statements', () => {
  it.each([false, true])('use an index for every per-run table and sort nothing (dry run: %s)', async (dryRun) => {
    const data = sqliteFixture.adapt(generateDataset({ seed: 9, runs: 600, now, spanDays: 60, eventsPerRun: 3 }));
    const store = await sqliteFixture.create(data);
    handles.push(store);
    const sent = new Set<string>();
    // The real prepare, called by the spy, which only remembers what was sent.
    const realPrepare = Object.getOwnPropertyDescriptor(Database.prototype, 'prepare')!.value as (this: Database.Database, sql: string) => Database.Statement;
    vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
      sent.add(sql);
      return realPrepare.call(this, sql);
    });
    const report = await sweep(store.backend(), {
      cutoff: new Date(now.getTime() - 20 * 86_400_000), statuses: TERMINAL_STATUSES, batchSize: 'auto', dryRun, housekeeping: true,
      lockWaitMs: 0, signal: new AbortController().signal, now: () => now, logger: silentLogger,
    });
    vi.restoreAllMocks();
    expect(report.outcome).toBe('succeeded');
    expect(report.deleted.runs).toBeGreaterThan(0);

    const db = new Database(store.storageConfig.base_path as string, { readonly: true });
    try {
      const statements = [...sent].filter((s) => /^\s*(SELECT|DELETE)/i.test(s));
      expect(statements.some((s) => /ORDER BY run_id/.test(s))).toBe(true);
      for (const sql of statements) {
        const names = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
        const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
        const params = names.length > 0 ? [Object.fromEntries(names.map((n) => [n, '']))] : Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => '');
        const plan = (explain.all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
        expect(plan, sql).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
        for (const t of PER_RUN_TABLES) expect(plan, sql).not.toMatch(new RegExp(`SCAN ${t}\\b`));
      }
    } finally {
      db.close();
    }
  });
});
