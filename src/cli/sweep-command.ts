// `pyworkflow-retention sweep`: parses flags, builds the backend from a pyworkflow storage config,
// runs the shared sweep loop, and reports the result (text or JSON, plus the termination-log file).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadStorageConfig } from '../config/storage-config.js';
import { cutoffFromDays, parseInstant, parseRetentionDays } from '../engine/cutoff.js';
import { RECORD_KINDS } from '../engine/records.js';
import type { SweepReport } from '../engine/report.js';
import { encodeResult, RUN_FLAG_OPTIONS } from '../engine/run-contract.js';
import { isTerminalStatus, TERMINAL_STATUSES, type TerminalStatus } from '../engine/statuses.js';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, sweep } from '../engine/sweep.js';
import { InvalidInputError } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { createBackend, secretsOf } from '../backends/registry.js';
import { createProgressReporter, type ProgressMode } from './progress.js';
import { createRedactor } from './redact.js';

export const SWEEP_USAGE = `Usage: pyworkflow-retention sweep --storage <config> (--retention-days N | --older-than <instant>) [options]

Purges terminal pyworkflow runs older than the cutoff, with all their related records.

  --storage <config>        pyworkflow storage config with pyworkflow's own keys: inline JSON,
                            @path to a .json/.yaml file (a pyworkflow.config.yaml's storage: section
                            works), or "env" for pyworkflow's PYWORKFLOW_* variables. A string value
                            "\${NAME}" is read from environment variable NAME.
  --retention-days N        purge runs whose updated_at is more than N days ago (integer >= 1)
  --older-than <instant>    purge runs updated before this RFC 3339 instant (date, time and zone,
                            e.g. 2026-01-31T00:00:00Z or 2026-01-31T02:00:00+02:00)
  --dry-run                 count what would be deleted, delete nothing
  --batch-size N            runs per batch/transaction (max ${MAX_BATCH_SIZE}; default: SQLite sizes each
                            batch to a 0.4 s transaction from the ones before it, other stores ${DEFAULT_BATCH_SIZE})
  --statuses a,b,...        terminal statuses to purge (default: ${TERMINAL_STATUSES.join(',')})
  --no-housekeeping         skip stream and soft-deleted-schedule housekeeping
  --orphans                 also purge per-run records without a run record, older than the cutoff
  --lock-wait SECONDS       wait this long for another sweep of the same store (default 60)
  --max-duration SECONDS    stop between batches after this long (exit 1, resumable)
  --output text|json        result format on stdout (default text)
  --termination-log PATH    also write the JSON result to PATH (Kubernetes terminationMessagePath)
  --progress auto|bar|log|none   progress display on stderr (default auto: bar on a terminal)
  --log-format json|text    log line format on stderr (default: text on a terminal, json otherwise)
  --verbose                 debug logs and stack traces
`;

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  signal: AbortSignal;
}

export interface ParsedSweepArgs {
  storage: string;
  cutoff: Date;
  dryRun: boolean;
  /** 'auto' when the flag is absent: the backend sizes batches (src/engine/sweep.ts). */
  batchSize: number | 'auto';
  statuses: TerminalStatus[];
  housekeeping: boolean;
  orphans: boolean;
  lockWaitMs: number;
  maxDurationMs: number | null;
  output: 'text' | 'json';
  terminationLog: string | null;
  progress: 'auto' | ProgressMode;
  logFormat: 'json' | 'text' | null;
  verbose: boolean;
}

