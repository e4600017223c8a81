// `npm run demo`: the main job on an embedded default. Builds a fresh SQLite store in pyworkflow's
// exact layout with realistic data, shows a dry run, sweeps it, and shows what was deleted and what
// remains, checking the guarantees on the way.

import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSqliteStore } from '../src/backends/sqlite/seed.js';
import { generateDataset } from '../src/model/generate.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const RETENTION_DAYS = 30;

function main(): number {
  const now = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'pyworkflow-retention-demo-'));
  const path = join(dir, 'pyworkflow.db');
  const data = generateDataset({ seed: 20260301, runs: 5000, now, spanDays: 90, eventsPerRun: 6 });
  data.scheduledSignals = []; // SQLite stores have no scheduled_signals table
  seedSqliteStore(path, data);
  const cutoff = new Date(now.getTime() - RETENTION_DAYS * 86_400_000);

  console.log(`Demo store: ${path} (pyworkflow SQLite layout, schema version 7)`);
  printStore(path, cutoff, 'before');
  const storage = JSON.stringify({ type: 'sqlite', base_path: path });

  for (const extra of [['--dry-run'], []]) {
    const args = ['sweep', '--storage', storage, '--retention-days', String(RETENTION_DAYS), ...extra];
    console.log(`\n$ pyworkflow-retention ${args.map((a) => (/[\s{"]/.test(a) ? `'${a}'` : a)).join(' ')}`);
    const r = spawnSync(process.execPath, [CLI, ...args, '--progress', 'none', '--log-format', 'text'], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      return r.status ?? 1;
    }
  }
  printStore(path, cutoff, 'after');
  return checkGuarantees(path, cutoff, data.runs) ? 0 : 1;
}

function printStore(path: string, cutoff: Date, when: string): void {
  const db = new Database(path, { readonly: true });
  const iso = cutoff.toISOString().replace('Z', '+00:00');
  const rows = db
    .prepare(
      `SELECT status, SUM(updated_at < ?) AS old, SUM(updated_at >= ?) AS recent FROM workflow_runs GROUP BY status ORDER BY status`,
    )
    .all(iso, iso) as { status: string; old: number; recent: number }[];
  console.log(`\nRuns ${when} the sweep (old = last updated more than ${RETENTION_DAYS} days ago):`);
  for (const r of rows) console.log(`  ${r.status.padEnd(17)} old ${String(r.old).padStart(5)}   recent ${String(r.recent).padStart(5)}`);
  const tables = ['events', 'steps', 'hooks', 'cancellation_flags', 'checkpoints', 'signals', 'signal_acknowledgments', 'stream_subscriptions', 'schedules'];
  console.log(`  records: ${tables.map((t) => `${t} ${(db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n}`).join(', ')}`);
  db.close();
}

function checkGuarantees(path: string, cutoff: Date, original: { run_id: string; status: string; updated_at: Date }[]): boolean {
  const db = new Database(path, { readonly: true });
  const left = new Set((db.prepare('SELECT run_id FROM workflow_runs').all() as { run_id: string }[]).map((r) => r.run_id));
  const active = ['pending', 'running', 'suspended'];
  const lostActive = original.filter((r) => active.includes(r.status) && !left.has(r.run_id)).length;
  const lostRecent = original.filter((r) => r.updated_at.getTime() >= cutoff.getTime() && !left.has(r.run_id)).length;
  const orphans = ['events', 'steps', 'hooks', 'cancellation_flags']
    .map((t) => (db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE run_id NOT IN (SELECT run_id FROM workflow_runs)`).get() as { n: number }).n)
    .reduce((a, b) => a + b, 0);
  const danglingParents = (db.prepare('SELECT COUNT(*) AS n FROM workflow_runs WHERE parent_run_id IS NOT NULL AND parent_run_id NOT IN (SELECT run_id FROM workflow_runs)').get() as { n: number }).n;
  db.close();
  console.log('\nChecks:');
  const checks: [string, boolean][] = [
    [`active runs deleted: ${lostActive}`, lostActive === 0],
    [`runs newer than the cutoff deleted: ${lostRecent}`, lostRecent === 0],
    [`orphaned events/steps/hooks/cancellation flags: ${orphans}`, orphans === 0],
    [`kept runs whose parent is gone: ${danglingParents}`, danglingParents === 0],
  ];
  for (const [text, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${text}`);
  return checks.every(([, ok]) => ok);
}

process.exitCode = main();
