// Benchmark: our file-store sweep (the CLI) against pyworkflow's own `delete_old_runs` (which globs
// hooks/ and reads every step file once per deleted run) on two identical copies of one generated store.
// Times are each side's own measurement of its purge (interpreter start-up excluded), plus whole processes.
// Usage: node dist/bench/file-bench.js [--runs 20000] [--events 10] [--purgeable 0.6] [--steps] [--python PATH] [--dir DIR]

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seedFileStore } from '../src/backends/file/seed.js';
import type { SweepReport } from '../src/engine/report.js';
import { cutoffFor, envValue } from './bench-env.js';
import { generateDataset } from '../src/model/generate.js';
import { emitResult, spread } from './result.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DAY = 86_400_000;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20000' },
    events: { type: 'string', default: '10' },
    purgeable: { type: 'string', default: '0.6' },
    steps: { type: 'boolean', default: false },
    python: { type: 'string' },
    dir: { type: 'string', default: join(REPO, '.bench', 'file') },
  },
});

const fileCount = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? fileCount(join(dir, e.name)) : 1), 0);

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const now = new Date();
  const data = generateDataset({ seed: 2026, runs, now, spanDays: 120, eventsPerRun: Number(args.events), terminalShare: 0.9 });
  data.scheduledSignals = []; // postgres/citus only
  // pyworkflow's runtime never writes step files (docs/storage.md#ids); with them its retention
  // reads every step file once per deleted run and would take hours at this size.
  if (!args.steps) data.steps = [];
  const cutoff = cutoffFor(data, Number(args.purgeable));
  if (cutoff.getTime() > now.getTime() - DAY) throw new Error('cutoff too recent; lower --purgeable');

  rmSync(args.dir, { recursive: true, force: true });
  mkdirSync(args.dir, { recursive: true });
  const ours = join(args.dir, 'ours');
  const theirs = join(args.dir, 'pyworkflow');
  let t = Date.now();
  seedFileStore(ours, data);
  cpSync(ours, theirs, { recursive: true });
  console.log(
    `store: ${runs} runs, ${data.events.length} events, ${data.hooks.length} hooks, ${data.checkpoints.length} checkpoints, ` +
      `${data.steps.length} step files; ${fileCount(ours)} files per copy (seeded in ${((Date.now() - t) / 1000).toFixed(1)} s)`,
  );
  console.log(`cutoff: ${cutoff.toISOString()} (${args.purgeable} of runs are terminal and older)`);

  // Both sides run in their own process on a settled disk: the copy just written is still being
  // flushed, and deleting files whose creation is being written back measures the flush.
  spawnSync('sync');
  t = Date.now();
  const cli = spawnSync(process.execPath, [
    join(REPO, 'dist', 'src', 'cli', 'main.js'), 'sweep', '--storage', JSON.stringify({ type: 'file', base_path: ours }),
    '--older-than', cutoff.toISOString(), '--output', 'json', '--progress', 'none', '--log-format', 'json',
  ], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const oursWall = (Date.now() - t) / 1000;
  if (cli.status !== 0) throw new Error(`our sweep failed: ${cli.stderr}`);
  const report = JSON.parse(cli.stdout) as SweepReport;
  const oursSeconds = report.durationMs / 1000;

  spawnSync('sync');
  t = Date.now();
  const py = spawnSync(args.python ?? envValue('PYWORKFLOW_PYTHON'), [join(REPO, 'bench', 'pyworkflow_file_retention.py'), theirs, cutoff.toISOString()], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  const theirsWall = (Date.now() - t) / 1000;
  if (py.status !== 0) throw new Error(`pyworkflow's delete_old_runs failed: ${py.stderr}`);
  const theirsResult = JSON.parse(py.stdout) as { deleted: number; seconds: number };

  console.log('');
  const row = (name: string, s: number, wall: number, runs: number, dir: string): string =>
    `${name.padEnd(28)} ${s.toFixed(2).padStart(8)} s  (process ${wall.toFixed(2).padStart(7)} s)   runs deleted: ${runs}   files left: ${fileCount(dir)}`;
  console.log(row('pyworkflow delete_old_runs', theirsResult.seconds, theirsWall, theirsResult.deleted, theirs));
  console.log(row('pyworkflow-retention sweep', oursSeconds, oursWall, report.deleted.runs, ours));
  console.log(`speed-up                     ${(theirsResult.seconds / oursSeconds).toFixed(1).padStart(8)} x  (whole processes: ${(theirsWall / oursWall).toFixed(1)} x)`);
  console.log('');
  console.log(`ours deleted per kind: ${JSON.stringify(report.deleted)} (kept ${report.keptForChildren} old parents of kept children)`);
  console.log("pyworkflow leaves .cancel files, hook tokens and run-prefixed checkpoints behind (H2, H3, H9) and deletes parents of kept children.");
  emitResult({
    store: 'file', shape: `${runs} runs, ${args.events} events/run, ${Math.round(Number(args.purgeable) * 100)}% purgeable`,
    ours: spread([oursWall]), oursNote: `CLI process, default flags; its own time ${oursSeconds.toFixed(2)} s`,
    pyworkflow: spread([theirsWall]), pyworkflowNote: `process; the call alone ${theirsResult.seconds.toFixed(2)} s`,
    floor: null, floorNote: 'not measured by this bench',
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
