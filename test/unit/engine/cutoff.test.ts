import { describe, expect, it } from 'vitest';
import { assertSafeCutoff, cutoffFromDays, parseInstant, parseRetentionDays } from '../../../src/engine/cutoff.js';
import { InvalidInputError } from '../../../src/errors.js';

describe('retention days', () => {
  it.each(['1', '30', ' 7 ', 1, 365])('accepts %j', (v) => {
    expect(parseRetentionDays(v)).toBe(Number(String(v).trim()));
  });
  it.each(['0', '-1', '1.5', 'abc', '', 0, -3, 2.5, NaN, null, undefined, '1e3', '0x10', 36501])('rejects %j', (v) => {
    expect(() => parseRetentionDays(v)).toThrow(InvalidInputError);
  });
  it('computes the cutoff as now minus whole days', () => {
    expect(cutoffFromDays(new Date('2026-03-31T12:00:00Z'), 30).toISOString()).toBe('2026-03-01T12:00:00.000Z');
  });
});

describe('instants', () => {
  it('parses zoned ISO-8601 and dates', () => {
    expect(parseInstant('2026-01-31T00:00:00Z').toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(parseInstant('2026-01-31T02:00:00+02:00').toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(parseInstant('2026-01-31').toISOString()).toBe('2026-01-31T00:00:00.000Z');
  });
  it.each(['2026-01-31T00:00:00', 'yesterday', '1700000000', '2026-13-01T00:00:00Z'])('rejects %j', (v) => {
    expect(() => parseInstant(v)).toThrow(InvalidInputError);
  });
  it('refuses a cutoff less than a day old', () => {
    const now = new Date('2026-02-01T00:00:00Z');
    expect(() => assertSafeCutoff(new Date('2026-01-31T00:00:01Z'), now)).toThrow(/less than one day/);
    expect(() => assertSafeCutoff(new Date('2026-01-31T00:00:00Z'), now)).not.toThrow();
  });
});
