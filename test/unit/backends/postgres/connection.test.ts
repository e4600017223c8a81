// Connection settings from pyworkflow's keys: defaults, DSN parsing, the redacted target, exact
// timestamp parsing, and the checkpoint statements' shapes. No server needed.
import { describe, expect, it } from 'vitest';
import { rangeStatements, rootIds } from '../../../../src/backends/postgres/checkpoints.js';
import { describeEndpoint, endpointSecrets, pgError, resolveEndpoint } from '../../../../src/backends/postgres/connection.js';
import { parseTimestamptz } from '../../../../src/backends/postgres/time.js';

describe('postgres connection settings', () => {
  it("uses pyworkflow's defaults for absent keys", () => {
    const e = resolveEndpoint({ type: 'postgres' });
    expect(e).toMatchObject({ host: 'localhost', port: 5432, user: 'pyworkflow', password: '', database: 'pyworkflow', sslmode: 'prefer' });
    expect(describeEndpoint('postgres', e)).toBe('postgres pyworkflow@localhost:5432/pyworkflow');
  });

  it('reads a DSN (percent-decoded) and names the target without the password', () => {
    const e = resolveEndpoint({ type: 'citus', dsn: 'postgresql://app%40x:p%40ss%3Aw0rd@db.internal:6432/work?sslmode=verify-full&sslrootcert=/ca.pem&options=-c%20search_path%3Dwf' });
    expect(e).toMatchObject({ host: 'db.internal', port: 6432, user: 'app@x', password: 'p@ss:w0rd', database: 'work', sslmode: 'verify-full', caFile: '/ca.pem', options: '-c search_path=wf' });
    const target = describeEndpoint('citus', e);
    expect(target).toBe('citus app@x@db.internal:6432/work');
    expect(target).not.toContain('p@ss');
    expect(endpointSecrets(e)).toContain('p@ss:w0rd');
  });

  it('refuses a DSN that is not a postgresql:// URI without quoting it', () => {
    expect(() => resolveEndpoint({ type: 'postgres', dsn: 'host=db password=secret-value' })).toThrow(/not a postgresql:\/\/ URI/);
    try {
      resolveEndpoint({ type: 'postgres', dsn: 'mysql://u:secret-value@h/db' });
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value');
    }
  });

  it('wraps server errors with the target and SQLSTATE and scrubs the password', () => {
    const err = Object.assign(new Error('password authentication failed for user "app" (tried s3cret)'), { code: '28P01' });
    const wrapped = pgError('postgres app@h:5432/db', 'connecting', err, ['s3cret'], 'CONNECTION_FAILED');
    expect(wrapped.message).toBe('postgres app@h:5432/db: connecting failed: password authentication failed for user "app" (tried ***) [28P01]');
    expect(wrapped.code).toBe('CONNECTION_FAILED');
  });
});

describe('timestamptz text', () => {
  it('floors microseconds to the millisecond exactly (no float rounding)', () => {
    expect(parseTimestamptz('2026-03-01 14:30:24.569999+00')!.toISOString()).toBe('2026-03-01T14:30:24.569Z');
    expect(parseTimestamptz('2026-03-01 14:30:24.569+00')!.toISOString()).toBe('2026-03-01T14:30:24.569Z');
    expect(parseTimestamptz('2026-03-01 14:30:24+00')!.toISOString()).toBe('2026-03-01T14:30:24.000Z');
    expect(parseTimestamptz('2026-03-01 20:00:24.5+05:30')!.toISOString()).toBe('2026-03-01T14:30:24.500Z');
    expect(parseTimestamptz('2026-03-01 11:30:24-03')!.toISOString()).toBe('2026-03-01T14:30:24.000Z');
  });

  it('reads infinity and BC dates as no instant (such a run is never purged)', () => {
    expect(parseTimestamptz('infinity')).toBeNull();
    expect(parseTimestamptz('-infinity')).toBeNull();
    expect(parseTimestamptz('0044-03-15 12:00:00+00 BC')).toBeNull();
  });
});

describe('checkpoint statements', () => {
  const run = (runId: string, parentRunId: string | null = null) => ({ runId, status: 'completed', updatedAt: new Date(0), parentRunId });

  it('roots are the runs whose parent is outside the batch, sorted', () => {
    expect(rootIds([run('run_c'), run('run_a'), run('run_b', 'run_a'), run('run_d', 'run_x')])).toEqual(['run_a', 'run_c', 'run_d']);
  });

  it('a dense page is one key range with an exact filter; descendants get exact ranges', () => {
    const s = rangeStatements('DELETE FROM', [run('run_b', 'run_a'), run('run_a'), run('run_c')], true);
    expect(s).toHaveLength(2);
    expect(s[0]!.text).toMatch(/step_run_id >= \$1 AND step_run_id < \$2 AND strpos\(step_run_id, ':'\) > 0 AND split_part\(step_run_id, ':', 1\) = ANY\(\$3::text\[\]\)/);
    expect(s[0]!.values).toEqual(['run_a:', 'run_c;', ['run_a', 'run_c']]);
    expect(s[1]).toEqual({ text: 'DELETE FROM checkpoints WHERE (step_run_id >= $1 AND step_run_id < $2)', values: ['run_b:', 'run_b;'] });
    expect(s.map((x) => x.text).join(' ')).not.toMatch(/LIKE/);
  });

  it('a sparse page gets exact ranges only, 100 runs per statement', () => {
    const runs = Array.from({ length: 250 }, (_, i) => run(`run_${i}`));
    const s = rangeStatements('SELECT count(*) AS n FROM', runs, false);
    expect(s).toHaveLength(3);
    expect(s[0]!.values).toHaveLength(200);
    expect(s[2]!.values).toHaveLength(100);
  });
});
