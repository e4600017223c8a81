// Benchmark: our DynamoDB sweep against pyworkflow's own `delete_old_runs` on two identical tables
// seeded from one generated dataset, side by side, and what each leaves behind (H12: pyworkflow keeps
// hooks, hook tokens and checkpoints, deletes parents of kept children, and never housekeeps).
// Usage: node dist/bench/dynamodb-bench.js [--runs 5000] [--events 4] [--purgeable 0.6] [--endpoint URL] [--region R] [--keep]
// Credentials come from the SDK chain as in a sweep (for the test server: `set -a; . .test-env/env; set +a`).
// Against moto, wall time mostly measures moto (every GSI query scans the whole table in Python, so
// the sweep's per-run index queries grow with table size: keep --runs at 1000 or less there); the
// request counts are what carries over to DynamoDB. Measured on moto 5.2.5, 2 busy cores, 1000 runs:
// pyworkflow 153 s leaving 241 hooks, 241 tokens, 455 checkpoints orphaned and 45 children without
// their parent; ours 392 s, nothing orphaned, 50 parents kept, 10.2 requests per purged run.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDynamoApi, str, type DynamoApi, type Item } from '../src/backends/dynamodb/client.js';
import { DynamodbBackend } from '../src/backends/dynamodb/dynamodb-backend.js';
import { pkPrefix } from '../src/backends/dynamodb/keys.js';
import { scanPages } from '../src/backends/dynamodb/requests.js';
import { adaptDatasetForDynamo, createPyworkflowTable, datasetItems, writeDynamoDataset } from '../src/backends/dynamodb/seed.js';
import { TERMINAL_STATUSES } from '../src/engine/statuses.js';
import { sweep } from '../src/engine/sweep.js';
import { silentLogger } from '../src/log.js';
import { generateDataset } from '../src/model/generate.js';
import { cutoffFor, envValue } from './bench-env.js';
import { emitResult, spread } from './result.js';

