// The contract between the controller and a run pod, in one place: the `sweep` flags the controller
// puts in the CronJob (built and parsed back here), the run's deadline headroom, and the termination
// message the run leaves for the controller (written and read back here, validated with RESULT_SCHEMA).
// src/cli and src/reconcilers both import this module; neither re-implements any part of it.

import { parseArgs } from 'node:util';
import AjvModule from 'ajv';
import { RESULT_SCHEMA, type SweepReport } from './report.js';

/** Kubernetes keeps at most this many bytes of a container's termination message. */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;
/** RESULT_SCHEMA's bound on error.message (characters, as ajv counts them: code points). */
export const ERROR_MESSAGE_MAX_CHARS = 2048;
/** RESULT_SCHEMA's bound on the short strings of a result (backend, cutoff, times, version). */
const SHORT_STRING_MAX_CHARS = 64;
/** Run pods get this long between SIGTERM and SIGKILL (set explicitly on the pod, not left to the default). */
export const TERMINATION_GRACE_SECONDS = 30;
/** Where the run writes its JSON result in the pod; the kubelet turns it into the termination message. */
export const TERMINATION_LOG = '/dev/termination-log';

/** What the controller asks of one run; everything a run pod's flags say. */
export interface RunRequest {
  /** The pyworkflow storage config (secrets only as ${ENV} placeholders). */
  storage: Record<string, unknown>;
  retentionDays: number;
  /** Absent: the sweep sizes its batches itself (the CLI's default). */
  batchSize?: number;
  statuses: string[];
  dryRun: boolean;
  housekeeping: boolean;
  orphans: boolean;
  /** The run stops itself between batches after this long (see maxDurationSeconds). */
  maxDurationSeconds: number;
  /** How long the run waits for another sweep of the same store to release its lock. */
  lockWaitSeconds: number;
}

/**
 * The flags of the contract, as node's parseArgs option table: the CLI parses its command line with
 * these (plus its interactive-only flags), and readSweepArgs parses a Job's args with the same table.
 */
export const RUN_FLAG_OPTIONS = {
  storage: { type: 'string' },
  'retention-days': { type: 'string' },
  'batch-size': { type: 'string' },
  statuses: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'no-housekeeping': { type: 'boolean' },
  orphans: { type: 'boolean' },
  'lock-wait': { type: 'string' },
  'max-duration': { type: 'string' },
  output: { type: 'string' },
  'termination-log': { type: 'string' },
  progress: { type: 'string' },
  'log-format': { type: 'string' },
} as const;

/** The args of the run container (after the `node main.js` command). */
export function buildSweepArgs(r: RunRequest): string[] {
  return [
    'sweep',
    '--storage', JSON.stringify(r.storage),
    '--retention-days', String(r.retentionDays),
    ...(r.batchSize === undefined ? [] : ['--batch-size', String(r.batchSize)]),
    '--statuses', r.statuses.join(','),
    ...(r.dryRun ? ['--dry-run'] : []),
    ...(r.housekeeping ? [] : ['--no-housekeeping']),
    ...(r.orphans ? ['--orphans'] : []),
    '--lock-wait', String(r.lockWaitSeconds),
    '--max-duration', String(r.maxDurationSeconds),
    // Fixed for every run pod: machine-readable output, the result where the kubelet reads it.
    '--output', 'json',
    '--termination-log', TERMINATION_LOG,
    '--progress', 'log',
    '--log-format', 'json',
  ];
}

/**
 * A run container's args read back (the controller reads what a Job was asked to do, e.g. whether it
 * was a dry run, when the run left no result). Undefined when they are not a sweep built by
 * buildSweepArgs (a hand-made Job, or a run image of another version).
 */
