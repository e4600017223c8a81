// The built CLI as a process against real SQLite files: output contract, exit codes, refusals.
import AjvModule from 'ajv';
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireSqliteSweepLock } from '../../../src/backends/sqlite/sweep-lock.js';
import { RESULT_SCHEMA } from '../../../src/engine/report.js';
import { generateDataset } from '../../../src/model/generate.js';
import { runCli } from '../../support/cli.js';
import { sqliteFixture } from '../../support/stores/sqlite-store.js';
import type { StoreHandle } from '../../support/stores/store-fixture.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validateResult = new Ajv({ allErrors: true }).compile(RESULT_SCHEMA);

/** The lines of stderr that report an error: `error: ...` lines and JSON log lines at level error. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    if (line.startsWith('error: ')) return true;
    try {
      return (JSON.parse(line) as { level?: unknown }).level === 'error';
    } catch {
      return false;
    }
  });
}

/** Every file of the store's directory, byte for byte (the database and any journal beside it). */
function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

describe('pyworkflow-retention sweep (sqlite)', () => {
  let store: StoreHandle;
  const now = new Date();
  const storage = (): string => JSON.stringify(store.storageConfig);

  beforeEach(async () => {
    store = await sqliteFixture.create(sqliteFixture.adapt(generateDataset({ seed: 3, runs: 300, now, spanDays: 60, eventsPerRun: 3 })));
  });
  afterEach(async () => store.destroy());

  it('prints one JSON result, writes the same to the termination log, and exits 0', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'pywr-term-')), 'termination-log');
    const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--output', 'json', '--termination-log', log]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(validateResult(result), JSON.stringify(validateResult.errors)).toBe(true);
    expect(result).toMatchObject({ outcome: 'succeeded', dryRun: false, schemaVersion: '7', backend: 'sqlite' });
    expect((result.deleted as { runs: number }).runs).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(log, 'utf8'))).toEqual(result);
    // Non-terminal stderr: structured JSON log lines.
    for (const line of r.stderr.trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('a dry run deletes nothing and predicts the real run', async () => {
    const before = await store.dump();
    const dry = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--dry-run', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await store.dump()).toEqual(before);
    const real = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--output', 'json']);
    expect((JSON.parse(real.stdout) as { deleted: unknown }).deleted).toEqual((JSON.parse(dry.stdout) as { deleted: unknown }).deleted);
  });

  it('prints a human summary in text mode', async () => {
    const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pyworkflow-retention sweep succeeded/);
    expect(r.stdout).toMatch(/runs\s+\d+/);
  });

  it.each([
    [['--retention-days', '0'], /--retention-days must be a positive integer/],
    [['--retention-days', '-1'], /--retention-days/],
    [['--retention-days', '2.5'], /--retention-days/],
    [['--retention-days', '30', '--statuses', 'running'], /"running" is not a terminal status/],
    [['--older-than', new Date(Date.now() - 3600_000).toISOString()], /less than one day before now/],
  ])('bad input %j exits 2 naming the problem and changes nothing', async (args, message) => {
    const before = await store.dump();
    const r = await runCli(['sweep', '--storage', storage(), ...(args)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(await store.dump()).toEqual(before);
  });

  // Bad input is refused before the store is opened: exit 2, one error line naming the flag, and not a
  // byte of the store changed (item 9 of issue 8: each message was wrong or printed twice before).
  it.each([
    [['--retention-days', '-1'], /^error: --retention-days must be a positive integer number of days \(at least 1\), got "-1"$/],
    [['--retention-days=-1'], /^error: --retention-days must be a positive integer/],
    [['--retention-days', '30', '--batch-size=-1'], /^error: --batch-size must be a positive integer from 1 to 10000, got "-1"$/],
    [['--retention-days', '30', '--batch-size', '-1'], /^error: --batch-size must be a positive integer from 1 to 10000, got "-1"$/],
    [['--retention-days', '30', '--batch-size', '0'], /^error: --batch-size must be a positive integer/],
    [['--retention-days', '30', '--lock-wait', '-1'], /^error: --lock-wait must be a whole number from 0 to 86400/],
    [['--retention-days', '30', '--max-duration', '-1'], /^error: --max-duration must be a positive integer/],
    [['--older-than', '2020-02-30T00:00:00Z'], /^error: --older-than must be an RFC 3339 instant .*day 30 does not exist/],
    [['--older-than', '2021-02-29T00:00:00Z'], /^error: --older-than .*day 29 does not exist/],
    [['--older-than', '2020-04-31T00:00:00Z'], /^error: --older-than .*day 31 does not exist/],
    [['--older-than', '2020-01-01T24:00:00Z'], /^error: --older-than .*hour 24 does not exist/],
    [['--older-than', '2020-01-01T23:60:00Z'], /^error: --older-than .*minute 60 does not exist/],
    [['--older-than', '2020-01-01'], /^error: --older-than must be an RFC 3339 instant/],
    [['--older-than', '2020-01-01T00:00:00'], /^error: --older-than must be an RFC 3339 instant/],
    [['--older-than', '-2020-01-01T00:00:00Z'], /^error: --older-than must be an RFC 3339 instant/],
  ])('bad input %j: exit 2, one error line naming the flag, store untouched', async (args, message) => {
    const dir = dirname((store.storageConfig as { base_path: string }).base_path);
    const before = filesOf(dir);
    const r = await runCli(['sweep', '--storage', storage(), '--output', 'json', ...args]);
    expect(r.code, r.stderr).toBe(2);
    const errors = errorLines(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/ambiguous/);
    expect(r.stdout).toBe('');
    expect(filesOf(dir)).toEqual(before);
  });

  // Issue 8 item 4: an unwritable --termination-log was found only after the sweep had deleted.
  it.each([
    ['a missing directory', (tmp: string) => join(tmp, 'no-such-dir', 'termination-log'), /ENOENT/],
    ['a directory', (tmp: string) => tmp, /EISDIR/],
    ['a read-only kernel file', () => '/proc/version', /E[A-Z]+/],
    ['a full device', () => '/dev/full', /ENOSPC/],
  ])('--termination-log on %s: exit 2 naming the flag before anything is deleted', async (_what, pathOf, code) => {
    const dir = dirname((store.storageConfig as { base_path: string }).base_path);
    const path = pathOf(mkdtempSync(join(tmpdir(), 'pywr-term-')));
    const before = filesOf(dir);
    const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--output', 'json', '--termination-log', path]);
    expect(r.code, r.stderr).toBe(2);
    const errors = errorLines(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^error: --termination-log: cannot write ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(errors[0]).toMatch(code);
    expect(filesOf(dir)).toEqual(before);
    // The same store is swept when the path is good: the refusal above was not for want of work.
    const good = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--output', 'json']);
    expect((JSON.parse(good.stdout) as { deleted: { runs: number } }).deleted.runs).toBeGreaterThan(0);
  });

  it('a storage config refused as unparsable exits at once, also with a long --max-duration', async () => {
    const dsn = 'postgresql://admin:p@ss/S3cr3t@127.0.0.1:1/db';
    const started = Date.now();
    const r = await runCli(['sweep', '--storage', JSON.stringify({ type: 'postgres', dsn }), '--retention-days', '30', '--max-duration', '3600']);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^error: postgres storage config: "dsn" does not parse/)]);
    expect(r.stderr).not.toContain('S3cr3t');
    // The --max-duration timer must not hold the process open for an hour.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('refuses an unknown schema version, deleting nothing', async () => {
    const path = (store.storageConfig as { base_path: string }).base_path;
    const db = new Database(path);
    db.prepare("INSERT INTO schema_versions (version, applied_at, description) VALUES (8, '2027-01-01T00:00:00+00:00', 'future')").run();
    db.close();
    const before = await store.dump();
    const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '1', '--output', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown pyworkflow schema \(schema_versions holds version 8\); supported: pre-versioning, 1, 2, 3, 4, 5, 6, 7\. Nothing was deleted/);
    const result = JSON.parse(r.stdout) as { outcome: string; error: { code: string; message: string } };
    expect(result).toMatchObject({ outcome: 'failed', error: { code: 'UNKNOWN_SCHEMA' } });
    expect(result.error.message.startsWith(`sqlite ${path}: unknown pyworkflow schema`)).toBe(true);
    // Named once ("sqlite /path", not "sqlite sqlite /path"), reported in one error line.
    expect(r.stdout + r.stderr).not.toMatch(/sqlite sqlite/);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    expect(await store.dump()).toEqual(before);
  });

  it('fails clearly on a missing database file instead of creating one', async () => {
    const missing = join(tmpdir(), `no-such-${Date.now()}.db`);
    const r = await runCli(['sweep', '--storage', JSON.stringify({ type: 'sqlite', base_path: missing }), '--retention-days', '30']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database file does not exist/);
  });

  it('waits for a running sweep, then gives up with a clear message', async () => {
    const before = await store.dump();
    const lock = acquireSqliteSweepLock((store.storageConfig as { base_path: string }).base_path, 0, 'test');
    try {
      const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '30', '--lock-wait', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/another retention sweep is running/);
      expect(await store.dump()).toEqual(before);
    } finally {
      await lock.release();
    }
  });

  it('refuses --orphans where the backend has no orphan sweep, deleting nothing', async () => {
    const before = await store.dump();
    const r = await runCli(['sweep', '--storage', JSON.stringify({ type: 'reference-memory' }), '--retention-days', '30', '--orphans']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--orphans is not supported for reference-memory stores/);
    expect(await store.dump()).toEqual(before);
  });

  it('exits 2 for an unknown command or flag', async () => {
    expect((await runCli(['purge'])).code).toBe(2);
    const r = await runCli(['sweep', '--storage', storage(), '--retention-days', '3', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--frobnicate/);
  });
});