/** Parses and validates the flags; throws InvalidInputError naming the flag. */
export function parseSweepArgs(argv: readonly string[], now: Date): ParsedSweepArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: attachNegativeNumbers(argv),
      strict: true,
      allowPositionals: false,
      // The flags a run pod gets are the run contract's; --older-than and --verbose are for people.
      options: { ...RUN_FLAG_OPTIONS, 'older-than': { type: 'string' }, verbose: { type: 'boolean' } },
    }));
  } catch (err) {
    throw new InvalidInputError(`${(err as Error).message}\n\n${SWEEP_USAGE}`);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;

  const storage = str('storage');
  if (storage === undefined || storage.trim() === '') throw new InvalidInputError('--storage is required');

  const days = str('retention-days');
  const olderThan = str('older-than');
  if ((days === undefined) === (olderThan === undefined)) {
    throw new InvalidInputError('give exactly one of --retention-days or --older-than');
  }
  const cutoff = days !== undefined ? cutoffFromDays(now, parseRetentionDays(days, '--retention-days')) : parseInstant(olderThan!);

  const batchSize = str('batch-size') === undefined ? 'auto' : intFlag(str('batch-size'), '--batch-size', DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);

  let statuses: TerminalStatus[] = [...TERMINAL_STATUSES];
  const rawStatuses = str('statuses');
  if (rawStatuses !== undefined) {
    const list = rawStatuses.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (list.length === 0) throw new InvalidInputError('--statuses must name at least one status');
    for (const s of list) {
      if (!isTerminalStatus(s)) {
        throw new InvalidInputError(`--statuses: "${s}" is not a terminal status; allowed: ${TERMINAL_STATUSES.join(', ')}`);
      }
    }
    if (new Set(list).size !== list.length) throw new InvalidInputError('--statuses lists a status twice');
    statuses = list as TerminalStatus[];
  }

  const output = oneOf(str('output') ?? 'text', '--output', ['text', 'json'] as const);
  const progress = oneOf(str('progress') ?? 'auto', '--progress', ['auto', 'bar', 'log', 'none'] as const);
  const logFormat = str('log-format') === undefined ? null : oneOf(str('log-format')!, '--log-format', ['json', 'text'] as const);
  const maxDuration = str('max-duration');

  return {
    storage,
    cutoff,
    dryRun: values['dry-run'] === true,
    batchSize,
    statuses,
    housekeeping: values['no-housekeeping'] !== true,
    orphans: values.orphans === true,
    lockWaitMs: intFlag(str('lock-wait'), '--lock-wait', 60, 0, 86_400) * 1000,
    maxDurationMs: maxDuration === undefined ? null : intFlag(maxDuration, '--max-duration', 0, 1, 7 * 86_400) * 1000,
    output,
    terminationLog: str('termination-log') ?? null,
    progress,
    logFormat,
    verbose: values.verbose === true,
  };
}

