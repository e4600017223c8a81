// The run contract: flags built and parsed back by one module, the termination message trimmed by
// bytes to what the controller's result schema accepts (error text first, counts never), and the
// deadline headroom derived from the store's timeouts and the termination grace.
import { describe, expect, it } from 'vitest';
import { parseSweepArgs } from '../../../src/cli/sweep-command.js';
import { zeroCounts } from '../../../src/engine/records.js';
import {
  buildSweepArgs,
  decodeResult,
  encodeResult,
  ERROR_MESSAGE_MAX_CHARS,
  headroomSeconds,
  lockWaitSeconds,
  maxDurationSeconds,
  readSweepArgs,
  TERMINATION_MESSAGE_MAX_BYTES,
  type RunRequest,
} from '../../../src/engine/run-contract.js';
import { report } from '../reconcilers/runs.js';

const request: RunRequest = {
  storage: { type: 'postgres', host: 'db', password: '${PYWR_PASSWORD}', statement_timeout_ms: 60000 },
  retentionDays: 30,
  batchSize: 250,
  statuses: ['completed', 'failed'],
  dryRun: true,
  housekeeping: false,
  orphans: true,
  maxDurationSeconds: 3500,
  lockWaitSeconds: 1750,
};

const counts = { ...zeroCounts(), runs: 1234, events: 98765, steps: 4321, hooks: 7, cancellationFlags: 3, checkpoints: 11, streamRecords: 5, schedules: 2 };

describe('sweep flags', () => {
  it('round trip: what the controller builds is what it reads back', () => {
    const args = buildSweepArgs(request);
    expect(readSweepArgs(args)).toEqual(request);
    expect(readSweepArgs(buildSweepArgs({ ...request, dryRun: false, housekeeping: true, orphans: false }))).toEqual({ ...request, dryRun: false, housekeeping: true, orphans: false });
  });

  it('the CLI accepts exactly what the controller builds', () => {
    const parsed = parseSweepArgs(buildSweepArgs(request).slice(1), new Date('2026-03-01T00:00:00Z'));
    expect(parsed).toMatchObject({
      dryRun: true, batchSize: 250, statuses: ['completed', 'failed'], housekeeping: false, orphans: true,
      lockWaitMs: 1_750_000, maxDurationMs: 3_500_000, output: 'json', terminationLog: '/dev/termination-log', progress: 'log', logFormat: 'json',
    });
    expect(parsed.cutoff.toISOString()).toBe('2026-01-30T00:00:00.000Z');
    expect(JSON.parse(parsed.storage)).toEqual(request.storage);
  });

  it('no batch size in the request: no --batch-size flag, and the CLI sizes batches itself', () => {
    const { batchSize: _omitted, ...auto } = request;
    const args = buildSweepArgs(auto);
    expect(args).not.toContain('--batch-size');
    expect(readSweepArgs(args)).toEqual(auto);
    expect(parseSweepArgs(args.slice(1), new Date('2026-03-01T00:00:00Z')).batchSize).toBe('auto');
    // A flag that is there but not a number is not this contract.
    expect(readSweepArgs([...args, '--batch-size', 'many'])).toBeUndefined();
  });

  it('args that are not a sweep of this contract read as undefined', () => {
    expect(readSweepArgs(undefined)).toBeUndefined();
    expect(readSweepArgs(['restore'])).toBeUndefined();
    expect(readSweepArgs(['sweep', '--storage', '{}', '--bogus'])).toBeUndefined();
  });
});

describe('termination message', () => {
  const decoded = (text: string) => {
    const r = decodeResult(text);
    if (!r.ok) throw new Error(r.problem);
    return r.report;
  };

  it.each([
    ['ASCII', 'x'.repeat(10_000)],
    ['multi-byte (3 bytes each)', '€'.repeat(10_000)],
    ['astral (4 bytes, surrogate pairs)', '😀'.repeat(10_000)],
    ['JSON escapes (6 bytes each)', '\u0001'.repeat(10_000)],
    ['mixed', 'connection to db failed: ünïcödé "quoted" \\ 😀\n'.repeat(250)],
  ])('a 10,000-character %s error: fits in 4096 bytes, the schema accepts it, every count kept', (_name, message) => {
    expect(Array.from(message).length).toBeGreaterThanOrEqual(10_000);
    const r = report({ outcome: 'failed', error: { code: 'BACKEND_ERROR', message } }, counts);
    const text = encodeResult(r);
    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(TERMINATION_MESSAGE_MAX_BYTES);
    const back = decoded(text);
    expect(back.deleted).toEqual(counts);
    expect(back.outcome).toBe('failed');
    expect(back.error!.code).toBe('BACKEND_ERROR');
    expect(Array.from(back.error!.message).length).toBeLessThanOrEqual(ERROR_MESSAGE_MAX_CHARS);
    expect(back.error!.message.endsWith('…')).toBe(true);
    // Shortened, not emptied: the start of the cause is what a human needs.
    expect(message.startsWith(back.error!.message.slice(0, -1))).toBe(true);
    expect(Array.from(back.error!.message).length).toBeGreaterThan(100);
    // No lone surrogate: the cut is between characters.
    expect(back.error!.message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('a 2,500-character error (over the schema limit, under 4 KiB) is no longer an invalid result', () => {
    const r = report({ outcome: 'failed', error: { code: 'BACKEND_ERROR', message: 'e'.repeat(2500) } }, counts);
    expect(JSON.stringify(r).length).toBeLessThan(4000);
    expect(decodeResult(JSON.stringify(r)).ok).toBe(false); // what the old CLI wrote
    expect(decoded(encodeResult(r)).deleted).toEqual(counts);
  });

  it('a short result is written as it is; a long backend name is cut to the schema', () => {
    const r = report({}, counts);
    expect(encodeResult(r)).toBe(JSON.stringify(r));
    const long = report({ backend: `postgres ${'h'.repeat(200)}:5432/pyworkflow` }, counts);
    expect(decoded(encodeResult(long)).backend).toHaveLength(64);
  });
});

describe('deadline headroom', () => {
  it('statement + connect timeout + termination grace', () => {
    expect(headroomSeconds({ statementSeconds: 60, connectSeconds: 10 })).toBe(100);
    expect(headroomSeconds({ statementSeconds: 60, connectSeconds: 10 }, 45)).toBe(115);
  });

  it('the default statement timeout (60 s) fits in the headroom: the run stops before the deadline', () => {
    const pg = { statementSeconds: 60, connectSeconds: 10 };
    expect(maxDurationSeconds(3600, pg)).toBe(3500);
    // A slow last batch started just before --max-duration still ends before the deadline kills it.
    expect(maxDurationSeconds(3600, pg) + pg.statementSeconds + pg.connectSeconds).toBeLessThan(3600);
    expect(maxDurationSeconds(3600, { statementSeconds: 600, connectSeconds: 30 })).toBe(2940);
  });

  it('a deadline too short for the whole headroom gives the run half of it', () => {
    expect(maxDurationSeconds(60, { statementSeconds: 60, connectSeconds: 10 })).toBe(30);
    expect(maxDurationSeconds(200, { statementSeconds: 60, connectSeconds: 10 })).toBe(100);
    expect(maxDurationSeconds(201, { statementSeconds: 60, connectSeconds: 10 })).toBe(101);
  });

  it('a run waits for another run of its store at most half of its time', () => {
    expect(lockWaitSeconds(3500)).toBe(1750);
    expect(lockWaitSeconds(1)).toBe(1);
  });
});
