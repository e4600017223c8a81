// SQLite benchmark, side by side in one run on identical copies of one store: our sweep vs
// pyworkflow's own delete_old_runs (one transaction) vs raw single-statement DELETEs (the floor),
// with the longest write transaction of each. Run: npm run build && node dist/bench/sqlite-bench.js

import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PurgeBatch } from '../src/backends/backend.js';
import { seedSqliteStore } from '../src/backends/sqlite/seed.js';
import { SqliteBackend } from '../src/backends/sqlite/sqlite-backend.js';
import { formatPythonUtc } from '../src/backends/python-time.js';
import { sweep } from '../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../src/engine/statuses.js';
import { silentLogger } from '../src/log.js';
import { generateDataset } from '../src/model/generate.js';
import { envValue } from './bench-env.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const now = new Date();
  const cutoff = new Date(now.getTime() - 30 * 86_400_000);
  const dir = mkdtempSync(join(tmpdir(), 'pywr-bench-sqlite-'));
  const master = join(dir, 'master.db');
  // No parent links: pyworkflow's delete fails outright on an old parent with a kept child (H5),
  // which would make its timing meaningless.
  const data = generateDataset({ seed: 11, runs: RUNS, now, spanDays: 100, eventsPerRun: 10, childShare: 0 });
  data.scheduledSignals = [];
  seedSqliteStore(master, data);
  const db = new Database(master, { readonly: true });
  const total = (db.prepare('SELECT COUNT(*) AS n FROM workflow_runs').get() as { n: number }).n;
  const events = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  db.close();
  console.log(`store: ${total} runs, ${events} events; cutoff ${cutoff.toISOString()}`);

  const results: Record<string, { seconds: number[]; maxTxMs: number[]; runs: number }> = {};
  const record = (name: string, seconds: number, maxTxMs: number, runs: number): void => {
    const r = (results[name] ??= { seconds: [], maxTxMs: [], runs });
    r.seconds.push(seconds);
    r.maxTxMs.push(maxTxMs);
    r.runs = runs;
  };

  for (let round = 0; round < ROUNDS; round++) {
    // Interleave the contenders each round so drift on a shared machine hits all of them alike.
    {
      const copy = join(dir, `ours-${round}.db`);
      copyFileSync(master, copy);
      const backend = new SqliteBackend({ type: 'sqlite', base_path: copy }, { logger: silentLogger });
      let maxTx = 0;
      const purge = backend.purgeRuns.bind(backend);
      backend.purgeRuns = async (batch: PurgeBatch, options: { dryRun: boolean }) => {
        const t = performance.now();
        const r = await purge(batch, options);
        maxTx = Math.max(maxTx, performance.now() - t);
        return r;
      };
      const t0 = performance.now();
      const report = await sweep(backend, {
        cutoff, statuses: [...TERMINAL_STATUSES], batchSize: 500, dryRun: false, housekeeping: true, lockWaitMs: 0,
        signal: new AbortController().signal, now: () => now, logger: silentLogger,
      });
      if (report.outcome !== 'succeeded') throw new Error(report.error?.message);
      record('ours (batches of 500)', (performance.now() - t0) / 1000, maxTx, report.deleted.runs);
    }
    {
      const copy = join(dir, `pyworkflow-${round}.db`);
      copyFileSync(master, copy);
      const py = spawnSync(envValue('PYWORKFLOW_PYTHON'), [join(import.meta.dirname, '..', '..', 'bench', 'pyworkflow_delete_old_runs.py'),
        JSON.stringify({ type: 'sqlite', base_path: copy }), cutoff.toISOString()], { encoding: 'utf8' });
      if (py.status !== 0) throw new Error(`pyworkflow delete_old_runs failed: ${py.stderr.slice(-1000)}`);
      const out = JSON.parse(py.stdout.trim().split('\n').pop()!) as { deleted: number; seconds: number };
      record("pyworkflow delete_old_runs (one transaction)", out.seconds, out.seconds * 1000, out.deleted);
    }
    {
      const copy = join(dir, `raw-${round}.db`);
      copyFileSync(master, copy);
      const raw = new Database(copy);
      raw.pragma('foreign_keys = ON');
      const sel = `SELECT run_id FROM workflow_runs WHERE status IN ('completed','failed','cancelled','continued_as_new','interrupted') AND updated_at < ?`;
      const c = formatPythonUtc(cutoff);
      const t0 = performance.now();
      let runs = 0;
      raw.transaction(() => {
        for (const t of ['events', 'steps', 'hooks', 'cancellation_flags']) raw.prepare(`DELETE FROM ${t} WHERE run_id IN (${sel})`).run(c);
        raw.prepare(`DELETE FROM checkpoints WHERE substr(step_run_id, 1, instr(step_run_id, ':') - 1) IN (${sel})`).run(c);
        runs = raw.prepare(`DELETE FROM workflow_runs WHERE run_id IN (${sel})`).run(c).changes;
      }).immediate();
      const seconds = (performance.now() - t0) / 1000;
      raw.close();
      record('raw single-statement DELETEs (one transaction)', seconds, seconds * 1000, runs);
    }
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\n${'contender'.padEnd(50)} ${'median s'.padStart(9)} ${'longest tx ms'.padStart(14)} ${'runs'.padStart(7)}`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(50)} ${median(r.seconds).toFixed(3).padStart(9)} ${median(r.maxTxMs).toFixed(1).padStart(14)} ${String(r.runs).padStart(7)}`);
  }
  const ours = median(results['ours (batches of 500)']!.seconds);
  const py = median(results['pyworkflow delete_old_runs (one transaction)']!.seconds);
  const raw = median(results['raw single-statement DELETEs (one transaction)']!.seconds);
  console.log(`\nratios: ours/pyworkflow = ${(ours / py).toFixed(2)}, ours/raw = ${(ours / raw).toFixed(2)}; ` +
    `longest write lock held: ours ${median(results['ours (batches of 500)']!.maxTxMs).toFixed(1)} ms vs pyworkflow ${(py * 1000).toFixed(0)} ms`);
}

await main();
