// A file sweep that fails midway (a file it cannot read, a lock file it cannot use) reports exactly what
// it deleted before failing, names the file to fix, and deletes nothing of that run; a run file too
// damaged to show its parent link keeps every old run that could be its parent.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../../../src/backends/file/file-backend.js';
import { sweep, type SweepOptions } from '../../../../src/engine/sweep.js';
import { TERMINAL_STATUSES } from '../../../../src/engine/statuses.js';
import { createLogger, silentLogger } from '../../../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../../../src/model/dataset.js';
import { zeroCounts, type KindCounts } from '../../../../src/engine/records.js';
import { fileStoreFixture } from '../../../support/stores/file-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

type Snapshot = Record<string, string>;

const NOW = new Date('2026-06-01T12:00:00.000Z');
const CUTOFF = new Date('2026-05-01T00:00:00.000Z');
const OLD = new Date('2026-04-01T00:00:00.000Z');

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

function run(run_id: string, parent_run_id: string | null = null): RunRecord {
  return {
    run_id, workflow_name: 'wf', status: 'completed', created_at: new Date(OLD.getTime() - 60_000), updated_at: OLD, started_at: null,
    completed_at: null, idempotency_key: null, parent_run_id, nesting_depth: parent_run_id ? 1 : 0, continued_from_run_id: null,
    continued_to_run_id: null, input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
  };
}

/** Old completed runs, each with events, a checkpoint, a step, a hook and (every other one) a cancellation flag. */
function dataset(runs: number): { d: Dataset; ids: string[] } {
  const d = emptyDataset();
  const ids: string[] = [];
  for (let r = 0; r < runs; r++) {
    const id = `run_${String(r).padStart(4, '0')}`;
    ids.push(id);
    d.runs.push(run(id));
    for (let i = 0; i < 1 + (r % 4); i++) {
      d.events.push({ event_id: `evt_${id}_${i}`, run_id: id, sequence: i, type: 'step.completed', timestamp: OLD, data: { i }, step_id: null });
    }
    d.checkpoints.push({ step_run_id: `${id}:step_a`, data: { v: r }, created_at: OLD, updated_at: OLD });
    d.steps.push({ step_id: `step_${id}`, run_id: id, step_name: 's', status: 'completed', created_at: OLD });
    d.hooks.push({ run_id: id, hook_id: `hook_${r}`, token: `${id}:hook_${r}`, status: 'received', created_at: OLD });
    if (r % 2 === 0) d.cancellationFlags.push({ run_id: id, created_at: OLD });
  }
  return { d, ids };
}

function options(over: Partial<SweepOptions> = {}): SweepOptions {
  return {
    cutoff: CUTOFF, statuses: [...TERMINAL_STATUSES], batchSize: 5, dryRun: false, housekeeping: false, lockWaitMs: 1000,
    signal: new AbortController().signal, now: () => NOW, logger: silentLogger, ...over,
  };
}

