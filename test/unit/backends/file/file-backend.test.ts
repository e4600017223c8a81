// The file backend on hand-made stores: each defect of pyworkflow's own file retention (H2, H3, H9,
// H10, H11, H15, H20), unreadable data, lock files, and the sweep lock.
import { existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../../src/backends/backend.js';
import { FileBackend } from '../../../../src/backends/file/file-backend.js';
import { pythonJsonDumps } from '../../../../src/backends/file/python-json.js';
import { tryAcquire } from '../../../../src/backends/flock.js';
import { sweep, type SweepOptions } from '../../../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../../../src/engine/statuses.js';
import { SweepLockedError } from '../../../../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../../../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../../../src/model/dataset.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';
import { fileFixture, fileStoreFixture, lockFiles } from '../../../support/stores/file-store.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const CUTOFF = new Date('2026-05-01T00:00:00.000Z');
const OLD = new Date('2026-04-01T00:00:00.000Z');
const RECENT = new Date('2026-05-20T00:00:00.000Z');

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

function run(run_id: string, status: string, updated_at: Date, parent_run_id: string | null = null): RunRecord {
  return {
    run_id, workflow_name: 'wf', status, created_at: new Date(updated_at.getTime() - 60_000), updated_at, started_at: null,
    completed_at: null, idempotency_key: null, parent_run_id, nesting_depth: parent_run_id ? 1 : 0, continued_from_run_id: null,
    continued_to_run_id: null, input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
  };
}

function withEvents(d: Dataset, runId: string, n: number): void {
  for (let i = 0; i < n; i++) {
    d.events.push({ event_id: `evt_${runId}_${i}`, run_id: runId, sequence: i, type: 'step.completed', timestamp: OLD, data: { i }, step_id: null });
  }
}

async function store(d: Dataset, fixture = fileStoreFixture): Promise<{ h: StoreHandle; base: string }> {
  const h = await fixture.create(d);
  handles.push(h);
  return { h, base: h.storageConfig.base_path as string };
}

function options(overrides: Partial<SweepOptions> = {}): SweepOptions {
  return {
    cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], batchSize: 50, dryRun: false, housekeeping: true, lockWaitMs: 1000,
    signal: new AbortController().signal, now: () => NOW, logger: silentLogger, ...overrides,
  };
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ write: (l) => lines.push(l), level: 'debug' }), lines };
}

