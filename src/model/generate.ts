// Deterministic generator of realistic pyworkflow data (seeded): every status and age, events,
// steps, checkpoints, hooks, cancellation flags, parent/child runs, continue-as-new chains,
// schedules and stream data. Used by the demo, the benchmarks and the property tests.

import {
  emptyDataset, type Dataset, type EventRecord, type RunRecord,
} from './dataset.js';

export interface GenerateOptions {
  seed: number;
  runs: number;
  /** "now" of the generated store; ages are relative to it. */
  now: Date;
  /** Runs get updated_at spread over this many days before now. */
  spanDays: number;
  /** Average events per run (each run gets 1..2*avg-1). */
  eventsPerRun: number;
  /** Instants that get extra runs exactly on, and one millisecond either side of, them (cutoff edges). */
  edges?: Date[];
  /** Share of runs in a terminal status (the rest are pending/running/suspended). */
  terminalShare?: number;
  /** Generate schedules and stream data too. */
  extras?: boolean;
  /** Share of runs that are children of an earlier run (default 0.15). */
  childShare?: number;
}

const TERMINAL = ['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'] as const;
const ACTIVE = ['pending', 'running', 'suspended'] as const;
const DAY = 86_400_000;

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateDataset(o: GenerateOptions): Dataset {
  const rnd = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const chance = (p: number): boolean => rnd() < p;
  const d = emptyDataset();
  const now = o.now.getTime();
  const terminalShare = o.terminalShare ?? 0.85;
  const usedIds = new Set<string>();
  const newRunId = (): string => {
    for (;;) {
      const id = chance(0.1) ? `sched_${hex(8)}_${hex(8)}` : `run_${hex(16)}`;
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };
  const edges = o.edges ?? [];
  const workflows = ['order_fulfilment', 'invoice_sync', 'user_onboarding', 'report_export', 'payment_retry'];

  const makeRun = (i: number, parent: RunRecord | null): RunRecord => {
    let updated: number;
    const edge = edges.length > 0 && i % 97 === 0 ? edges[(i / 97) % edges.length] : undefined;
    if (edge) updated = edge.getTime() + pick([-1, 0, 1]);
    else updated = now - Math.floor(rnd() * o.spanDays * DAY);
    const created = updated - Math.floor(rnd() * 3 * DAY);
    const status = chance(terminalShare) ? pick(TERMINAL) : pick(ACTIVE);
    const run_id = newRunId();
    return {
      run_id,
      workflow_name: parent ? `${parent.workflow_name}_child` : pick(workflows),
      status,
      created_at: new Date(created),
      updated_at: new Date(updated),
      started_at: new Date(created + 5),
      completed_at: status === 'completed' ? new Date(updated) : null,
      idempotency_key: chance(0.2) ? `idem-${hex(12)}` : null,
      parent_run_id: parent?.run_id ?? null,
      nesting_depth: parent ? parent.nesting_depth + 1 : 0,
      continued_from_run_id: null,
      continued_to_run_id: null,
      input_args: JSON.stringify([i]),
      input_kwargs: JSON.stringify({ customer: `c-${hex(6)}` }),
      result: status === 'completed' ? JSON.stringify({ ok: true, n: i }) : null,
      error: status === 'failed' ? 'RuntimeError: upstream timed out' : null,
      context: '{}',
    };
  };

  for (let i = 0; i < o.runs; i++) {
    const parents = d.runs.slice(-50).filter((r) => r.nesting_depth < 3);
    const parent = parents.length > 0 && chance(o.childShare ?? 0.15) ? pick(parents) : null;
    const run = makeRun(i, parent);
    // Continue-as-new: an old run of the same workflow handed over to this one.
    if (!parent && chance(0.05) && d.runs.length > 0) {
      const prev = d.runs[d.runs.length - 1]!;
      if (prev.continued_to_run_id === null && prev.parent_run_id === null) {
        prev.status = 'continued_as_new';
        prev.continued_to_run_id = run.run_id;
        run.continued_from_run_id = prev.run_id;
        run.workflow_name = prev.workflow_name;
      }
    }
    d.runs.push(run);
    addRunData(d, run, o.eventsPerRun, rnd, hex, chance);
  }

  if (o.extras !== false) addExtras(d, o, rnd, hex, chance, pick);
  return d;
}

function addRunData(
  d: Dataset, run: RunRecord, avgEvents: number, rnd: () => number, hex: (n: number) => string, chance: (p: number) => boolean,
): void {
  const n = Math.max(1, Math.round(1 + rnd() * (2 * avgEvents - 2)));
  const span = Math.max(1, run.updated_at.getTime() - run.created_at.getTime());
  const stepIds: string[] = [];
  for (let seq = 0; seq < n; seq++) {
    const isStep = seq > 0 && seq < n - 1;
    const stepId = isStep ? `step_fetch_${hex(16)}` : null;
    if (stepId) stepIds.push(stepId);
    const type = seq === 0 ? 'workflow.started' : seq === n - 1 ? terminalEvent(run.status) : 'step.completed';
    const ev: EventRecord = {
      event_id: `evt_${hex(16)}`,
      run_id: run.run_id,
      sequence: seq,
      type,
      timestamp: new Date(run.created_at.getTime() + Math.floor((span * seq) / n)),
      data: stepId ? { step_id: stepId, result: { rows: seq } } : { workflow_name: run.workflow_name },
      step_id: stepId,
    };
    d.events.push(ev);
  }
  if (chance(0.1)) {
    d.steps.push({ step_id: `step_legacy_${hex(16)}`, run_id: run.run_id, step_name: 'legacy', status: 'completed', created_at: run.created_at });
  }
  if (chance(0.25)) {
    const hooks = chance(0.5) ? 2 : 1;
    for (let h = 1; h <= hooks; h++) {
      // hook ids repeat across runs (unique only within one run), as pyworkflow's counters do
      const hook_id = h === 1 ? 'hook_approval_1' : `step_hook_callback_${h}`;
      d.hooks.push({ run_id: run.run_id, hook_id, token: `${run.run_id}:${hook_id}`, status: pick2(rnd, ['pending', 'received', 'expired', 'disposed']), created_at: run.created_at });
    }
  }
  if (chance(0.1)) d.cancellationFlags.push({ run_id: run.run_id, created_at: run.updated_at });
  for (const stepId of stepIds) {
    if (chance(0.4)) {
      d.checkpoints.push({ step_run_id: `${run.run_id}:${stepId}`, data: { cursor: hex(8) }, created_at: run.created_at, updated_at: run.updated_at });
    }
  }
  // A checkpoint whose key differs from this run's prefix only where a LIKE pattern would see a
  // wildcard ('_'): it belongs to nobody and must survive any purge of this run.
  if (chance(0.03)) {
    d.checkpoints.push({ step_run_id: `${run.run_id.replace('_', 'X')}:step_x_${hex(4)}`, data: {}, created_at: run.created_at, updated_at: run.updated_at });
  }
}

function addExtras(
  d: Dataset, o: GenerateOptions, rnd: () => number, hex: (n: number) => string, chance: (p: number) => boolean,
  pick: <T>(xs: readonly T[]) => T,
): void {
  const now = o.now.getTime();
  const age = (): Date => new Date(now - Math.floor(rnd() * o.spanDays * DAY));
  const nSchedules = Math.max(2, Math.round(o.runs / 50));
  for (let i = 0; i < nSchedules; i++) {
    const status = pick(['active', 'paused', 'deleted', 'deleted']);
    const updated = age();
    d.schedules.push({
      schedule_id: `sched_${hex(12)}`,
      workflow_name: 'report_export',
      status,
      created_at: new Date(updated.getTime() - DAY),
      updated_at: updated,
      deleted_at: status === 'deleted' && chance(0.6) ? updated : null,
      running_run_ids: d.runs.length > 0 && chance(0.3) ? [pick(d.runs).run_id] : [],
      last_run_id: d.runs.length > 0 && chance(0.5) ? pick(d.runs).run_id : null,
    });
  }
  const nStreams = Math.max(1, Math.round(o.runs / 200));
  for (let s = 0; s < nStreams; s++) {
    const stream_id = `stream_${hex(6)}`;
    d.streams.push({ stream_id, status: 'active', created_at: age() });
    const runs = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < runs; r++) {
      const stream_run_id = r === 0 && chance(0.3) ? '__none__' : `run_${hex(16)}`;
      if (d.signals.some((x) => x.stream_id === stream_id && x.stream_run_id === stream_run_id)) continue;
      const count = 1 + Math.floor(rnd() * 5);
      for (let q = 0; q < count; q++) {
        const signal_id = `sig_${hex(16)}`;
        const published_at = age();
        d.signals.push({
          stream_id, stream_run_id, sequence: q, signal_id, signal_type: pick(['order.created', 'order.paid']),
          payload: { n: q }, published_at, source_run_id: d.runs.length > 0 && chance(0.5) ? pick(d.runs).run_id : null,
        });
        if (chance(0.6)) {
          d.acknowledgments.push({ signal_id, step_run_id: `stream_step_consume_${hex(12)}`, acknowledged_at: chance(0.8) ? new Date(published_at.getTime() + 1000) : age() });
        }
      }
    }
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      d.subscriptions.push({ stream_id, step_run_id: `stream_step_consume_${hex(12)}`, status: pick(['waiting', 'running', 'suspended', 'terminated', 'completed']), created_at: age() });
    }
    if (chance(0.7)) {
      const created = age();
      d.scheduledSignals.push({ id: `sched_${hex(16)}`, stream_id, signal_type: 'reminder', due_at: new Date(created.getTime() + 3600_000), delivered: chance(0.6), created_at: created });
    }
  }
  // Acknowledgments whose signal is already gone (a purge killed between the two, or pyworkflow's own).
  if (chance(0.5)) d.acknowledgments.push({ signal_id: `sig_${hex(16)}`, step_run_id: `stream_step_consume_${hex(12)}`, acknowledged_at: age() });
}

function terminalEvent(status: string): string {
  switch (status) {
    case 'completed': return 'workflow.completed';
    case 'failed': return 'workflow.failed';
    case 'cancelled': return 'workflow.cancelled';
    case 'continued_as_new': return 'workflow.continued_as_new';
    default: return 'step.started';
  }
}

function pick2<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}
