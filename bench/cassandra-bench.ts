// Cassandra benchmark: our sweep (dry run, real run, and a second run with nothing left) on a seeded
// pyworkflow keyspace, next to pyworkflow's own delete_old_runs, which cannot run at all on Cassandra
// (its selection is invalid CQL, H1). Run: npx tsc -p tsconfig.json && node dist/bench/cassandra-bench.js
// Env: BENCH_RUNS (default 10000), BENCH_CONCURRENCY (default: the backend's), BENCH_BATCH (default 500).

import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import cassandra from 'cassandra-driver';
import { CassandraBackend } from '../src/backends/cassandra/cassandra-backend.js';
import type { CassandraConfig } from '../src/backends/cassandra/config.js';
import { createPyworkflowKeyspace, writeDataset } from '../src/backends/cassandra/seed.js';
import { TERMINAL_STATUSES } from '../src/engine/statuses.js';
import { sweep } from '../src/engine/sweep.js';
import { silentLogger } from '../src/log.js';
import { generateDataset } from '../src/model/generate.js';
import { envValue } from './bench-env.js';
import { emitResult, spread } from './result.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const DAY = 86_400_000;

async function main(): Promise<void> {
  const contactPoints = envValue('CASSANDRA_CONTACT_POINTS').split(',');
  const port = Number(envValue('CASSANDRA_PORT'));
  const localDataCenter = envValue('CASSANDRA_LOCAL_DC');
  const keyspace = `pywr_bench_${process.pid}`;
  const client = new cassandra.Client({ contactPoints, protocolOptions: { port }, localDataCenter });
  await client.connect();
  try {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 30 * DAY);
    const data = generateDataset({ seed: 11, runs: RUNS, now, spanDays: 100, eventsPerRun: 5 });
    data.scheduledSignals = [];
    let t = Date.now();
    await createPyworkflowKeyspace(client, keyspace);
    await writeDataset(client, keyspace, data);
    console.log(`seeded ${data.runs.length} runs, ${data.events.length} events, ${data.hooks.length} hooks, ${data.checkpoints.length} checkpoints in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const config: CassandraConfig = {
      type: 'cassandra', contact_points: contactPoints, port, keyspace, local_data_center: localDataCenter, replication_factor: 1,
      ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {}),
    };
    // pyworkflow's own retention on the same keyspace, first, while it holds old runs (through the test driver's `token` shim, without
    // which pyworkflow cannot even connect to a Cassandra keyspace).
    const driver = envValue('PYWORKFLOW_DRIVER');
    const code = [
      'import sys, os, json, asyncio, time',
      'from datetime import datetime',
      `sys.path.insert(0, ${JSON.stringify(dirname(driver))})`,
      'import pyworkflow_driver as drv',
      'drv.install_cassandra_shim()',
      'async def main():',
      '    s = drv.make_storage(json.loads(sys.argv[1])); await s.connect()',
      '    t0 = time.perf_counter()',
      '    try:',
      '        n = await s.delete_old_runs(datetime.fromisoformat(sys.argv[2]))',
      '        print(json.dumps({"ok": True, "deleted": n, "seconds": time.perf_counter() - t0}))',
      '    except Exception as e:',
      '        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))',
      '    finally:',
      '        await s.disconnect()',
      'asyncio.run(main())',
    ].join('\n');
    const py = spawnSync(envValue('PYWORKFLOW_PYTHON'), ['-c', code, JSON.stringify(config), cutoff.toISOString()], { encoding: 'utf8' });
    const pyNote = py.stdout.trim() || py.stderr.trim().split('\n').pop() || 'no output';
    console.log(`pyworkflow delete_old_runs: ${pyNote}`);
    const options = (dryRun: boolean): Parameters<typeof sweep>[1] => ({
      cutoff, statuses: TERMINAL_STATUSES, batchSize: BATCH, dryRun, housekeeping: true, lockWaitMs: 1000,
      signal: new AbortController().signal, now: () => now, logger: silentLogger,
    });
    for (const [label, dryRun] of [['dry run', true], ['sweep', false], ['second sweep (nothing left)', false]] as const) {
      t = Date.now();
      const report = await sweep(new CassandraBackend(config, { logger: silentLogger }), options(dryRun));
      const s = (Date.now() - t) / 1000;
      if (report.outcome !== 'succeeded') throw new Error(`${label}: ${report.error?.message}`);
      console.log(`${label}: ${s.toFixed(1)} s, ${(report.deleted.runs / s).toFixed(0)} runs/s, deleted ${JSON.stringify(report.deleted)}`);
      if (label === 'sweep') {
        emitResult({
          store: 'cassandra', shape: `${data.runs.length} runs, 5 events/run`,
          ours: spread([s]), oursNote: `in-process sweep, ${(report.deleted.runs / s).toFixed(0)} runs/s`,
          pyworkflow: null, pyworkflowNote: pyNote,
          floor: null, floorNote: 'not measured by this bench',
        });
      }
    }

  } finally {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
