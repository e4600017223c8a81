import { describe, expect, it } from 'vitest';
import { parseSweepArgs } from '../../../src/cli/sweep-command.js';
import { InvalidInputError } from '../../../src/errors.js';

const now = new Date('2026-06-01T00:00:00Z');
const base = ['--storage', '{"type":"sqlite","base_path":"x.db"}'];

describe('sweep flags', () => {
  it('applies defaults', () => {
    const a = parseSweepArgs([...base, '--retention-days', '30'], now);
    expect(a.cutoff.toISOString()).toBe('2026-05-02T00:00:00.000Z');
    expect(a.batchSize).toBe('auto');
    expect(a.statuses).toEqual(['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted']);
    expect(a.dryRun).toBe(false);
    expect(a.housekeeping).toBe(true);
    expect(a.output).toBe('text');
  });

  it('reads every option', () => {
    const a = parseSweepArgs(
      [...base, '--older-than', '2026-01-01T00:00:00Z', '--dry-run', '--batch-size', '50', '--statuses', 'failed,cancelled',
        '--no-housekeeping', '--orphans', '--output', 'json', '--termination-log', '/dev/termination-log', '--lock-wait', '5', '--max-duration', '60'],
      now,
    );
    expect(a).toMatchObject({
      dryRun: true, batchSize: 50, statuses: ['failed', 'cancelled'], housekeeping: false, orphans: true, output: 'json',
      terminationLog: '/dev/termination-log', lockWaitMs: 5000, maxDurationMs: 60000,
    });
  });

  it.each([
    [['--retention-days', '0'], /--retention-days must be a positive integer/],
    [['--retention-days', '-3'], /--retention-days/],
    [['--retention-days', '1.5'], /--retention-days/],
    [['--retention-days', 'ten'], /--retention-days/],
    [[], /exactly one of --retention-days or --older-than/],
    [['--retention-days', '3', '--older-than', '2026-01-01T00:00:00Z'], /exactly one/],
    [['--older-than', '2026-01-01T00:00:00Z'], null],
    [['--older-than', '2026-01-01'], /--older-than must be an RFC 3339 instant/],
    [['--older-than', 'last week'], /--older-than must be an RFC 3339 instant/],
    [['--retention-days', '3', '--batch-size', '0'], /--batch-size must be a positive integer from 1 to 10000/],
    [['--retention-days', '3', '--batch-size', 'many'], /--batch-size must be a positive integer from 1 to 10000, got "many"/],
    [['--retention-days', '3', '--batch-size=-1'], /--batch-size must be a positive integer from 1 to 10000, got "-1"/],
    [['--retention-days', '3', '--batch-size', '-1'], /--batch-size must be a positive integer from 1 to 10000, got "-1"/],
    [['--retention-days', '-1'], /--retention-days must be a positive integer number of days \(at least 1\), got "-1"/],
    [['--retention-days', '3', '--lock-wait', '-5'], /--lock-wait must be a whole number from 0 to 86400, got "-5"/],
    [['--retention-days', '3', '--statuses', 'completed,running'], /"running" is not a terminal status/],
    [['--retention-days', '3', '--statuses', 'completed,completed'], /twice/],
    [['--retention-days', '3', '--output', 'xml'], /--output must be one of text, json/],
    [['--retention-days', '3', '--bogus'], /Unknown option '--bogus'/],
  ])('%j', (args, error) => {
    const run = (): unknown => parseSweepArgs([...base, ...(args)], now);
    if (error === null) expect(run).not.toThrow();
    else expect(run).toThrow(error);
    if (error !== null) expect(run).toThrow(InvalidInputError);
  });

  it('requires --storage', () => {
    expect(() => parseSweepArgs(['--retention-days', '3'], now)).toThrow(/--storage is required/);
  });
});
