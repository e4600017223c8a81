// `npm run bench`: every store's bench, one after the other in one run (so they share the machine's
// state of the moment), each in its own process with its own output passed through, then one table
// of what they measured: ours, pyworkflow's own, the floor, the ratios, the longest transaction and a
// concurrent writer's p99 where the store's bench has them. A store whose server or tools are missing
// fails loudly: its row says why, and the run exits 1.
// Usage: node dist/bench/run.js [--stores sqlite,postgres,mariadb,file,cassandra,dynamodb] [--quick]
//   --quick: the smaller shapes only (20k runs for SQLite and the SQL servers).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { envValue } from './bench-env.js';
import { RESULT_PREFIX, type BenchResult, type Spread } from './result.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface StoreBench {
  store: string;
  /** Variables from .test-env/env the bench cannot run without (checked before it starts). */
  needs: string[];
  runs: (quick: boolean) => { script: string; args: string[]; env?: Record<string, string> }[];
}

const BENCHES: StoreBench[] = [
  {
    store: 'sqlite', needs: ['PYWORKFLOW_PYTHON'],
    runs: (quick) => [{ script: 'sqlite-bench.js', args: ['--runs', quick ? '20000' : '20000,100000', '--rounds', '3'] }],
  },
  {
    store: 'postgres', needs: ['PG_URL', 'PYWORKFLOW_PYTHON'],
    runs: (quick) => (quick ? ['20000'] : ['20000', '100000']).map((n) => ({ script: 'sql-bench.js', args: ['--engines', 'postgres', '--runs', n] })),
  },
  {
    store: 'mariadb', needs: ['MYSQL_URL', 'PYWORKFLOW_PYTHON'],
    runs: (quick) => (quick ? ['20000'] : ['20000', '100000']).map((n) => ({ script: 'sql-bench.js', args: ['--engines', 'mariadb', '--runs', n] })),
  },
  { store: 'file', needs: ['PYWORKFLOW_PYTHON'], runs: () => [{ script: 'file-bench.js', args: ['--runs', '20000'] }] },
  {
    store: 'cassandra', needs: ['CASSANDRA_CONTACT_POINTS', 'CASSANDRA_PORT', 'CASSANDRA_LOCAL_DC', 'PYWORKFLOW_PYTHON', 'PYWORKFLOW_DRIVER'],
    runs: () => [{ script: 'cassandra-bench.js', args: [], env: { BENCH_RUNS: '10000' } }],
  },
  { store: 'dynamodb', needs: ['DYNAMODB_ENDPOINT', 'AWS_REGION', 'PYWORKFLOW_PYTHON'], runs: () => [{ script: 'dynamodb-bench.js', args: ['--runs', '1000'] }] },
];

interface Row {
  store: string;
  result?: BenchResult;
  failure?: string;
}

/** The test environment's variables (credentials of the test servers included) for the benches' processes. */
function testEnv(): Record<string, string> {
  const file = join(REPO, '.test-env', 'env');
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

async function runOne(store: string, script: string, args: string[], env: Record<string, string>): Promise<{ results: BenchResult[]; failure?: string }> {
  console.log(`\n### ${store}: node dist/bench/${script} ${args.join(' ')}`);
  const child = spawn(process.execPath, [join(REPO, 'dist', 'bench', script), ...args], { env: { ...testEnv(), ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const results: BenchResult[] = [];
  let stderrTail = '';
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(RESULT_PREFIX)) results.push(JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult);
      else console.log(`  ${line}`);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-400);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) return { results, failure: `exited ${code}: ${stderrTail.trim().split('\n').pop() ?? ''}` };
  if (results.length === 0) return { results, failure: 'reported no result' };
  return { results };
}

function cell(s: Spread | null): string {
  if (!s) return '—';
  return s.repeats > 1 ? `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : s.median.toFixed(2);
}

function ratio(a: Spread, b: Spread | null): string {
  return b ? (a.median / b.median).toFixed(2) : '—';
}

function printTable(rows: Row[]): void {
  const header = ['store', 'shape', 'ours s', 'pyworkflow s', 'floor s', 'ours/pyworkflow', 'ours/floor', 'longest tx ms', 'writer p99 ms (idle)'];
  const body = rows.map((r) => {
    if (!r.result) return [r.store, `FAILED: ${r.failure}`, '', '', '', '', '', '', ''];
    const x = r.result;
    return [
      x.store, x.shape, cell(x.ours), cell(x.pyworkflow), cell(x.floor), ratio(x.ours, x.pyworkflow), ratio(x.ours, x.floor),
      x.longestTxMs == null ? '—' : x.longestTxMs.toFixed(0),
      x.writerP99Ms == null ? '—' : `${x.writerP99Ms.toFixed(1)} (${x.writerIdleP99Ms?.toFixed(1) ?? '?'})`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n${line(header)}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const b of body) console.log(line(b));
  console.log('\nNotes:');
  for (const r of rows) {
    if (!r.result) continue;
    const x = r.result;
    const notes = [x.oursNote && `ours: ${x.oursNote}`, x.pyworkflowNote && `pyworkflow: ${x.pyworkflowNote}`, x.floorNote && `floor: ${x.floorNote}`].filter(Boolean);
    if (notes.length > 0) console.log(`  ${x.store} (${x.shape}): ${notes.join('; ')}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stores: { type: 'string' }, quick: { type: 'boolean', default: false } } });
  const wanted = values.stores?.split(',').map((s) => s.trim()) ?? BENCHES.map((b) => b.store);
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.store === w));
  if (unknown.length > 0) throw new Error(`--stores: unknown store(s) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.store).join(', ')}`);
  const started = new Date();
  const rows: Row[] = [];
  for (const bench of BENCHES.filter((b) => wanted.includes(b.store))) {
    const missing = bench.needs.filter((n) => {
      try {
        envValue(n);
        return false;
      } catch {
        return true;
      }
    });
    if (missing.length > 0) {
      const failure = `${missing.join(', ')} not set: its server or tools are not up (npm run env:up)`;
      console.error(`\n### ${bench.store}: FAILED: ${failure}`);
      rows.push({ store: bench.store, failure });
      continue;
    }
    for (const run of bench.runs(values.quick)) {
      const { results, failure } = await runOne(bench.store, run.script, run.args, run.env ?? {});
      for (const result of results) rows.push({ store: bench.store, result });
      if (failure) rows.push({ store: bench.store, failure });
    }
  }
  console.log(`\n## npm run bench, ${started.toISOString()} – ${new Date().toISOString()}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  console.log('Times in seconds, median (min–max) where the store\'s bench repeats; ratios of medians.');
  printTable(rows);
  if (rows.some((r) => r.failure)) {
    console.error(`\nFAILED: ${rows.filter((r) => r.failure).map((r) => r.store).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
