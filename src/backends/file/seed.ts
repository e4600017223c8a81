// Writes a neutral Dataset as pyworkflow's FileStorageBackend (pyworkflow-engine 0.4.0, same code as
// 0.3.6) lays it out: the to_dict() key order, json.dumps shapes, 1-based event sequences, hook file
// names, the token index and the lock files its writers leave behind. Used by the demo, the benchmarks
// and the tests.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, HookRecord, RunRecord } from '../../model/dataset.js';
import { formatPythonUtc } from '../python-time.js';
import { FilePaths, TOKEN_INDEX_FILE } from './layout.js';
import {
  cancelLock, checkpointLock, eventsLock, runLock, scheduleLock, signalsLock, subscriptionLock, TOKEN_INDEX_LOCK,
} from './locks.js';
import { pythonJsonDumps } from './python-json.js';

/** Which pyworkflow generation created the store (docs/storage.md#detection-other): it decides which directories exist. */
export type FileGeneration = 'legacy' | 'v0.2.0b1' | 'v0.2.4';

export interface FileSeedOptions {
  generation?: FileGeneration;
  /** Hooks written in the ≤ v0.1.13 layout: `hooks/{hook_id}.json`, token index value = hook_id. */
  legacyHook?: (hook: HookRecord) => boolean;
  /** Leave the lock files pyworkflow's writers would have created (default true). */
  lockFiles?: boolean;
}

/** Postgres spells "no stream run" `__none__`; pyworkflow's file store keeps Python's None. */
export const NO_STREAM_RUN = '__none__';

const ts = (d: Date | null): string | null => (d === null ? null : formatPythonUtc(d));
/** `datetime.utcnow().isoformat()`: naive, as the file store's update_step_status writes it. */
const naiveUtc = (d: Date): string => formatPythonUtc(d).replace('+00:00', '');

