// Scenarios shared by the PostgreSQL and MySQL CLI tests: the parent/child hazard (H5), pyworkflow's
// own delete_old_runs run for comparison, two sweeps at once, and a wrong-password/unreachable check.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { emptyDataset, type Dataset, type RunRecord } from '../../src/model/dataset.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { generateDataset } from '../../src/model/generate.js';
import { runCli, startCli } from './cli.js';
import { connect, percentile, startWriter, type WriterStore } from './live-writer.js';
import { expectedAfterSweep } from './oracle.js';
import type { StoreFixture } from './stores/store-fixture.js';

const DAY = 86_400_000;

function run(id: string, status: string, updatedDaysAgo: number, now: Date, parent: RunRecord | null = null): RunRecord {
  const updated = new Date(now.getTime() - updatedDaysAgo * DAY);
  return {
    run_id: id, workflow_name: parent ? 'child_wf' : 'parent_wf', status, created_at: new Date(updated.getTime() - 3600_000), updated_at: updated,
    started_at: updated, completed_at: status === 'completed' ? updated : null, idempotency_key: null, parent_run_id: parent?.run_id ?? null,
    nesting_depth: parent ? parent.nesting_depth + 1 : 0, continued_from_run_id: null, continued_to_run_id: null, input_args: '[]',
    input_kwargs: '{}', result: null, error: null, context: '{}',
  };
}

/**
 * H5: old terminal parents whose child is kept (young, or active), a three-level chain kept by its
 * young leaf, an old parent with an old child (both go, child first), and unrelated old runs.
 */
export function parentChildDataset(now: Date): { data: Dataset; kept: string[]; purged: string[] } {
  const d = emptyDataset();
  const p1 = run('run_a000000000000001', 'completed', 60, now);
  const c1 = run('run_a000000000000002', 'running', 60, now, p1); // active child, old updated_at
  const p2 = run('run_a000000000000003', 'failed', 50, now);
  const c2 = run('run_a000000000000004', 'completed', 2, now, p2); // young child
  const g = run('run_a000000000000005', 'completed', 70, now);
  const m = run('run_a000000000000006', 'completed', 69, now, g);
  const leaf = run('run_a000000000000007', 'suspended', 1, now, m);
  const p3 = run('run_a000000000000008', 'cancelled', 80, now);
  const c3 = run('run_a000000000000009', 'completed', 79, now, p3);
  const c3b = run('run_a00000000000000a', 'failed', 78, now, c3);
  const loose = [run('run_b000000000000001', 'completed', 40, now), run('run_b000000000000002', 'interrupted', 40, now), run('run_b000000000000003', 'running', 40, now)];
  d.runs.push(p1, c1, p2, c2, g, m, leaf, p3, c3, c3b, ...loose);
  let n = 0;
  for (const r of d.runs) {
    for (let s = 0; s < 3; s++) {
      d.events.push({ event_id: `evt_${(++n).toString(16).padStart(16, '0')}`, run_id: r.run_id, sequence: s, type: 'step.completed', timestamp: r.created_at, data: { step_id: `step_x_${s}` }, step_id: `step_x_${s}` });
    }
    d.hooks.push({ run_id: r.run_id, hook_id: 'hook_approval_1', token: `${r.run_id}:hook_approval_1`, status: 'pending', created_at: r.created_at });
    d.checkpoints.push({ step_run_id: `${r.run_id}:step_x_1`, data: { n: 1 }, created_at: r.created_at, updated_at: r.updated_at });
  }
  return {
    data: d,
    kept: [p1, c1, p2, c2, g, m, leaf, loose[2]!].map((r) => r.run_id),
    purged: [p3, c3, c3b, loose[0]!, loose[1]!].map((r) => r.run_id),
  };
}

/** Runs pyworkflow's own `delete_old_runs(now - days)` with a real pyworkflow release. */
export function pyworkflowDeleteOldRuns(python: string, storage: Record<string, unknown>, days: number): { ok: boolean; deleted?: number; error?: string; type?: string } {
  const script = `
import asyncio, json, sys
from datetime import datetime, timedelta, timezone
from pyworkflow.storage.config import config_to_storage
async def main():
    s = config_to_storage(json.loads(sys.argv[1]))
    await s.connect()
    try:
        n = await s.delete_old_runs(datetime.now(timezone.utc) - timedelta(days=int(sys.argv[2])))
        print(json.dumps({"ok": True, "deleted": n}))
    except Exception as e:
        print(json.dumps({"ok": False, "error": str(e), "type": type(e).__name__}))
    finally:
        await s.disconnect()
asyncio.run(main())
`;
  const r = spawnSync(python, ['-c', script, JSON.stringify(storage), String(days)], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { ok: boolean; deleted?: number; error?: string; type?: string };
  } catch {
    throw new Error(`pyworkflow delete_old_runs did not answer: ${r.stderr.slice(-1500)}`);
  }
}