describe('file backend purge', () => {
  it('deletes what pyworkflow leaves behind (.cancel H2, tokens H3, run-prefixed checkpoints H9) and nothing else', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_old', 'completed', OLD), run('run_live', 'running', OLD));
    withEvents(d, 'run_old', 3);
    withEvents(d, 'run_live', 2);
    for (const r of ['run_old', 'run_live']) {
      d.cancellationFlags.push({ run_id: r, created_at: OLD });
      for (const hook_id of ['hook_approval_1', 'step_hook_cb_2']) d.hooks.push({ run_id: r, hook_id, token: `${r}:${hook_id}`, status: 'pending', created_at: OLD });
      d.checkpoints.push({ step_run_id: `${r}:step_fetch_1`, data: { cursor: 1 }, created_at: OLD, updated_at: OLD });
    }
    // Not the old run's: a LIKE-wildcard lookalike, a stream-step key, and a bare step id (which pyworkflow's retention deletes).
    for (const step_run_id of ['runXold:step_fetch_1', 'stream_step_consume_abc', 'step_fetch_1']) {
      d.checkpoints.push({ step_run_id, data: {}, created_at: OLD, updated_at: OLD });
    }
    const { h, base } = await store(d);
    // A token whose hook file is already gone (pyworkflow's own retention deletes hooks but not tokens).
    const index = JSON.parse(readFileSync(join(base, '_token_index.json'), 'utf8')) as Record<string, string>;
    writeFileSync(join(base, '_token_index.json'), pythonJsonDumps({ ...index, 'run_old:hook_gone_3': 'run_old:hook_gone_3' }, 2));
    writeFileSync(join(base, '.locks', 'hook_hook_approval_1.lock'), '');

    const report = await sweep(h.backend(), options());
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted).toMatchObject({ runs: 1, events: 3, hooks: 2, cancellationFlags: 1, checkpoints: 1, steps: 0 });

    expect(readdirSync(join(base, 'runs')).sort()).toEqual(['run_live.cancel', 'run_live.json']);
    expect(readdirSync(join(base, 'events'))).toEqual(['run_live.jsonl']);
    expect(readdirSync(join(base, 'hooks')).sort()).toEqual(['run_live__hook_approval_1.json', 'run_live__step_hook_cb_2.json']);
    expect(readdirSync(join(base, 'checkpoints')).sort()).toEqual(
      ['run_live:step_fetch_1.json', 'runXold:step_fetch_1.json', 'step_fetch_1.json', 'stream_step_consume_abc.json'].sort(),
    );
    // The index keeps the live run's tokens, in pyworkflow's own json.dumps(indent=2) shape.
    expect(readFileSync(join(base, '_token_index.json'), 'utf8')).toBe(
      pythonJsonDumps({ 'run_live:hook_approval_1': 'run_live:hook_approval_1', 'run_live:step_hook_cb_2': 'run_live:step_hook_cb_2' }, 2),
    );
    // Lock files of the purged run go with it; shared ones (hook ids repeat across runs, the token index) stay.
    const locks = lockFiles(base);
    expect(locks.filter((l) => l.includes('run_old'))).toEqual([]);
    expect(locks).toEqual(expect.arrayContaining([
      'run_live.lock', 'events_run_live.lock', 'run_live_cancel.lock', 'checkpoint_run_live:step_fetch_1.lock', 'token_index.lock',
      'hook_hook_approval_1.lock', 'pyworkflow-retention-sweep.lock',
    ]));
  });

  it('finds legacy hook files (hooks/{hook_id}.json) by their content and drops their hook_id-valued tokens (H20)', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_old', 'failed', OLD), run('run_new', 'failed', RECENT));
    d.hooks.push(
      { run_id: 'run_old', hook_id: 'hook_legacy_7', token: 'run_old:hook_legacy_7', status: 'pending', created_at: OLD },
      { run_id: 'run_new', hook_id: 'hook_legacy_8', token: 'run_new:hook_legacy_8', status: 'pending', created_at: OLD },
    );
    const { h, base } = await store(d, fileFixture({ legacyHook: () => true }));
    const report = await sweep(h.backend(), options());
    expect(report.deleted).toMatchObject({ runs: 1, hooks: 1 });
    expect(readdirSync(join(base, 'hooks'))).toEqual(['hook_legacy_8.json']);
    expect(JSON.parse(readFileSync(join(base, '_token_index.json'), 'utf8'))).toEqual({ 'run_new:hook_legacy_8': 'hook_legacy_8' });
  });

  it('deletes children before parents and keeps a parent whose child is kept', async () => {
    const d = emptyDataset();
    d.runs.push(
      run('run_parent', 'completed', OLD), run('run_child', 'completed', OLD, 'run_parent'),
      run('run_kept_parent', 'completed', OLD), run('run_live_child', 'suspended', OLD, 'run_kept_parent'),
    );
    const { h, base } = await store(d);
    const report = await sweep(h.backend(), options({ batchSize: 1 }));
    expect(report.deleted.runs).toBe(2);
    expect(report.keptForChildren).toBe(1);
    expect(readdirSync(join(base, 'runs')).sort()).toEqual(['run_kept_parent.json', 'run_live_child.json']);
  });

  it('never purges a run it cannot read, says which file, and reads naive timestamps as UTC', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_naive', 'completed', OLD), run('run_bad', 'completed', OLD), run('run_badtime', 'completed', OLD), run('run_edge', 'completed', CUTOFF));
    const { base } = await store(d);
    const naive = (id: string, value: string): void => {
      const p = join(base, 'runs', `${id}.json`);
      writeFileSync(p, readFileSync(p, 'utf8').replace(/"updated_at": "[^"]*"/, `"updated_at": "${value}"`));
    };
    naive('run_naive', '2026-04-30T23:59:59.999999'); // datetime.utcnow().isoformat(): UTC, just before the cutoff
    naive('run_badtime', 'last tuesday');
    naive('run_edge', '2026-05-01T00:00:00.000001+00:00'); // a microsecond after the cutoff: not older than it
    // Cut inside its last field: the parent link (null) is still whole, so no other run must wait for it.
    const bad = readFileSync(join(base, 'runs', 'run_bad.json'), 'utf8');
    writeFileSync(join(base, 'runs', 'run_bad.json'), bad.slice(0, bad.indexOf('"parent_run_id"') + 40));
    const { logger, lines } = recordingLogger();
    const report = await sweep(new FileBackend({ type: 'file', base_path: base }, { logger }), options({ logger }));
    expect(report.outcome).toBe('succeeded');
    expect(report.deleted.runs).toBe(1);
    expect(existsSync(join(base, 'runs', 'run_naive.json'))).toBe(false);
    expect(readdirSync(join(base, 'runs')).sort()).toEqual(['run_bad.json', 'run_badtime.json', 'run_edge.json']);
    expect(lines.some((l) => l.includes('runs/run_bad.json') && l.includes('not valid JSON'))).toBe(true);
    expect(lines.some((l) => l.includes('runs/run_badtime.json') && l.includes('last tuesday'))).toBe(true);
  });

  it('leaves a run (and its parent) whose lock a live writer keeps, and purges the rest', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_a', 'completed', OLD), run('run_b', 'completed', OLD, 'run_a'), run('run_c', 'completed', OLD));
    withEvents(d, 'run_b', 2);
    const { base } = await store(d);
    const writer = tryAcquire(join(base, '.locks', 'events_run_b.lock'))!; // another process appending to run_b's log
    try {
      const { logger, lines } = recordingLogger();
      const backend = new FileBackend({ type: 'file', base_path: base, lock_timeout_ms: 50 }, { logger });
      const report = await sweep(backend, options({ logger }));
      expect(report.outcome).toBe('succeeded');
      expect(report.deleted.runs).toBe(1);
      expect(readdirSync(join(base, 'runs')).sort()).toEqual(['run_a.json', 'run_b.json']);
      expect(readFileSync(join(base, 'events', 'run_b.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
      expect(lines.some((l) => l.includes('left for the next sweep'))).toBe(true);
    } finally {
      writer.release();
    }
  });

  it('finds a cancellation flag set on an interrupted run after the scan (cancel_workflow accepts interrupted runs)', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_intr', 'interrupted', OLD));
    const { base } = await store(d);
    const backend = new FileBackend({ type: 'file', base_path: base }, { logger: silentLogger });
    // The flag appears between the run scan and the purge of the batch.
    const late: Backend = {
      type: backend.type,
      target: backend.target,
      open: () => backend.open(),
      close: () => backend.close(),
      detectLayout: () => backend.detectLayout(),
      acquireSweepLock: (ms) => backend.acquireSweepLock(ms),
      countCandidates: (q) => backend.countCandidates(q),
      candidates: (q) => backend.candidates(q),
      children: (ids) => backend.children(ids),
      housekeep: (r) => backend.housekeep(r),
      purgeRuns: (batch, o) => {
        writeFileSync(join(base, 'runs', 'run_intr.cancel'), '2026-05-31T00:00:00+00:00');
        return backend.purgeRuns(batch, o);
      },
    };
    const report = await sweep(late, options());
    expect(report.deleted).toMatchObject({ runs: 1, cancellationFlags: 1 });
    expect(readdirSync(join(base, 'runs'))).toEqual([]);
  });

  it('dry run: reports the real counts and changes no file, not even a lock file', async () => {
    const d = emptyDataset();
    d.runs.push(run('run_old', 'completed', OLD));
    withEvents(d, 'run_old', 4);
    d.cancellationFlags.push({ run_id: 'run_old', created_at: OLD });
    const { h, base } = await store(d);
    const before = await h.dump();
    const locksBefore = lockFiles(base);
    const dry = await sweep(h.backend(), options({ dryRun: true }));
    expect(dry.deleted).toMatchObject({ runs: 1, events: 4, cancellationFlags: 1 });
    expect(await h.dump()).toEqual(before);
    expect(lockFiles(base)).toEqual(locksBefore);
  });
});