/** Every entry of the store but `.locks/` and the token index, as it is on disk (links and directories too). */
function dump(base: string): Snapshot {
  const out: Snapshot = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(base, path);
      if (rel === '.locks' || rel === '_token_index.json') continue;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(path)}`;
      else if (st.isDirectory() && dir === base) walk(path);
      else if (st.isDirectory()) out[rel] = '(directory)';
      else out[rel] = readFileSync(path, 'utf8');
    }
  };
  walk(base);
  return out;
}

/** What went from `before` to `after`, counted per kind the way the sweep counts (events: non-blank lines). */
function removed(before: Snapshot, after: Snapshot): KindCounts {
  const c = zeroCounts();
  for (const [path, text] of Object.entries(before)) {
    if (path in after) continue;
    if (/^runs\/.*\.json$/.test(path)) c.runs += 1;
    else if (/^runs\/.*\.cancel$/.test(path)) c.cancellationFlags += 1;
    else if (path.startsWith('events/')) c.events += text.split('\n').filter((l) => l.trim() !== '').length;
    else if (path.startsWith('steps/')) c.steps += 1;
    else if (path.startsWith('hooks/')) c.hooks += 1;
    else if (path.startsWith('checkpoints/')) c.checkpoints += 1;
  }
  return c;
}

/** Every path of the store that belongs to `id`. */
function filesOf(snapshot: Snapshot, id: string): string[] {
  return Object.keys(snapshot).filter((p) => p.includes(id)).sort();
}

type Damage = 'events-dir' | 'events-dangling-symlink' | 'events-symlink-loop' | 'lock-symlink' | 'checkpoint-dir' | 'hook-dir';

/** Makes one file of `id` unusable; returns the path the error must name. */
function damage(base: string, id: string, how: Damage): string {
  const events = join(base, 'events', `${id}.jsonl`);
  switch (how) {
    case 'events-dir':
      unlinkSync(events);
      mkdirSync(events);
      return events;
    case 'events-dangling-symlink':
      unlinkSync(events);
      symlinkSync(join(base, 'nowhere'), events);
      return events;
    case 'events-symlink-loop':
      unlinkSync(events);
      symlinkSync(events, events);
      return events;
    case 'lock-symlink': {
      const lock = join(base, '.locks', `events_${id}.lock`);
      rmSync(lock, { force: true });
      symlinkSync(join(base, '..', 'elsewhere.lock'), lock);
      return lock;
    }
    case 'hook-dir': {
      const name = readdirSync(join(base, 'hooks')).find((n) => n.startsWith(`${id}__`))!;
      unlinkSync(join(base, 'hooks', name));
      mkdirSync(join(base, 'hooks', name));
      return join(base, 'hooks', name);
    }
    case 'checkpoint-dir': {
      const cp = join(base, 'checkpoints', `${id}:step_a.json`);
      unlinkSync(cp);
      mkdirSync(cp);
      return cp;
    }
  }
}

describe('file sweep failing midway', () => {
  it('reports exactly what it deleted before it failed, names the file, and deletes nothing of that run', async () => {
    const damages: Damage[] = ['events-dir', 'events-dangling-symlink', 'events-symlink-loop', 'lock-symlink', 'checkpoint-dir', 'hook-dir'];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 1, max: 9 }), fc.constantFrom(...damages), async (bad, batchSize, how) => {
        const { d, ids } = dataset(24);
        const h = await fileStoreFixture.create(d);
        handles.push(h);
        const base = h.storageConfig.base_path as string;
        const path = damage(base, ids[bad]!, how);
        const before = dump(base);
        const report = await sweep(h.backend(), options({ batchSize }));
        const after = dump(base);
        expect(report.outcome).toBe('failed');
        expect(report.error?.message).toContain(path);
        expect(report.deleted).toEqual(removed(before, after));
        expect(filesOf(after, ids[bad]!)).toEqual(filesOf(before, ids[bad]!));
        // Fixed, the next sweep finishes the rest, and the totals add up to everything.
        rmSync(path, { recursive: true, force: true });
        const again = await sweep(h.backend(), options({ batchSize }));
        expect(again.outcome, again.error?.message).toBe('succeeded');
        const total = zeroCounts();
        for (const k of Object.keys(total) as (keyof KindCounts)[]) total[k] = report.deleted[k] + again.deleted[k];
        const fixedBefore = { ...before };
        // The damaged file was replaced by hand: it no longer counts as deleted by a sweep.
        for (const p of Object.keys(fixedBefore)) if (join(base, p) === path) delete fixedBefore[p];
        expect(total).toEqual(removed(fixedBefore, dump(base)));
        expect(Object.keys(dump(base)).filter((p) => p.startsWith('runs/'))).toEqual([]);
      }),
      { numRuns: 25 },
    );
  }, 300_000);
});

describe('file orphan sweep failing midway', () => {
  it('reports what the batches deleted before the failure and names the file', async () => {
    const { d, ids } = dataset(12);
    const h = await fileStoreFixture.create(d);
    handles.push(h);
    const base = h.storageConfig.base_path as string;
    // Every run record gone: all twelve are old orphan groups; the seventh has an events directory.
    for (const id of ids) unlinkSync(join(base, 'runs', `${id}.json`));
    // Checkpoints hold only the step's data: their age is their mtime.
    for (const name of readdirSync(join(base, 'checkpoints'))) utimesSync(join(base, 'checkpoints', name), OLD, OLD);
    const path = damage(base, ids[6]!, 'events-dir');
    const before = dump(base);
    const report = await sweep(h.backend(), options({ batchSize: 2, orphanCutoff: CUTOFF }));
    const after = dump(base);
    expect(report.outcome).toBe('failed');
    expect(report.error?.message).toContain(path);
    expect(report.deleted).toEqual(removed(before, after));
    expect(report.deleted.events, JSON.stringify(report)).toBeGreaterThan(0);
    expect(filesOf(after, ids[6]!)).toEqual(filesOf(before, ids[6]!));
  });
});

describe('file sweep and a run file it cannot read', () => {
  it('a run file too damaged to show its parent keeps every old run that could be its parent, and says which file', async () => {
    const { d } = dataset(3);
    d.runs.push(run('run_child', 'run_0001'));
    const h = await fileStoreFixture.create(d);
    handles.push(h);
    const base = h.storageConfig.base_path as string;
    const child = join(base, 'runs', 'run_child.json');
    const full = readFileSync(child, 'utf8');
    // Cut before its parent link: nothing says whose child it is.
    writeFileSync(child, full.slice(0, full.indexOf('"parent_run_id"') - 1));
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    const report = await sweep(new FileBackend({ type: 'file', base_path: base }, { logger }), options({ logger }));
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted.runs).toBe(0);
    expect(report.keptForChildren).toBe(3);
    for (const id of ['run_0000', 'run_0001', 'run_0002']) expect(existsSync(join(base, 'runs', `${id}.json`))).toBe(true);
    expect(lines.some((l) => l.includes('runs/run_child.json'))).toBe(true);

    // Repaired (its parent link readable again), the parent stays for its child and the other runs go.
    writeFileSync(child, full);
    const again = await sweep(h.backend(), options());
    expect(again.deleted.runs).toBe(4); // run_child is old and completed too: it goes first, then its parent
  });

  it('a truncated run file whose parent link is still whole keeps only that parent', async () => {
    const { d } = dataset(3);
    d.runs.push(run('run_child', 'run_0001'));
    const h = await fileStoreFixture.create(d);
    handles.push(h);
    const base = h.storageConfig.base_path as string;
    const child = join(base, 'runs', 'run_child.json');
    const full = readFileSync(child, 'utf8');
    writeFileSync(child, full.slice(0, full.indexOf('"parent_run_id"') + '"parent_run_id": "run_0001"'.length + 2));
    const report = await sweep(h.backend(), options());
    expect(report.deleted.runs).toBe(2);
    expect(report.keptForChildren).toBe(1);
    expect(existsSync(join(base, 'runs', 'run_0001.json'))).toBe(true);
  });
});
