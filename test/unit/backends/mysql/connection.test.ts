// MySQL connection settings from pyworkflow's keys, DATETIME(6) text in UTC, exact checkpoint
// prefixes under a case-insensitive collation, and children-first deletion levels. No server needed.
import { describe, expect, it } from 'vitest';
import { describeEndpoint, endpointSecrets, mysqlError, resolveEndpoint } from '../../../../src/backends/mysql/connection.js';
import { checkpointPredicate, levelsLeavesFirst } from '../../../../src/backends/mysql/purge.js';
import { sweepLockName } from '../../../../src/backends/mysql/sweep-lock.js';
import { formatDatetime6, parseDatetime6 } from '../../../../src/backends/mysql/time.js';

describe('mysql connection settings', () => {
  it("uses pyworkflow's defaults and honours a DSN pyworkflow itself ignores", () => {
    expect(describeEndpoint(resolveEndpoint({ type: 'mysql' }))).toBe('mysql pyworkflow@localhost:3306/pyworkflow');
    const e = resolveEndpoint({ type: 'mysql', dsn: 'mysql://app:p%40ss@db:3307/wf?ssl-mode=REQUIRED' });
    expect(e).toMatchObject({ host: 'db', port: 3307, user: 'app', password: 'p@ss', database: 'wf', tls: true, rejectUnauthorized: false });
    expect(describeEndpoint(e)).not.toContain('p@ss');
    expect(endpointSecrets(e)).toContain('p@ss');
    // Explicit keys win over the DSN.
    expect(resolveEndpoint({ type: 'mysql', dsn: 'mysql://a:b@h/d', database: 'other' }).database).toBe('other');
  });

  it('keeps the server error code and scrubs the password', () => {
    const err = Object.assign(new Error("Access denied for user 'app'@'10.0.0.1' (using password: YES) hunter2"), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });
    const wrapped = mysqlError('mysql app@h:3306/wf', 'connecting', err, ['hunter2'], 'CONNECTION_FAILED');
    expect(wrapped.message).toBe("mysql app@h:3306/wf: connecting failed: Access denied for user 'app'@'10.0.0.1' (using password: YES) *** [ER_ACCESS_DENIED_ERROR 1045]");
  });

  it('names the sweep lock per database, within 64 characters', () => {
    expect(sweepLockName('pyworkflow')).toBe('pyworkflow-retention:pyworkflow');
    expect(sweepLockName('x'.repeat(80)).length).toBeLessThanOrEqual(64);
  });
});

describe('DATETIME(6) text', () => {
  it('formats UTC wall-clock time whatever the local zone, and parses it back exactly', () => {
    const d = new Date('2026-03-01T23:30:24.569Z');
    expect(formatDatetime6(d)).toBe('2026-03-01 23:30:24.569000');
    expect(parseDatetime6('2026-03-01 23:30:24.569999')!.toISOString()).toBe('2026-03-01T23:30:24.569Z');
    expect(parseDatetime6('2026-03-01 23:30:24')!.toISOString()).toBe('2026-03-01T23:30:24.000Z');
  });

  it('reads zero dates and garbage as no instant', () => {
    expect(parseDatetime6('0000-00-00 00:00:00')).toBeNull();
    expect(parseDatetime6('yesterday')).toBeNull();
    expect(parseDatetime6(null)).toBeNull();
  });
});

describe('mysql purge statements', () => {
  it('matches checkpoint prefixes with an escaped LIKE for the index and a binary comparison for exactness', () => {
    const { where, params } = checkpointPredicate(['run_a!%b']);
    expect(where).toBe("(step_run_id LIKE ? ESCAPE '!' AND CAST(LEFT(step_run_id, ?) AS BINARY) = CAST(? AS BINARY))");
    expect(params).toEqual(['run!_a!!!%b:%', 9, 'run_a!%b:']);
  });

  it('orders run deletion leaves first, one level per statement', () => {
    const r = (runId: string, parentRunId: string | null) => ({ runId, status: 'completed', updatedAt: new Date(0), parentRunId });
    const levels = levelsLeavesFirst([r('c2', 'c1'), r('c1', 'p'), r('x', null), r('p', null), r('c3', 'p')]);
    expect(levels).toEqual([['c2', 'x', 'c3'], ['c1'], ['p']]);
  });
});