const REPO = join(import.meta.dirname, '..', '..');

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5000' },
    events: { type: 'string', default: '4' },
    purgeable: { type: 'string', default: '0.6' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

/** Counts every call per operation (and index), to show what a sweep asks of DynamoDB. */
function counting(api: DynamoApi): { api: DynamoApi; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = Object.fromEntries(
    Object.entries(api).map(([name, fn]) => [
      name,
      (input: { IndexName?: string; ConditionExpression?: string } | undefined) => {
        const key = `${name}${input?.IndexName ? ` ${input.IndexName}` : ''}${input?.ConditionExpression ? ' (conditional)' : ''}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (fn as (i: unknown) => unknown)(input);
      },
    ]),
  ) as unknown as DynamoApi;
  return { api: wrapped, calls };
}

interface Leftovers {
  families: Map<string, number>;
  /** Items of per-run families whose run item is gone. */
  orphans: Map<string, number>;
  /** Runs whose parent_run_id names a run that is gone. */
  danglingChildren: number;
}

async function leftovers(api: DynamoApi, table: string): Promise<Leftovers> {
  const items: Item[] = [];
  for await (const page of scanPages(api, { TableName: table })) items.push(...page);
  const runs = new Set(items.filter((i) => str(i, 'SK') === '#METADATA' && str(i, 'PK')!.startsWith('RUN#')).map((i) => str(i, 'run_id')));
  const families = new Map<string, number>();
  const orphans = new Map<string, number>();
  let danglingChildren = 0;
  for (const i of items) {
    const pk = str(i, 'PK')!;
    const family = pkPrefix(pk);
    families.set(family, (families.get(family) ?? 0) + 1);
    const owner =
      family === 'RUN' ? pk.slice(4) : ['HOOK', 'TOKEN', 'CANCEL'].includes(family) ? str(i, 'run_id') : family === 'CHECKPOINT' ? pk.slice(11).split(':')[0] : undefined;
    if (owner !== undefined && !runs.has(owner)) orphans.set(family, (orphans.get(family) ?? 0) + 1);
    const parent = str(i, 'parent_run_id');
    if (str(i, 'SK') === '#METADATA' && family === 'RUN' && parent !== undefined && !runs.has(parent)) danglingChildren++;
  }
  return { families, orphans, danglingChildren };
}

const show = (m: Map<string, number>): string => [...m].sort().map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

async function main(): Promise<void> {
  const endpoint = args.endpoint ?? envValue('DYNAMODB_ENDPOINT');
  const region = args.region ?? envValue('AWS_REGION');
  const now = new Date();
  const data = adaptDatasetForDynamo(
    generateDataset({ seed: 2026, runs: Number(args.runs), now, spanDays: 120, eventsPerRun: Number(args.events), terminalShare: 0.9 }),
  );
  const cutoff = cutoffFor(data, Number(args.purgeable));
  const api = createDynamoApi({ table: '', region, endpoint });
  const stamp = Date.now().toString(36);
  const ours = `pywr-bench-ours-${stamp}`;
  const theirs = `pywr-bench-pyworkflow-${stamp}`;
  // An interrupted benchmark still drops its two tables.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([ours, theirs].map((table) => api.deleteTable({ TableName: table }))).then(() => process.exit(130));
    });
  }
  let t = Date.now();
  for (const table of [ours, theirs]) {
    await createPyworkflowTable(api, table);
    await writeDynamoDataset(api, table, data);
  }
  console.log(`tables: ${data.runs.length} runs, ${datasetItems(data).length} items each (seeded in ${((Date.now() - t) / 1000).toFixed(1)} s) at ${endpoint}`);
  console.log(`cutoff: ${cutoff.toISOString()} (${args.purgeable} of runs are terminal and older)`);
  // The generator writes a few checkpoints that belong to no run on purpose; only new orphans count.
  const before = await leftovers(api, ours);
  const newOrphans = (after: Leftovers): string =>
    show(new Map([...after.orphans].map(([k, v]) => [k, v - (before.orphans.get(k) ?? 0)] as [string, number]).filter(([, v]) => v !== 0)));

  try {
    const { api: counted, calls } = counting(api);
    t = Date.now();
    const report = await sweep(new DynamodbBackend({ type: 'dynamodb', table_name: ours, region, endpoint_url: endpoint }, { logger: silentLogger }, { api: counted }), {
      cutoff, statuses: [...TERMINAL_STATUSES], batchSize: 500, dryRun: false, housekeeping: true, lockWaitMs: 0,
      signal: new AbortController().signal, now: () => now, logger: silentLogger,
    });
    const oursSeconds = (Date.now() - t) / 1000;
    if (report.outcome !== 'succeeded') throw new Error(`our sweep failed: ${report.error?.message}`);

    const config = { type: 'dynamodb', table_name: theirs, region, endpoint_url: endpoint };
    const py = spawnSync(envValue('PYWORKFLOW_PYTHON'), [join(REPO, 'bench', 'pyworkflow_delete_old_runs.py'), JSON.stringify(config), cutoff.toISOString()], {
      encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, AWS_DEFAULT_REGION: region },
    });
    if (py.status !== 0) throw new Error(`pyworkflow's delete_old_runs failed: ${py.stderr}`);
    const theirsResult = JSON.parse(py.stdout) as { deleted: number; seconds: number };

    const [leftOurs, leftTheirs] = [await leftovers(api, ours), await leftovers(api, theirs)];
    console.log('');
    console.log(`pyworkflow delete_old_runs   ${theirsResult.seconds.toFixed(1).padStart(7)} s   runs deleted: ${theirsResult.deleted}`);
    console.log(`  left: ${show(leftTheirs.families)}`);
    console.log(`  orphaned by the purge (run gone, item left): ${newOrphans(leftTheirs)}; children with a deleted parent: ${leftTheirs.danglingChildren}`);
    console.log(`pyworkflow-retention sweep   ${oursSeconds.toFixed(1).padStart(7)} s   runs deleted: ${report.deleted.runs} (kept ${report.keptForChildren} parents of kept children)`);
    console.log(`  left: ${show(leftOurs.families)}`);
    console.log(`  orphaned by the purge (run gone, item left): ${newOrphans(leftOurs)}; children with a deleted parent: ${leftOurs.danglingChildren}`);
    console.log(`  deleted per kind: ${JSON.stringify(report.deleted)}`);
    const requests = [...calls.values()].reduce((a, b) => a + b, 0);
    console.log(`  requests: ${requests} (${(requests / Math.max(1, report.deleted.runs)).toFixed(1)} per purged run): ${show(calls)}`);
    emitResult({
      store: 'dynamodb', shape: `${data.runs.length} runs`,
      ours: spread([oursSeconds]), oursNote: `in-process sweep, ${(requests / Math.max(1, report.deleted.runs)).toFixed(1)} requests per purged run`,
      pyworkflow: spread([theirsResult.seconds]), pyworkflowNote: 'the call alone',
      floor: null, floorNote: 'not measured by this bench',
    });
  } finally {
    if (!args.keep) for (const table of [ours, theirs]) await api.deleteTable({ TableName: table }).catch(() => undefined);
    api.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