export function seedFileStore(base: string, d: Dataset, options: FileSeedOptions = {}): void {
  const generation = options.generation ?? 'v0.2.4';
  const legacyHook = options.legacyHook ?? (() => false);
  const p = new FilePaths(base);
  const dirs = [p.runs, p.events, p.steps, p.hooks, p.schedules, p.locks];
  if (generation !== 'legacy') dirs.push(p.checkpoints);
  if (generation === 'v0.2.4') dirs.push(p.streams, p.signals, p.subscriptions, p.acknowledgments);
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  const locks = new Set<string>();
  const write = (path: string, text: string, lock?: string): void => {
    writeFileSync(path, text);
    if (lock !== undefined) locks.add(lock);
  };
  const needs = (what: string, present: boolean, count: number): void => {
    if (!present && count > 0) throw new Error(`a ${generation} file store has no ${what}; adapt the dataset first`);
  };
  needs('checkpoints', generation !== 'legacy', d.checkpoints.length);
  needs('streams', generation === 'v0.2.4', d.streams.length + d.signals.length + d.subscriptions.length + d.acknowledgments.length);
  if (d.scheduledSignals.length > 0) throw new Error('the file store has no scheduled signals (postgres/citus only); adapt the dataset first');

  for (const r of d.runs) write(p.runFile(r.run_id), pythonJsonDumps(runDict(r), 2), runLock(r.run_id));
  for (const f of d.cancellationFlags) write(p.cancelFile(f.run_id), formatPythonUtc(f.created_at), cancelLock(f.run_id));

  const eventsByRun = new Map<string, string[]>();
  for (const e of [...d.events].sort((a, b) => a.sequence - b.sequence)) {
    const line = pythonJsonDumps({
      event_id: e.event_id, run_id: e.run_id, type: e.type, sequence: e.sequence + 1, timestamp: formatPythonUtc(e.timestamp), data: e.data,
    });
    const lines = eventsByRun.get(e.run_id);
    if (lines) lines.push(line);
    else eventsByRun.set(e.run_id, [line]);
  }
  for (const [runId, lines] of eventsByRun) write(p.eventsFile(runId), lines.map((l) => l + '\n').join(''), eventsLock(runId));

  for (const s of d.steps) {
    const done = s.status === 'completed';
    write(join(p.steps, `${s.step_id}.json`), pythonJsonDumps({
      step_id: s.step_id, run_id: s.run_id, step_name: s.step_name, status: s.status, attempt: 1, max_retries: 3,
      created_at: formatPythonUtc(s.created_at), updated_at: done ? naiveUtc(s.created_at) : formatPythonUtc(s.created_at),
      started_at: null, completed_at: done ? naiveUtc(s.created_at) : null, input_args: '{}', input_kwargs: '{}',
      result: null, error: null, retry_after: null, retry_delay: null,
    }, 2));
  }

  const tokens: Record<string, string> = {};
  for (const h of d.hooks) {
    const legacy = legacyHook(h);
    write(join(p.hooks, legacy ? `${h.hook_id}.json` : `${h.run_id}__${h.hook_id}.json`), pythonJsonDumps({
      hook_id: h.hook_id, run_id: h.run_id, url: '', token: h.token, status: h.status, created_at: formatPythonUtc(h.created_at),
      received_at: h.status === 'received' ? formatPythonUtc(h.created_at) : null, expires_at: null, payload: null,
      name: null, payload_schema: null, metadata: {},
    }, 2), TOKEN_INDEX_LOCK);
    tokens[h.token] = legacy ? h.hook_id : `${h.run_id}:${h.hook_id}`;
  }
  if (d.hooks.length > 0) write(join(base, TOKEN_INDEX_FILE), pythonJsonDumps(tokens, 2));

  for (const c of d.checkpoints) write(join(p.checkpoints, `${c.step_run_id}.json`), pythonJsonDumps(c.data, 2), checkpointLock(c.step_run_id));

  for (const s of d.schedules) {
    // File schedules have no deleted_at (docs/storage.md H10): soft deletion shows only in status/updated_at.
    write(join(p.schedules, `${s.schedule_id}.json`), pythonJsonDumps({
      schedule_id: s.schedule_id, workflow_name: s.workflow_name,
      spec: { cron: '0 * * * *', interval: null, calendar: null, timezone: 'UTC', start_at: null, end_at: null, jitter: null },
      status: s.status, args: '[]', kwargs: '{}', overlap_policy: 'skip', created_at: formatPythonUtc(s.created_at),
      updated_at: formatPythonUtc(s.updated_at), last_run_at: null, next_run_time: null, last_run_id: s.last_run_id,
      running_run_ids: s.running_run_ids, buffered_count: 0, total_runs: 0, successful_runs: 0, failed_runs: 0, skipped_runs: 0,
    }, 2), scheduleLock(s.schedule_id));
  }

  for (const s of d.streams) {
    write(join(p.streams, `${s.stream_id}.json`), pythonJsonDumps({ stream_id: s.stream_id, status: s.status, created_at: formatPythonUtc(s.created_at), metadata: {} }, 2), `stream_${s.stream_id}.lock`);
  }
  const signalsByStream = new Map<string, unknown[]>();
  for (const s of d.signals) {
    const list = signalsByStream.get(s.stream_id) ?? [];
    list.push({
      signal_id: s.signal_id, stream_id: s.stream_id, signal_type: s.signal_type, payload: s.payload,
      published_at: formatPythonUtc(s.published_at), sequence: s.sequence, source_run_id: s.source_run_id,
      stream_run_id: s.stream_run_id === NO_STREAM_RUN ? null : s.stream_run_id, metadata: {},
    });
    signalsByStream.set(s.stream_id, list);
  }
  for (const [streamId, list] of signalsByStream) write(join(p.signals, `${streamId}.json`), pythonJsonDumps(list, 2), signalsLock(streamId));
  for (const s of d.subscriptions) {
    write(join(p.subscriptions, `${s.stream_id}__${s.step_run_id}.json`), pythonJsonDumps({
      stream_id: s.stream_id, step_run_id: s.step_run_id, signal_types: ['order.created', 'order.paid'], status: s.status,
      created_at: formatPythonUtc(s.created_at),
    }, 2), subscriptionLock(s.stream_id, s.step_run_id));
  }
  for (const a of d.acknowledgments) {
    write(join(p.acknowledgments, `${a.signal_id}__${a.step_run_id}.json`), pythonJsonDumps({
      signal_id: a.signal_id, step_run_id: a.step_run_id, acknowledged_at: formatPythonUtc(a.acknowledged_at),
    }, 2));
  }

  if (options.lockFiles !== false) for (const name of locks) writeFileSync(p.lock(name), '');
}

/** `WorkflowRun.to_dict()` in its key order. */
function runDict(r: RunRecord): Record<string, unknown> {
  return {
    run_id: r.run_id, workflow_name: r.workflow_name, status: r.status, created_at: ts(r.created_at), updated_at: ts(r.updated_at),
    started_at: ts(r.started_at), completed_at: ts(r.completed_at), input_args: r.input_args, input_kwargs: r.input_kwargs,
    result: r.result, error: r.error, idempotency_key: r.idempotency_key, max_duration: null, context: JSON.parse(r.context) as unknown,
    recovery_attempts: 0, max_recovery_attempts: 3, recover_on_worker_loss: true, parent_run_id: r.parent_run_id,
    nesting_depth: r.nesting_depth, continued_from_run_id: r.continued_from_run_id, continued_to_run_id: r.continued_to_run_id,
  };
}