/** Runs the sweep command; returns the process exit code. */
export async function runSweepCommand(argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(SWEEP_USAGE);
    return 0;
  }
  const args = parseSweepArgs(argv, io.now());
  // Before the store is touched: a result that cannot be written must not cost a sweep its record.
  if (args.terminationLog !== null) checkTerminationLog(args.terminationLog);
  const config = loadStorageConfig(args.storage, io.env);
  const redact = createRedactor(secretsOf(config));
  const isTty = io.stderr.isTTY === true;
  const logger = createLogger({
    level: (args.verbose ? 'debug' : 'info') satisfies LogLevel,
    format: args.logFormat ?? (isTty ? 'text' : 'json'),
    write: (line) => io.stderr.write(redact(line) + '\n'),
    now: io.now,
  });
  const mode: ProgressMode = args.progress === 'auto' ? (isTty && args.output === 'text' ? 'bar' : 'log') : args.progress;
  const reporter = createProgressReporter(mode, { stream: io.stderr, logger });

  // Before the deadline timer: a config refused here must exit at once, not when --max-duration ends.
  const backend = await createBackend(config, { logger }).catch((err: unknown) => {
    throw redactError(err, redact);
  });

  const controller = new AbortController();
  const stopOn = (): void => controller.abort(io.signal.reason);
  io.signal.addEventListener('abort', stopOn, { once: true });
  const deadline =
    args.maxDurationMs === null
      ? null
      : setTimeout(() => controller.abort(new Error(`--max-duration of ${args.maxDurationMs! / 1000} s reached`)), args.maxDurationMs);

  logger.info('sweep starting', {
    backend: backend.target,
    cutoff: args.cutoff.toISOString(),
    dryRun: args.dryRun,
    statuses: args.statuses,
    batchSize: args.batchSize,
  });
  let report: SweepReport;
  try {
    report = await sweep(backend, {
      cutoff: args.cutoff,
      statuses: args.statuses,
      batchSize: args.batchSize,
      dryRun: args.dryRun,
      housekeeping: args.housekeeping,
      ...(args.orphans ? { orphanCutoff: args.cutoff } : {}),
      lockWaitMs: args.lockWaitMs,
      signal: controller.signal,
      now: io.now,
      logger,
      onProgress: (p) => reporter.update(p),
    });
  } finally {
    if (deadline) clearTimeout(deadline);
    io.signal.removeEventListener('abort', stopOn);
    reporter.finish();
  }
  if (report.error) report.error.message = redact(report.error.message);

  io.stdout.write(redact(args.output === 'json' ? JSON.stringify(report) + '\n' : renderText(report, backend.target)));
  if (args.terminationLog !== null) {
    try {
      writeTerminationLog(args.terminationLog, report);
    } catch (err) {
      logger.error('writing the result failed', { flag: '--termination-log', path: args.terminationLog, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return 1;
    }
  }
  if (report.outcome === 'succeeded') {
    logger.info('sweep finished', { deleted: report.deleted, durationMs: report.durationMs });
    return 0;
  }
  // The sweep's own "sweep stopped" log line already carries the error: it is not repeated here.
  return report.error?.code === 'INVALID_INPUT' || report.error?.code === 'INVALID_STORAGE_CONFIG' ? 2 : 1;
}

/**
 * Writes a blank line to PATH, replacing what it held: exit 2 naming the flag when that fails (opening
 * alone is not enough, /proc files and /dev/full open fine). A blank message is what a run killed
 * before its end leaves anyway, and the controller reads it as "no result".
 */
function checkTerminationLog(path: string): void {
  try {
    writeFileSync(path, '\n');
  } catch (err) {
    throw new InvalidInputError(`--termination-log: cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; nothing was deleted`);
  }
}

/** A thrown error's text passes the same redaction as everything else the command prints. */
function redactError(err: unknown, redact: (text: string) => string): unknown {
  if (err instanceof Error) {
    err.message = redact(err.message);
    if (err.stack !== undefined) err.stack = redact(err.stack);
    if (err.cause instanceof Error) redactError(err.cause, redact);
  }
  return err;
}

/** The result as the run contract's termination message (fits the kubelet's limit and the controller's schema). */
export function writeTerminationLog(path: string, report: SweepReport): void {
  writeFileSync(path, encodeResult(report));
}

export function renderText(r: SweepReport, target: string): string {
  const title = `pyworkflow-retention sweep ${r.outcome}${r.dryRun ? ' (dry run: nothing was deleted)' : ''}`;
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const width = Math.max(...RECORD_KINDS.map((k) => k.length));
  const lines = [
    title,
    `  backend   ${target}`,
    `  schema    ${r.schemaVersion || 'unknown'}`,
    `  cutoff    ${r.cutoff} (terminal runs last updated before this)`,
    `  statuses  ${r.statuses.join(', ')}`,
    `  ${verb}:`,
    ...RECORD_KINDS.map((k) => `    ${k.padEnd(width)}  ${r.deleted[k]}`),
  ];
  if (r.keptForChildren > 0) lines.push(`  kept      ${r.keptForChildren} old run(s) because a child of theirs is kept`);
  if ((r.skippedUnsafe ?? 0) > 0) lines.push(`  skipped   ${r.skippedUnsafe} unsafe run id(s) read from the store (named in the log); nothing they name was touched`);
  if (!r.housekeeping) lines.push('  housekeeping skipped (--no-housekeeping)');
  lines.push(`  duration  ${(r.durationMs / 1000).toFixed(2)} s`);
  if (r.error) lines.push(`  error     ${r.error.message}`);
  return lines.join('\n') + '\n';
}

function intFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    const kind = min >= 1 ? 'a positive integer' : 'a whole number';
    throw new InvalidInputError(`${name} must be ${kind} from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * node's parseArgs reads `--retention-days -1` as a flag without its value ("argument is ambiguous");
 * a value that looks like a negative number is attached as `--retention-days=-1` instead, so the
 * flag's own check refuses it with a message that says what is allowed.
 */
function attachNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

const VALUE_FLAGS = new Set(['--retention-days', '--batch-size', '--lock-wait', '--max-duration', '--older-than']);

function oneOf<T extends string>(value: string, name: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InvalidInputError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}
