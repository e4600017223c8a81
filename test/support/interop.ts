// The interop scenario shared by every backend: real pyworkflow writes runs in every status and
// age (events, steps, hooks, cancellation flags, checkpoints, parents and children, a
// continue-as-new chain, schedules, streams), our CLI sweeps, and pyworkflow reads everything back.

import { expect } from 'vitest';
import { runCli } from './cli.js';
import { pyworkflow, type Inspection, type Manifest } from './pyworkflow.js';

const DAY = 86_400_000;
export const STATUSES = ['pending', 'running', 'suspended', 'completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'];
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted']);

export interface RunFacts {
  run_id: string;
  status: string;
  updated_at: string;
  parent_run_id: string | null;
}

export interface InteropOptions {
  storage: Record<string, unknown>;
  /** Python of the pyworkflow release that writes and reads (defaults to the newest). */
  python?: string;
  streams?: boolean;
  scheduledSignals?: boolean;
}

export function interopSpec(now: Date, options: { streams: boolean; scheduledSignals: boolean }): Record<string, unknown> {
  const iso = (daysAgo: number): string => new Date(now.getTime() - daysAgo * DAY).toISOString();
  const runs: Record<string, unknown>[] = [];
  let n = 0;
  const id = (): string => `run_${(0xabc0000000000000n + BigInt(++n)).toString(16)}`;
  for (const status of STATUSES) {
    for (const age of [60, 5]) {
      // A 'full' lifecycle walks pending -> running -> final; a run that is still pending is created as such.
      const lifecycle = status === 'pending' ? 'direct' : 'full';
      runs.push({ run_id: id(), status, lifecycle, updated_at: iso(age), created_at: iso(age + 1), hooks: 2, cancel: n % 3 === 0, checkpoints: 2, steps: 1 });
    }
  }
  // Old parent with a young running child: both kept. Old parent with old finished child: both purged.
  const keptParent = id();
  const purgedParent = id();
  runs.push({ run_id: keptParent, status: 'completed', updated_at: iso(90), created_at: iso(91), hooks: 1 });
  runs.push({ run_id: id(), status: 'running', updated_at: iso(1), created_at: iso(2), parent_run_id: keptParent });
  runs.push({ run_id: purgedParent, status: 'failed', updated_at: iso(80), created_at: iso(81) });
  runs.push({ run_id: id(), status: 'completed', updated_at: iso(79), created_at: iso(80), parent_run_id: purgedParent, hooks: 1, checkpoints: 1 });
  // Grandparent chain where only the leaf is young: all three kept.
  const g = id();
  const p = id();
  runs.push({ run_id: g, status: 'completed', updated_at: iso(70), created_at: iso(71) });
  runs.push({ run_id: p, status: 'completed', updated_at: iso(69), created_at: iso(70), parent_run_id: g });
  runs.push({ run_id: id(), status: 'completed', updated_at: iso(3), created_at: iso(4), parent_run_id: p });
  // Continue-as-new: the old link goes, the newest stays (per-run semantics, H18).
  const oldLink = id();
  runs.push({ run_id: oldLink, status: 'continued_as_new', updated_at: iso(40), created_at: iso(41) });
  runs.push({ run_id: id(), status: 'running', updated_at: iso(2), created_at: iso(40), continued_from_run_id: oldLink });

  const spec: Record<string, unknown> = {
    runs,
    schedules: [
      { schedule_id: 'sched_old_deleted', status: 'deleted', updated_at: iso(50), created_at: iso(60) },
      { schedule_id: 'sched_new_deleted', status: 'deleted', updated_at: iso(2), created_at: iso(60) },
      { schedule_id: 'sched_old_active', status: 'active', updated_at: iso(50), created_at: iso(60) },
    ],
  };
  if (options.streams) {
    spec.streams = [
      {
        stream_id: 'orders',
        stream_run_id: 'run_ffff000000000001',
        signals: [
          { signal_type: 'order.created', payload: { n: 0 }, published_at: iso(60) },
          { signal_type: 'order.created', payload: { n: 1 }, published_at: iso(50) },
          { signal_type: 'order.created', payload: { n: 2 }, published_at: iso(45) },
          { signal_type: 'order.created', payload: { n: 3 }, published_at: iso(1) },
        ],
        subscriptions: [
          { step_run_id: 'stream_step_consume_aaaaaaaaaaaa', signal_types: ['order.created'], status: 'terminated', created_at: iso(60), acks: [{ signal: 0, acknowledged_at: iso(59) }, { signal: 3, acknowledged_at: iso(1) }] },
          { step_run_id: 'stream_step_consume_bbbbbbbbbbbb', signal_types: ['order.created'], status: 'waiting', created_at: iso(60), acks: [{ signal: 1, acknowledged_at: iso(49) }] },
        ],
        ...(options.scheduledSignals
          ? { scheduled_signals: [{ signal_type: 'reminder', payload: {}, due_at: iso(40), delivered: true, created_at: iso(41) }, { signal_type: 'reminder', payload: {}, due_at: iso(-1), delivered: false, created_at: iso(1) }] }
          : {}),
      },
      {
        // A stream whose only signal is old: it is the newest of its stream run, so it stays (H11).
        stream_id: 'quiet',
        stream_run_id: 'run_ffff000000000002',
        signals: [{ signal_type: 'ping', payload: {}, published_at: iso(100) }],
      },
    ];
  }
  return spec;
}