export function sweepArgs(storage: Record<string, unknown>, extra: string[] = []): string[] {
  return ['sweep', '--storage', JSON.stringify(storage), '--retention-days', '30', '--output', 'json', '--progress', 'none', ...extra];
}

/** Checks the H5 outcome of our sweep: succeeded, kept parents kept, the rest purged children first. */
export async function checkParentChildSweep(fixture: StoreFixture, expectPyworkflow: (storage: Record<string, unknown>) => void): Promise<void> {
  const now = new Date();
  const { data, kept, purged } = parentChildDataset(now);
  const store = await fixture.create(fixture.adapt(data));
  try {
    const before = await store.dump();
    expectPyworkflow(store.storageConfig);
    // pyworkflow left the store as it was (its failure rolled back or never started).
    expect(await store.dump()).toEqual(before);
    const r = await runCli(sweepArgs(store.storageConfig));
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { outcome: string; keptForChildren: number; deleted: Record<string, number> };
    expect(result.outcome).toBe('succeeded');
    expect(result.deleted.runs).toBe(purged.length);
    expect(result.deleted.events).toBe(purged.length * 3);
    expect(result.deleted.checkpoints).toBe(purged.length);
    expect(result.keptForChildren).toBeGreaterThanOrEqual(3);
    const after = await store.dump();
    const runs = after.workflow_runs!.join('\n');
    for (const id of kept) expect(runs, `${id} kept`).toContain(id);
    for (const id of purged) expect(runs, `${id} purged`).not.toContain(id);
  } finally {
    await store.destroy();
  }
}

/**
 * Two sweeps of one store at once. Started together with a long lock wait, the sweep lock serialises
 * them: one deletes everything a single sweep would, the other waits and finds nothing left. Against
 * a lock held elsewhere (`holdLock`, the key/name the backend documents), a sweep with a short wait
 * gives up with a clear message and deletes nothing. Neither depends on how fast the machine is.
 */
export async function checkConcurrentSweeps(fixture: StoreFixture, holdLock: (storage: Record<string, unknown>) => Promise<() => Promise<void>>): Promise<void> {
  const now = new Date();
  const data = fixture.adapt(generateDataset({ seed: 77, runs: 1500, now, spanDays: 60, eventsPerRun: 4 }));
  const deleted = (stdout: string): Record<string, number> => (JSON.parse(stdout) as { deleted: Record<string, number> }).deleted;
  const reference = await fixture.create(data);
  let single: Record<string, number>;
  try {
    const r = await runCli(sweepArgs(reference.storageConfig, ['--batch-size', '20']));
    expect(r.code, r.stderr).toBe(0);
    single = deleted(r.stdout);
    expect(single.runs).toBeGreaterThan(100);
  } finally {
    await reference.destroy();
  }

  const store = await fixture.create(data);
  try {
    const before = await store.dump();
    const release = await holdLock(store.storageConfig);
    try {
      const waiting = await runCli(sweepArgs(store.storageConfig, ['--lock-wait', '1']));
      expect(waiting.code).toBe(1);
      expect(waiting.stderr).toMatch(/another retention sweep is running against .* \(waited 1 s for its lock\); nothing was deleted by this run/);
      expect(JSON.parse(waiting.stdout)).toMatchObject({ outcome: 'failed', error: { code: 'SWEEP_LOCKED' } });
    } finally {
      await release();
    }
    expect(await store.dump()).toEqual(before);

    const a = startCli(sweepArgs(store.storageConfig, ['--batch-size', '20', '--lock-wait', '300']));
    const b = startCli(sweepArgs(store.storageConfig, ['--batch-size', '20', '--lock-wait', '300']));
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const [da, db] = [deleted(ra.stdout), deleted(rb.stdout)];
    expect([da.runs ?? 0, db.runs ?? 0].sort((x, y) => x - y)).toEqual([0, single.runs]);
    expect(Object.fromEntries(Object.keys(single).map((k) => [k, (da[k] ?? 0) + (db[k] ?? 0)]))).toEqual(single);
  } finally {
    await store.destroy();
  }
}

