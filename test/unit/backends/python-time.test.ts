import { describe, expect, it } from 'vitest';
import { formatPythonUtc, parsePythonTimestamp } from '../../../src/backends/python-time.js';

describe('Python timestamps', () => {
  it('formats like datetime.isoformat() of an aware UTC datetime', () => {
    expect(formatPythonUtc(new Date('2026-03-01T14:30:24.123Z'))).toBe('2026-03-01T14:30:24.123000+00:00');
    expect(formatPythonUtc(new Date('2026-03-01T14:30:24.000Z'))).toBe('2026-03-01T14:30:24+00:00');
  });

  it.each([
    ['2026-03-01T14:30:24.123456+00:00', '2026-03-01T14:30:24.123Z'],
    ['2026-03-01T14:30:24+00:00', '2026-03-01T14:30:24.000Z'],
    ['2026-03-01T14:30:24Z', '2026-03-01T14:30:24.000Z'],
    ['2026-03-01 14:30:24.5', '2026-03-01T14:30:24.500Z'],
    ['2026-03-01T16:30:24+02:00', '2026-03-01T14:30:24.000Z'],
    ['2026-03-01T09:30:24-0500', '2026-03-01T14:30:24.000Z'],
  ])('parses %s', (text, iso) => {
    expect(parsePythonTimestamp(text)?.toISOString()).toBe(iso);
  });

  it.each(['', 'yesterday', '2021', 1700000000, null, '2026-02-30T00:00:00+00:00', '2026-03-01T25:00:00+00:00'])('refuses %j', (v) => {
    expect(parsePythonTimestamp(v)).toBeNull();
  });

  it('orders text like the instants when both are in pyworkflow shape', () => {
    const a = formatPythonUtc(new Date('2026-03-01T14:30:24.000Z'));
    const b = formatPythonUtc(new Date('2026-03-01T14:30:24.001Z'));
    expect(a < b).toBe(true);
  });
});
