// Run ids are values, never SQL: ids with quotes, backslashes, NUL, LIKE wildcards, `:`/`;` (the
// checkpoint key range) and SQL fragments purge exactly the oracle's runs and nothing of their
// look-alike neighbours, with or without --orphans. And a dry run takes a shared sweep lock: it waits
// for a running sweep, and a sweep waits for it.
import { afterEach, describe, expect, it } from 'vitest';
import { sweep } from '../../../../src/engine/sweep.js';
import { SweepLockedError } from '../../../../src/errors.js';
import { emptyDataset, type Dataset } from '../../../../src/model/dataset.js';
import { expectedAfterSweep } from '../../../support/oracle.js';
import { CUTOFF, OLD, orphanSweepOptions as options, YOUNG } from '../../../support/orphan-scenario.js';
import { sqliteFixture } from '../../../support/stores/sqlite-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

async function store(d: Dataset): Promise<StoreHandle> {
  const h = await sqliteFixture.create(sqliteFixture.adapt(d));
  handles.push(h);
  return h;
}

// No `:` inside an id: `{run_id}:{step_id}` checkpoint keys are ambiguous then, whatever the backend.
const HOSTILE = ["a'b", 'a"b', 'a\\b', 'a\u0000b', "'); DELETE FROM events; --", 'run_%', 'run__', 'run;', '../../x', '\u2215\uFF0E'];
/** Ids each hostile one could be confused with by string building, LIKE or a sloppy key range. */
const NEIGHBOURS = ['a', 'ab', 'run_1', 'run', 'x'];

function dataset(withOrphans: boolean): Dataset {
  const d = emptyDataset();
  const add = (id: string, at: Date, status: string): void => {
    d.runs.push({
      run_id: id, workflow_name: 'wf', status, created_at: at, updated_at: at, started_at: null, completed_at: null, idempotency_key: null,
      parent_run_id: null, nesting_depth: 0, continued_from_run_id: null, continued_to_run_id: null, input_args: '[]', input_kwargs: '{}',
      result: null, error: null, context: '{}',
    });
  };
  const records = (id: string, at: Date): void => {
    d.events.push({ event_id: `e:${id}`, run_id: id, sequence: 0, type: 'step.completed', timestamp: at, data: {}, step_id: null });
    d.checkpoints.push({ step_run_id: `${id}:step`, data: {}, created_at: at, updated_at: at });
    d.hooks.push({ run_id: id, hook_id: 'h', token: `${id}:h`, status: 'received', created_at: at });
    d.cancellationFlags.push({ run_id: id, created_at: at });
  };
  for (const id of HOSTILE) {
    add(id, OLD, 'completed');
    records(id, OLD);
  }
  for (const id of NEIGHBOURS) {
    add(id, YOUNG, 'completed');
    records(id, YOUNG);
  }
  if (withOrphans) for (const id of HOSTILE) records(`orphan ${id}`, OLD);
  return d;
}

describe('sqlite and hostile run ids', () => {
  it('purges exactly the old hostile-id runs and keeps every look-alike neighbour', async () => {
    const d = dataset(false);
    const expected = expectedAfterSweep(d, { cutoff: CUTOFF, statuses: ['completed'], housekeeping: false });
    const h = await store(d);
    const want = await store(expected.remaining);
    const report = await sweep(h.backend(), options({ orphanCutoff: undefined, statuses: ['completed'], batchSize: 3 }));
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted).toEqual(expected.counts);
    expect(report.deleted.runs).toBe(HOSTILE.length);
    expect(await h.dump()).toEqual(await want.dump());
  });

  it('the orphan sweep removes the hostile-id orphan groups and nothing else', async () => {
    const h = await store(dataset(true));
    const want = await store(expectedAfterSweep(dataset(false), { cutoff: CUTOFF, statuses: ['completed'], housekeeping: false }).remaining);
    const report = await sweep(h.backend(), options({ statuses: ['completed'], batchSize: 4 }));
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted).toMatchObject({ runs: HOSTILE.length, events: 2 * HOSTILE.length, checkpoints: 2 * HOSTILE.length, cancellationFlags: 2 * HOSTILE.length });
    expect(await h.dump()).toEqual(await want.dump());
  });
});

describe('sqlite dry run and the sweep lock', () => {
  it('a dry run waits for a running sweep, and a sweep for a running dry run', async () => {
    const h = await store(dataset(false));
    const real = h.backend();
    const lock = await real.acquireSweepLock(100); // creates the sidecar, as every real sweep does
    await expect(h.backend().acquireSweepLock(100, { dryRun: true })).rejects.toBeInstanceOf(SweepLockedError);
    await lock.release();
    const dry = await h.backend().acquireSweepLock(100, { dryRun: true });
    await expect(h.backend().acquireSweepLock(100)).rejects.toBeInstanceOf(SweepLockedError);
    await dry.release();
    await (await h.backend().acquireSweepLock(100)).release();
  });
});