/** Expected purge per the product rules, from what pyworkflow itself reads back before the sweep. */
export function expectedPurged(runs: RunFacts[], cutoff: number): Set<string> {
  const kids = new Map<string, string[]>();
  for (const r of runs) if (r.parent_run_id) kids.set(r.parent_run_id, [...(kids.get(r.parent_run_id) ?? []), r.run_id]);
  const doomed = new Set(runs.filter((r) => TERMINAL.has(r.status) && Date.parse(r.updated_at) < cutoff).map((r) => r.run_id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const id of [...doomed]) if ((kids.get(id) ?? []).some((k) => !doomed.has(k))) { doomed.delete(id); changed = true; }
  }
  return doomed;
}

export async function runInteropScenario(o: InteropOptions): Promise<void> {
  const now = new Date();
  const python = o.python;
  const manifest = await pyworkflow<Manifest>('populate', o.storage, ['--spec', '-'], interopSpec(now, { streams: o.streams ?? true, scheduledSignals: o.scheduledSignals ?? false }), python);
  const ids = manifest.runs.map((r) => r.run_id).join(',');
  const before = await pyworkflow<Inspection>('inspect', o.storage, ['--run-ids', ids, '--manifest', '-'], manifest, python);
  for (const r of manifest.runs) expect(before.runs[r.run_id]?.exists, r.run_id).toBe(true);
  // The truth is what pyworkflow reads back, not what was asked for.
  const facts: RunFacts[] = manifest.runs.map((r) => {
    const seen = before.runs[r.run_id]!;
    return { run_id: r.run_id, status: seen.status!, updated_at: seen.updated_at!, parent_run_id: seen.parent_run_id ?? null };
  });
  expect(new Set(facts.map((f) => f.status)).size, 'every status present').toBe(STATUSES.length);

  const dry = await runCli(['sweep', '--storage', JSON.stringify(o.storage), '--retention-days', '30', '--dry-run', '--output', 'json']);
  expect(dry.code, dry.stderr).toBe(0);
  const sweep = await runCli(['sweep', '--storage', JSON.stringify(o.storage), '--retention-days', '30', '--output', 'json']);
  expect(sweep.code, sweep.stderr).toBe(0);
  const result = JSON.parse(sweep.stdout) as { deleted: Record<string, number>; cutoff: string };
  expect(result.deleted).toEqual((JSON.parse(dry.stdout) as { deleted: unknown }).deleted);

  const purged = expectedPurged(facts, Date.parse(result.cutoff));
  expect(purged.size).toBeGreaterThan(5);
  const after = await pyworkflow<Inspection>('inspect', o.storage, ['--run-ids', ids, '--manifest', '-'], manifest, python);
  let events = 0;
  for (const r of facts) {
    const seen = after.runs[r.run_id]!;
    const was = before.runs[r.run_id]!;
    if (purged.has(r.run_id)) {
      events += was.events;
      expect(seen.exists, `${r.run_id} (${r.status}, ${r.updated_at}) should be purged`).toBe(false);
      expect(seen.events, r.run_id).toBe(0);
      expect(seen.hooks, r.run_id).toBe(0);
      expect(Object.values(seen.hook_tokens).filter(Boolean), `${r.run_id} hook tokens`).toEqual([]);
      expect(seen.cancel_flag, `${r.run_id} cancellation flag`).toBe(false);
      expect(Object.values(seen.checkpoints).filter(Boolean), `${r.run_id} checkpoints`).toEqual([]);
    } else {
      expect(seen, `${r.run_id} (${r.status}, ${r.updated_at}) should be kept intact`).toEqual(was);
    }
  }
  expect(result.deleted.runs).toBe(purged.size);
  expect(result.deleted.events).toBe(events);

  // list_runs by status shows no ghost of a purged run, and every kept run.
  for (const status of STATUSES) {
    const listed = (await pyworkflow<{ runs: { run_id: string }[] }>('list-runs', o.storage, ['--status', status], undefined, python)).runs.map((r) => r.run_id);
    const want = facts.filter((r) => r.status === status && !purged.has(r.run_id)).map((r) => r.run_id).sort();
    expect(listed.filter((id) => facts.some((r) => r.run_id === id)).sort(), `list_runs(${status})`).toEqual(want);
  }
  // Soft-deleted schedules: the old one goes, the recent one and the active one stay.
  expect(after.schedules.sched_old_deleted ?? null).toBeNull();
  expect(after.schedules.sched_new_deleted).not.toBeNull();
  expect(after.schedules.sched_old_active).not.toBeNull();
  if (o.streams ?? true) {
    // orders: signals 0..2 are old but only 0..2 are not the newest (3 is young anyway) -> 3 go;
    // quiet: its single old signal is the newest of its stream run -> stays.
    expect(after.streams.orders?.signals).toBe(1);
    expect(after.streams.quiet?.signals).toBe(1);
  }
}
