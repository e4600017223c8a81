// Needs: the PostgreSQL 15 (PG_URL) and MariaDB 10.11 (MYSQL_URL) test servers. Checkpoint keys that
// only look like a run's (bare run id, another run whose id extends it, '_' where LIKE would see a
// wildcard, other letter case, a second ':'), for dense candidate pages (one key range plus an exact
// filter), sparse ones and descendants (exact ranges per run), on both SQL engines.
import { describe, expect, it } from 'vitest';
import { sweep } from '../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { silentLogger } from '../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../src/model/dataset.js';
import { mysqlFixture } from '../support/stores/mysql-store.js';
import { postgresFixture } from '../support/stores/postgres-store.js';
import type { StoreFixture } from '../support/stores/store-fixture.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const CUTOFF = new Date(NOW.getTime() - 30 * DAY);

function run(id: string, old: boolean, parent: string | null = null): RunRecord {
  const updated = new Date(NOW.getTime() - (old ? 60 : 1) * DAY);
  return {
    run_id: id, workflow_name: 'wf', status: 'completed', created_at: updated, updated_at: updated, started_at: updated, completed_at: updated,
    idempotency_key: null, parent_run_id: parent, nesting_depth: parent ? 1 : 0, continued_from_run_id: null, continued_to_run_id: null,
    input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
  };
}

/** `sparse`: only every 20th run is old, so a page's roots are far apart. */
function dataset(sparse: boolean): { data: Dataset; doomed: Set<string> } {
  const d = emptyDataset();
  const doomed = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const id = `run_a${i.toString().padStart(3, '0')}`;
    const old = sparse ? i % 20 === 0 : i % 10 !== 0;
    d.runs.push(run(id, old));
    if (old) doomed.add(id);
  }
  // Old children of old roots, with ids far from their parents': purged as descendants.
  d.runs.push(run('run_z900', true, 'run_a001'), run('run_z901', true, 'run_a040'));
  doomed.add('run_z900').add('run_z901');
  const keys: string[] = [];
  for (const r of d.runs) {
    const id = r.run_id;
    keys.push(`${id}:step_1`, `${id}:`, `${id}:step:with:colons`, id, `${id}x:step_1`, `${id.replace('_', 'X')}:step_1`, `${id.toUpperCase()}:other`);
  }
  keys.push('run_a:step', 'run_a0:step', 'stream_step_consume_abc');
  const t = new Date(NOW.getTime() - 90 * DAY);
  for (const k of new Set(keys)) d.checkpoints.push({ step_run_id: k, data: { n: 1 }, created_at: t, updated_at: t });
  return { data: d, doomed };
}

async function check(fixture: StoreFixture, sparse: boolean, batchSize: number): Promise<void> {
  const { data, doomed } = dataset(sparse);
  const store = await fixture.create(fixture.adapt(data));
  try {
    const report = await sweep(store.backend(), {
      cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], batchSize, dryRun: false, housekeeping: false, lockWaitMs: 1000,
      signal: new AbortController().signal, now: () => NOW, logger: silentLogger,
    });
    expect(report.outcome, report.error?.message).toBe('succeeded');
    const left = (await store.dump()).checkpoints!.join('\n');
    const gone = data.checkpoints.filter((c) => !left.includes(`"${c.step_run_id}"`) && !left.includes(`(${c.step_run_id},`) && !left.includes(`("${c.step_run_id}",`));
    const expected = data.checkpoints.filter((c) => {
      const i = c.step_run_id.indexOf(':');
      return i > 0 && doomed.has(c.step_run_id.slice(0, i));
    });
    expect(gone.map((c) => c.step_run_id).sort()).toEqual(expected.map((c) => c.step_run_id).sort());
    expect(report.deleted.checkpoints).toBe(expected.length);
    expect(report.deleted.runs).toBe(doomed.size);
  } finally {
    await store.destroy();
  }
}

describe.each([
  ['postgres', postgresFixture()],
  ['citus-shaped postgres', postgresFixture({ type: 'citus' })],
  ['mysql', mysqlFixture()],
])('%s checkpoint keys', (_name, fixture) => {
  it.each([
    [false, 100],
    [false, 7],
    [true, 100],
    [true, 3],
  ])('sparse=%s batch=%i: exactly the keys starting with a purged run id and ":" go', async (sparse, batchSize) => {
    await check(fixture, sparse, batchSize);
  });
});