export function readSweepArgs(args: readonly string[] | undefined): RunRequest | undefined {
  if (!args || args[0] !== 'sweep') return undefined;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: args.slice(1), options: RUN_FLAG_OPTIONS, strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  const num = (k: keyof typeof RUN_FLAG_OPTIONS): number | undefined => {
    const v = values[k];
    return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const storageText = values.storage;
  let storage: unknown;
  try {
    storage = typeof storageText === 'string' ? JSON.parse(storageText) : undefined;
  } catch {
    return undefined;
  }
  const retentionDays = num('retention-days');
  const batchSize = values['batch-size'] === undefined ? undefined : num('batch-size');
  const maxDurationSeconds = num('max-duration');
  const lockWaitSeconds = num('lock-wait');
  if (storage === null || typeof storage !== 'object' || retentionDays === undefined || (values['batch-size'] !== undefined && batchSize === undefined) || maxDurationSeconds === undefined || lockWaitSeconds === undefined) {
    return undefined;
  }
  return {
    storage: storage as Record<string, unknown>,
    retentionDays,
    ...(batchSize === undefined ? {} : { batchSize }),
    statuses: typeof values.statuses === 'string' ? values.statuses.split(',') : [],
    dryRun: values['dry-run'] === true,
    housekeeping: values['no-housekeeping'] !== true,
    orphans: values.orphans === true,
    maxDurationSeconds,
    lockWaitSeconds,
  };
}

// ------------------------------------------------------------------------------ deadline headroom

/** The longest single steps of a run against a store, which a stop between batches cannot cut short. */
export interface StoreTimeouts {
  /** One statement / request / batch transaction at most. */
  statementSeconds: number;
  /** Opening (or re-opening) a connection at most. */
  connectSeconds: number;
}

/**
 * How long before the Job's activeDeadlineSeconds the run stops itself: the batch in flight may take
 * a whole statement timeout, closing and reconnecting a connect timeout, and writing the result and
 * exiting gets the same grace the kubelet would give after SIGTERM. A run that stops itself in time
 * leaves its result; one the deadline kills may not.
 */
export function headroomSeconds(t: StoreTimeouts, terminationGraceSeconds = TERMINATION_GRACE_SECONDS): number {
  return t.statementSeconds + t.connectSeconds + terminationGraceSeconds;
}

/**
 * The run's --max-duration for a Job deadline. A deadline shorter than twice the headroom cannot keep
 * all of it; the run then gets half the deadline, so that it still does some work and stops well
 * before the kill.
 */
export function maxDurationSeconds(activeDeadlineSeconds: number, t: StoreTimeouts, terminationGraceSeconds = TERMINATION_GRACE_SECONDS): number {
  const headroom = headroomSeconds(t, terminationGraceSeconds);
  return Math.max(1, activeDeadlineSeconds - headroom >= activeDeadlineSeconds / 2 ? activeDeadlineSeconds - headroom : Math.floor(activeDeadlineSeconds / 2));
}

/**
 * How long a run waits for another run of the same store (a run-now Job next to a scheduled one, see
 * run-results.ts): half of its own time, so that it still has the other half to sweep.
 */
export function lockWaitSeconds(maxDuration: number): number {
  return Math.max(1, Math.floor(maxDuration / 2));
}

// --------------------------------------------------------------------------- termination message

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The first `max` code points of `s` (never half a surrogate pair), with an ellipsis when cut. */
function firstCodePoints(s: string, max: number): string {
  const points = Array.from(s);
  return points.length <= max ? s : points.slice(0, Math.max(0, max - 1)).join('') + '…';
}

/**
 * The termination message of a run: the result as JSON that RESULT_SCHEMA accepts and that fits in
 * TERMINATION_MESSAGE_MAX_BYTES (counted in bytes: the kubelet cuts bytes, and a cut JSON text is no
 * result at all). Only text is shortened, the error message first; counts and outcome are never dropped.
 */
export function encodeResult(report: SweepReport): string {
  const fitted: SweepReport = {
    ...report,
    backend: firstCodePoints(report.backend, SHORT_STRING_MAX_CHARS),
    schemaVersion: firstCodePoints(report.schemaVersion, SHORT_STRING_MAX_CHARS),
    ...(report.error
      ? { error: { code: firstCodePoints(report.error.code, SHORT_STRING_MAX_CHARS), message: firstCodePoints(report.error.message, ERROR_MESSAGE_MAX_CHARS) } }
      : {}),
  };
  let text = JSON.stringify(fitted);
  if (byteLength(text) <= TERMINATION_MESSAGE_MAX_BYTES || !fitted.error) return text;
  // The longest prefix of the error message that fits (binary search over code points: multi-byte
  // characters and JSON escapes make the byte size of a prefix not proportional to its length).
  const points = Array.from(fitted.error.message);
  const withMessage = (n: number): string => JSON.stringify({ ...fitted, error: { ...fitted.error!, message: n >= points.length ? fitted.error!.message : points.slice(0, Math.max(0, n - 1)).join('') + '…' } });
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (byteLength(withMessage(mid)) <= TERMINATION_MESSAGE_MAX_BYTES) lo = mid;
    else hi = mid - 1;
  }
  text = withMessage(lo);
  return text;
}

// ajv's CJS default export needs unwrapping under NodeNext ESM.
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validateReport = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(RESULT_SCHEMA);

export type DecodedResult = { ok: true; report: SweepReport } | { ok: false; problem: string };

/** A termination message as a run result; anything else is reported, never trusted. */
export function decodeResult(message: string | undefined): DecodedResult {
  if (message === undefined || message.trim() === '') return { ok: false, problem: 'the run left no result (empty termination message)' };
  let data: unknown;
  try {
    data = JSON.parse(message);
  } catch {
    return { ok: false, problem: `the run's termination message is not JSON: ${JSON.stringify(firstCodePoints(message, 200))}` };
  }
  if (!validateReport(data)) {
    const first = validateReport.errors?.[0];
    return { ok: false, problem: `the run's result does not match the result schema (${first ? `${first.instancePath || '/'} ${first.message ?? ''}` : 'invalid'})` };
  }
  return { ok: true, report: data };
}
