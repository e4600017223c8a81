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
  // RFC 3339 instants only: a value Date.parse would roll forward (Feb 30 -> Mar 1) moves the cutoff
  // later and purges more than asked for, so each of these must be refused, not normalised.
  it.each([
    ['2026-01-31T00:00:00Z', '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T02:00:00+02:00', '2026-01-31T00:00:00.000Z'],
    ['2020-02-29T00:00:00Z', '2020-02-29T00:00:00.000Z'],
    ['2000-02-29T12:00:00Z', '2000-02-29T12:00:00.000Z'],
    ['2020-01-01T00:00:00.123+02:00', '2019-12-31T22:00:00.123Z'],
    ['2020-01-01T00:00:00.1Z', '2020-01-01T00:00:00.100Z'],
    ['2020-01-01T00:00:00.123456789Z', '2020-01-01T00:00:00.123Z'],
    ['2020-01-01t00:00:00z', '2020-01-01T00:00:00.000Z'],
    ['2020-01-01 00:00:00-05:30', '2020-01-01T05:30:00.000Z'],
    ['2020-12-31T23:59:59-00:00', '2020-12-31T23:59:59.000Z'],
    ['0099-06-01T00:00:00Z', '0099-06-01T00:00:00.000Z'],
    [' 2026-01-31T00:00:00Z ', '2026-01-31T00:00:00.000Z'],
  ])('accepts %j as %s', (value, iso) => {
    expect(parseInstant(value).toISOString()).toBe(iso);
  });

  it.each([
    ['2020-02-30T00:00:00Z', /day 30 does not exist in 2020-02/],
    ['2021-02-29T00:00:00Z', /day 29 does not exist in 2021-02/],
    ['1900-02-29T00:00:00Z', /day 29 does not exist/],
    ['2020-02-31T00:00:00Z', /day 31 does not exist/],
    ['2020-04-31T00:00:00Z', /day 31 does not exist/],
    ['2020-01-00T00:00:00Z', /day 0 does not exist/],
    ['2020-13-01T00:00:00Z', /month 13 does not exist/],
    ['2020-00-01T00:00:00Z', /month 0 does not exist/],
    ['2020-01-01T24:00:00Z', /hour 24 does not exist/],
    ['2020-01-01T23:60:00Z', /minute 60 does not exist/],
    ['2020-01-01T23:59:60Z', /second 60 does not exist/],
    ['2020-01-01T00:00:00+24:00', /zone offset \+24:00 does not exist/],
    ['2020-01-01T00:00:00+01:60', /zone offset/],
    ['2020-01-01', /RFC 3339/],
    ['2020-01-01T00:00:00', /RFC 3339/],
    ['2020-01-01T00:00Z', /RFC 3339/],
    ['2020-01-01T00:00:00+0200', /RFC 3339/],
    ['2020-01-01T00:00:00+02', /RFC 3339/],
    ['2020-01-01T00:00:00.Z', /RFC 3339/],
    ['2020-01-01T00:00:00.1234567890Z', /RFC 3339/],
    ['2020-1-01T00:00:00Z', /RFC 3339/],
    ['+002020-01-01T00:00:00Z', /RFC 3339/],
    ['2020-01-01T00:00:00ZZ', /RFC 3339/],
    ['2020-01-01T00:00:00 UTC', /RFC 3339/],
    ['yesterday', /RFC 3339/],
    ['1700000000', /RFC 3339/],
    ['', /RFC 3339/],
  ])('rejects %j naming --older-than', (value, why) => {
    expect(() => parseInstant(value)).toThrow(InvalidInputError);
    expect(() => parseInstant(value)).toThrow(/^--older-than must be an RFC 3339 instant/);
    expect(() => parseInstant(value)).toThrow(why);
  });

  it('refuses a cutoff less than a day old', () => {
    const now = new Date('2026-02-01T00:00:00Z');
    expect(() => assertSafeCutoff(new Date('2026-01-31T00:00:01Z'), now)).toThrow(/less than one day/);
    expect(() => assertSafeCutoff(new Date('2026-01-31T00:00:00Z'), now)).not.toThrow();
  });
});
