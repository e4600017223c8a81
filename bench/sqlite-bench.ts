// SQLite benchmark, side by side on identical copies of one store, every contender as a whole process
// the way a user runs it:
//   ours       `node dist/src/cli/main.js sweep` with the default sweep flags (no --batch-size; the
//              only extra flags choose the output format and turn on the debug lines that carry each
//              transaction's duration), wall time of the process;
//   pyworkflow its own delete_old_runs (one transaction), wall time of the Python process, and its own
//              in-process time of the call;
//   floor      the same rows as ours deleted by the minimal DELETE statements in one transaction
//              (bench/sqlite-floor.ts), in-transaction time, and its process.
// Rounds interleave the contenders (the order rotates each round) so drift on a shared machine hits
// all of them alike; each contender gets a fresh copy, written back to disk before it starts.
// Usage: node dist/bench/sqlite-bench.js [--runs 20000,100000] [--rounds 3] [--events 10] [--purgeable 0.6] [--dir DIR]

import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seedSqliteStore } from '../src/backends/sqlite/seed.js';
import type { SweepReport } from '../src/engine/report.js';
import { generateDataset } from '../src/model/generate.js';
import { cutoffFor, envValue } from './bench-env.js';
import { emitResult, formatSpread, spread } from './result.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.BENCH_RUNS ?? '20000,100000' },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
    events: { type: 'string', default: '10' },
    purgeable: { type: 'string', default: '0.6' },
    dir: { type: 'string', default: join(REPO, '.bench', 'sqlite') },
  },
});

interface Measurement {
  /** Wall time of the whole process. */
  wall: number;
  /** The contender's own time of the purge (pyworkflow: the delete_old_runs call; floor: the transaction). */
  inner: number;
  runs: number;
  longestTxMs: number;
  transactions: number;
}

type Contender = 'ours' | 'pyworkflow' | 'floor';