describe('file backend housekeeping', () => {
  it('prunes old signals but the newest of each stream run, with unchanged JSON for what stays, under the signals lock', async () => {
    const d = emptyDataset();
    d.streams.push({ stream_id: 'stream_a', status: 'active', created_at: OLD });
    const sig = (stream_run_id: string, sequence: number, published_at: Date) => ({
      stream_id: 'stream_a', stream_run_id, sequence, signal_id: `sig_${stream_run_id}_${sequence}`, signal_type: 't',
      payload: { n: sequence }, published_at, source_run_id: null,
    });
    d.signals.push(sig('run_s', 0, OLD), sig('run_s', 1, OLD), sig('__none__', 0, OLD), sig('__none__', 1, OLD), sig('__none__', 2, RECENT));
    d.acknowledgments.push(
      { signal_id: 'sig_run_s_0', step_run_id: 'stream_step_c_1', acknowledged_at: OLD }, // signal goes: ack goes
      { signal_id: 'sig_run_s_1', step_run_id: 'stream_step_c_1', acknowledged_at: OLD }, // signal stays: ack stays
      { signal_id: 'sig___none___2', step_run_id: 'stream_step_c_1', acknowledged_at: RECENT },
    );
    d.subscriptions.push(
      { stream_id: 'stream_a', step_run_id: 'stream_step_c_1', status: 'terminated', created_at: OLD },
      { stream_id: 'stream_a', step_run_id: 'stream_step_c_2', status: 'completed', created_at: RECENT },
      { stream_id: 'stream_a', step_run_id: 'stream_step_c_3', status: 'waiting', created_at: OLD },
    );
    const { h, base } = await store(d);
    const signalsFile = join(base, 'signals', 'stream_a.json');
    // A float payload must stay a float for Python readers: the rewrite keeps each kept signal's text.
    writeFileSync(signalsFile, readFileSync(signalsFile, 'utf8').replace('"n": 1\n', '"n": 1.0\n'));

    const report = await sweep(h.backend(), options());
    expect(report.deleted.streamRecords).toBe(3 + 1 + 1); // 3 signals, 1 ack, 1 subscription
    const left = JSON.parse(readFileSync(signalsFile, 'utf8')) as { signal_id: string; stream_run_id: string | null }[];
    expect(left.map((s) => s.signal_id)).toEqual(['sig_run_s_1', 'sig___none___2']);
    expect(left[1]!.stream_run_id).toBeNull();
    expect(readFileSync(signalsFile, 'utf8')).toContain('"n": 1.0\n');
    expect(readdirSync(join(base, 'acknowledgments')).sort()).toEqual(['sig___none___2__stream_step_c_1.json', 'sig_run_s_1__stream_step_c_1.json']);
    expect(readdirSync(join(base, 'subscriptions')).sort()).toEqual(['stream_a__stream_step_c_2.json', 'stream_a__stream_step_c_3.json']);
    expect(lockFiles(base)).not.toContain('sub_stream_a_stream_step_c_1.lock');
    expect(lockFiles(base)).toContain('signals_stream_a.lock');
  });

  it('never reads or rewrites a signals file through a symlink out of the store', async () => {
    const d = emptyDataset();
    d.streams.push({ stream_id: 'stream_a', status: 'active', created_at: OLD });
    for (const q of [0, 1, 2]) {
      d.signals.push({ stream_id: 'stream_a', stream_run_id: 'r', sequence: q, signal_id: `s${q}`, signal_type: 't', payload: {}, published_at: OLD, source_run_id: null });
    }
    const { h, base } = await store(d);
    const signalsFile = join(base, 'signals', 'stream_a.json');
    const outside = join(dirname(base), 'outside-signals.json');
    writeFileSync(outside, readFileSync(signalsFile));
    const outsideBefore = readFileSync(outside, 'utf8');
    unlinkSync(signalsFile);
    symlinkSync(outside, signalsFile);

    const report = await sweep(h.backend(), options());
    expect(report.outcome).toBe('failed');
    expect(report.error?.message).toMatch(/signals\/stream_a\.json/);
    expect(readFileSync(outside, 'utf8')).toBe(outsideBefore);
    expect(lstatSync(signalsFile).isSymbolicLink()).toBe(true);
  });

  it('waits for a publisher holding the signals lock instead of racing it (H11)', async () => {
    const d = emptyDataset();
    d.streams.push({ stream_id: 'stream_a', status: 'active', created_at: OLD });
    for (const q of [0, 1]) d.signals.push({ stream_id: 'stream_a', stream_run_id: 'r', sequence: q, signal_id: `s${q}`, signal_type: 't', payload: {}, published_at: OLD, source_run_id: null });
    const { base } = await store(d);
    const publisher = tryAcquire(join(base, '.locks', 'signals_stream_a.lock'))!;
    const backend = new FileBackend({ type: 'file', base_path: base, lock_timeout_ms: 5000 }, { logger: silentLogger });
    const swept = sweep(backend, options());
    await new Promise((r) => setTimeout(r, 200));
    // While the publisher holds the lock, the sweep has not touched the file: the publisher appends.
    const file = join(base, 'signals', 'stream_a.json');
    const list = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
    list.push({ signal_id: 's2', stream_id: 'stream_a', sequence: 2, stream_run_id: 'r', published_at: RECENT.toISOString() });
    writeFileSync(file, pythonJsonDumps(list, 2));
    publisher.release();
    const report = await swept;
    expect(report.deleted.streamRecords).toBe(2); // s0 and s1; the appended s2 survives
    expect((JSON.parse(readFileSync(file, 'utf8')) as { signal_id: string }[]).map((s) => s.signal_id)).toEqual(['s2']);
  });

  it('purges soft-deleted schedules (lowercase "deleted", H10) by updated_at, and nothing else', async () => {
    const d = emptyDataset();
    const schedule = (schedule_id: string, status: string, updated_at: Date) => ({
      schedule_id, workflow_name: 'wf', status, created_at: OLD, updated_at, deleted_at: null, running_run_ids: [], last_run_id: null,
    });
    d.schedules.push(schedule('sched_old_del', 'deleted', OLD), schedule('sched_new_del', 'deleted', RECENT), schedule('sched_old_active', 'active', OLD));
    const { h, base } = await store(d);
    const report = await sweep(h.backend(), options());
    expect(report.deleted.schedules).toBe(1);
    expect(readdirSync(join(base, 'schedules')).sort()).toEqual(['sched_new_del.json', 'sched_old_active.json']);
    expect(lockFiles(base)).not.toContain('schedule_sched_old_del.lock');
  });
});

describe('file backend sweep lock', () => {
  it('lets one sweep at a time in, and clears temp files a killed sweep left', async () => {
    const { base } = await store(emptyDataset());
    writeFileSync(join(base, '_token_index.json.retention-tmp-999-0123abcd'), '{');
    const a = new FileBackend({ type: 'file', base_path: base }, { logger: silentLogger });
    const b = new FileBackend({ type: 'file', base_path: base }, { logger: silentLogger });
    await a.detectLayout();
    const lock = await a.acquireSweepLock(100);
    expect(existsSync(join(base, '_token_index.json.retention-tmp-999-0123abcd'))).toBe(false);
    await expect(b.acquireSweepLock(100)).rejects.toBeInstanceOf(SweepLockedError);
    await lock.release();
    await (await b.acquireSweepLock(100)).release();
  });
});