/** A failed connection: exit 1, the message names host and database, the password appears nowhere. */
export async function checkConnectionFailure(storage: Record<string, unknown>, secret: string, mustName: RegExp[], terminationLog: string): Promise<void> {
  const r = await runCli([...sweepArgs(storage), '--termination-log', terminationLog]);
  expect(r.code).toBe(1);
  for (const re of mustName) expect(r.stderr).toMatch(re);
  const everything = r.stdout + r.stderr + readIfExists(terminationLog);
  expect(everything).not.toContain(secret);
  expect(everything).not.toContain(encodeURIComponent(secret));
  expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'failed', error: { code: 'CONNECTION_FAILED' } });
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/**
 * A sweep (the real CLI, default batch size) while pyworkflow-shaped writers keep writing: the sweep
 * succeeds, no write fails, everything written survives, an old run touched before the sweep reached
 * it survives whole, and no per-run row is left without its run.
 */
export async function checkLiveWriter(fixture: StoreFixture, kind: WriterStore['kind']): Promise<{ writes: number; p99: number; touched: number; missed: number }> {
  const now = new Date();
  const cutoff = new Date(now.getTime() - 20 * DAY);
  const data = fixture.adapt(generateDataset({ seed: 99, runs: 6000, now, spanDays: 60, eventsPerRun: 5, extras: false }));
  const store = await fixture.create(data);
  try {
    const database = String(store.storageConfig.database);
    const writer = startWriter({ kind, database }, data, cutoff, { loops: 4 });
    await new Promise((r) => setTimeout(r, 300));
    const sweep = startCli(['sweep', '--storage', JSON.stringify(store.storageConfig), '--older-than', cutoff.toISOString(), '--output', 'json', '--progress', 'none', '--batch-size', '100']);
    const result = await sweep.done;
    const log = await writer.stop();
    expect(result.code, result.stderr).toBe(0);
    expect(log.errors, 'writer errors').toEqual([]);
    expect(log.createdRuns.length).toBeGreaterThan(10);
    const conn = await connect({ kind, database });
    try {
      const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await conn.rows(sql, params))[0]!.n);
      const originalEvents = new Map<string, number>();
      for (const e of data.events) originalEvents.set(e.run_id, (originalEvents.get(e.run_id) ?? 0) + 1);
      expect(await count(`SELECT COUNT(*) AS n FROM workflow_runs WHERE run_id IN (${log.createdRuns.map(() => '?').join(',')})`, log.createdRuns)).toBe(log.createdRuns.length);
      expect(await count(`SELECT COUNT(*) AS n FROM events WHERE event_id LIKE 'evt!_live!_%' ESCAPE '!'`)).toBe(
        log.createdRuns.length * 3 + [...log.addedEvents.values()].reduce((a, b) => a + b, 0),
      );
      for (const runId of new Set(log.touchedOld)) {
        expect(await count('SELECT COUNT(*) AS n FROM workflow_runs WHERE run_id = ?', [runId]), `touched old run ${runId} survives`).toBe(1);
        expect(await count('SELECT COUNT(*) AS n FROM events WHERE run_id = ?', [runId]), `touched old run ${runId} keeps its events`).toBe(originalEvents.get(runId) ?? 0);
      }
      for (const t of ['events', 'steps', 'hooks', 'cancellation_flags']) {
        expect(await count(`SELECT COUNT(*) AS n FROM ${t} x WHERE NOT EXISTS (SELECT 1 FROM workflow_runs r WHERE r.run_id = x.run_id)`), `orphan ${t}`).toBe(0);
      }
      // Exactly the runs the product rules purge, given that the touched old runs stopped being stale.
      const touched = new Set(log.touchedOld);
      const touchedData = { ...data, runs: data.runs.map((r) => (touched.has(r.run_id) ? { ...r, updated_at: new Date() } : r)) };
      const expected = expectedAfterSweep(touchedData, { cutoff, statuses: [...TERMINAL_STATUSES], housekeeping: false }).deletedRunIds;
      const present = new Set((await conn.rows('SELECT run_id FROM workflow_runs', [])).map((r) => String(r.run_id)));
      const gone = data.runs.map((r) => r.run_id).filter((id) => !present.has(id));
      expect(new Set(gone)).toEqual(expected);
    } finally {
      await conn.close();
    }
    return { writes: log.latenciesMs.length, p99: percentile(log.latenciesMs, 99), touched: log.touchedOld.length, missed: log.missedOld.length };
  } finally {
    await store.destroy();
  }
}