function timedSpawn(command: string, argv: string[]): { stdout: string; stderr: string; wall: number } {
  const t0 = performance.now();
  const p = spawnSync(command, argv, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wall = (performance.now() - t0) / 1000;
  if (p.status !== 0) throw new Error(`${command} ${argv.slice(0, 2).join(' ')} exited ${p.status}: ${p.stderr.slice(-2000)}`);
  return { stdout: p.stdout, stderr: p.stderr, wall };
}

function runOurs(db: string, cutoff: Date): Measurement {
  const p = timedSpawn(process.execPath, [
    join(REPO, 'dist', 'src', 'cli', 'main.js'), 'sweep', '--storage', JSON.stringify({ type: 'sqlite', base_path: db }),
    '--older-than', cutoff.toISOString(), '--output', 'json', '--progress', 'none', '--log-format', 'json', '--verbose',
  ]);
  const report = JSON.parse(p.stdout) as SweepReport;
  if (report.outcome !== 'succeeded') throw new Error(`our sweep ${report.outcome}: ${report.error?.message}`);
  const txs = p.stderr.split('\n').filter((l) => l.includes('"msg":"transaction"')).map((l) => (JSON.parse(l) as { durationMs: number }).durationMs);
  return { wall: p.wall, inner: report.durationMs / 1000, runs: report.deleted.runs, longestTxMs: Math.max(0, ...txs), transactions: txs.length };
}

function runPyworkflow(db: string, cutoff: Date): Measurement {
  const p = timedSpawn(envValue('PYWORKFLOW_PYTHON'), [join(REPO, 'bench', 'pyworkflow_delete_old_runs.py'), JSON.stringify({ type: 'sqlite', base_path: db }), cutoff.toISOString()]);
  const out = JSON.parse(p.stdout.trim().split('\n').pop()!) as { deleted: number; seconds: number };
  return { wall: p.wall, inner: out.seconds, runs: out.deleted, longestTxMs: out.seconds * 1000, transactions: 1 };
}

function runFloor(db: string, cutoff: Date): Measurement {
  const p = timedSpawn(process.execPath, [join(REPO, 'dist', 'bench', 'sqlite-floor.js'), db, cutoff.toISOString()]);
  const out = JSON.parse(p.stdout) as { runs: number; seconds: number };
  return { wall: p.wall, inner: out.seconds, runs: out.runs, longestTxMs: out.seconds * 1000, transactions: 1 };
}

const RUNNERS: Record<Contender, (db: string, cutoff: Date) => Measurement> = { ours: runOurs, pyworkflow: runPyworkflow, floor: runFloor };

function leftIn(db: string): string {
  const d = new Database(db, { readonly: true });
  try {
    const n = (t: string): number => (d.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    return `${n('workflow_runs')} runs, ${n('events')} events, ${n('checkpoints')} checkpoints`;
  } finally {
    d.close();
  }
}

function benchSize(runs: number, rounds: number): void {
  const dir = join(args.dir, String(runs));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const now = new Date();
  // No parent links: pyworkflow's delete fails outright on an old parent with a kept child (H5),
  // which would make its timing meaningless. 80% terminal, the cutoff making `purgeable` of all runs old.
  const data = generateDataset({ seed: 11, runs, now, spanDays: 100, eventsPerRun: Number(args.events), childShare: 0, terminalShare: 0.8 });
  data.scheduledSignals = [];
  const cutoff = cutoffFor(data, Number(args.purgeable));
  const master = join(dir, 'master.db');
  let t = performance.now();
  seedSqliteStore(master, data);
  const shape = `${runs} runs, ${args.events} events/run, ${Math.round(Number(args.purgeable) * 100)}% purgeable`;
  console.log(`\n== sqlite: ${shape} (${data.events.length} events, ${data.checkpoints.length} checkpoints; seeded in ${((performance.now() - t) / 1000).toFixed(1)} s); cutoff ${cutoff.toISOString()}`);

  const results: Record<Contender, Measurement[]> = { ours: [], pyworkflow: [], floor: [] };
  const order: Contender[] = ['ours', 'pyworkflow', 'floor'];
  const left: Partial<Record<Contender, string>> = {};
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < order.length; i++) {
      const who = order[(i + round) % order.length]!;
      const copy = join(dir, `${who}.db`);
      rmSync(`${copy}-journal`, { force: true });
      copyFileSync(master, copy);
      spawnSync('sync'); // the copy's write-back is not part of anyone's time
      t = performance.now();
      const m = RUNNERS[who](copy, cutoff);
      results[who].push(m);
      console.log(`   round ${round + 1} ${who.padEnd(10)} process ${m.wall.toFixed(2)} s, own ${m.inner.toFixed(2)} s, ${m.runs} runs, ${m.transactions} transaction(s), longest ${m.longestTxMs.toFixed(0)} ms`);
      if (round === rounds - 1) left[who] = leftIn(copy);
      rmSync(copy, { force: true });
    }
  }
  rmSync(master, { force: true });

  const runsDeleted = new Set(order.map((c) => results[c][0]!.runs));
  if (runsDeleted.size !== 1) throw new Error(`contenders deleted different numbers of runs: ${order.map((c) => `${c} ${results[c][0]!.runs}`).join(', ')}`);
  const ours = spread(results.ours.map((m) => m.wall));
  const py = spread(results.pyworkflow.map((m) => m.wall));
  const pyOwn = spread(results.pyworkflow.map((m) => m.inner));
  const floor = spread(results.floor.map((m) => m.inner));
  const floorWall = spread(results.floor.map((m) => m.wall));
  const longest = Math.max(...results.ours.map((m) => m.longestTxMs));
  console.log(`   ${'contender'.padEnd(44)} ${'median (min–max)'.padEnd(28)} longest tx`);
  console.log(`   ${'ours: CLI process, default flags'.padEnd(44)} ${formatSpread(ours).padEnd(28)} ${longest.toFixed(0)} ms (${results.ours[0]!.transactions} transactions)`);
  console.log(`   ${"pyworkflow delete_old_runs: process".padEnd(44)} ${formatSpread(py).padEnd(28)} one transaction`);
  console.log(`   ${"pyworkflow delete_old_runs: the call alone".padEnd(44)} ${formatSpread(pyOwn)}`);
  console.log(`   ${'floor: the DELETE transaction alone'.padEnd(44)} ${formatSpread(floor).padEnd(28)} one transaction`);
  console.log(`   ${'floor: its process'.padEnd(44)} ${formatSpread(floorWall)}`);
  console.log(`   left after the last round: ${order.map((c) => `${c}: ${left[c]}`).join('; ')}`);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  console.log(`   ours/pyworkflow ${(ours.median / py.median).toFixed(2)} (<= 1: ${verdict(ours.median <= py.median)}), ` +
    `ours/floor ${(ours.median / floor.median).toFixed(2)} (<= 1.5: ${verdict(ours.median <= 1.5 * floor.median)}), ` +
    `longest transaction ${longest.toFixed(0)} ms (<= 1000: ${verdict(longest <= 1000)})`);
  emitResult({
    store: 'sqlite', shape, ours: ours, oursNote: 'CLI process, default flags',
    pyworkflow: py, pyworkflowNote: `process; the call alone ${pyOwn.median.toFixed(2)} s`,
    floor, floorNote: 'minimal DELETEs, one transaction, statements only',
    longestTxMs: longest,
  });
}

for (const runs of args.runs.split(',').map(Number)) benchSize(runs, Number(args.rounds));
