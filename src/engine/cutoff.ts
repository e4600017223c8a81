// The cutoff instant of a sweep. Admission rejects bad retention days already; this check runs again
// in every sweep because nothing downstream may rely on admission alone (H4: 0 or negative days
// would purge runs that finished seconds ago).

import { InvalidInputError } from '../errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Parses a retention-days value strictly: a positive integer, nothing else. */
export function parseRetentionDays(value: unknown, name = 'retention days'): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new InvalidInputError(`${name} must be a positive integer number of days (at least 1), got ${JSON.stringify(value)}`);
  }
  if (n > 36500) throw new InvalidInputError(`${name} must be at most 36500 days, got ${n}`);
  return n;
}

export function cutoffFromDays(now: Date, days: number): Date {
  return new Date(now.getTime() - parseRetentionDays(days) * DAY_MS);
}

/**
 * Parses an RFC 3339 instant: date, time with seconds, and a zone (Z or ±hh:mm). Every field is
 * range-checked here because Date.parse rolls impossible values forward (Feb 30 becomes Mar 1,
 * 24:00 the next day), which would move the cutoff later and purge more than asked for.
 */
export function parseInstant(value: string, name = '--older-than'): Date {
  const m = RFC3339.exec(value.trim());
  const fail = (why: string): never => {
    throw new InvalidInputError(`${name} must be an RFC 3339 instant with a time zone, e.g. 2026-01-31T00:00:00Z (${why}), got ${JSON.stringify(value)}`);
  };
  if (!m) return fail('date, time with seconds, and zone Z or ±hh:mm');
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = m[7] ?? '';
  const zone = m[8]!;
  if (month < 1 || month > 12) fail(`month ${month} does not exist`);
  if (day < 1 || day > daysInMonth(year, month)) fail(`day ${day} does not exist in ${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`);
  if (hour > 23) fail(`hour ${hour} does not exist`);
  if (minute > 59) fail(`minute ${minute} does not exist`);
  // A leap second (:60) has no representation in a JavaScript Date; no real cutoff needs one.
  if (second > 59) fail(`second ${second} does not exist`);
  let offsetMinutes = 0;
  if (!/^z$/i.test(zone)) {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) fail(`zone offset ${zone} does not exist`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year, month - 1, day);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** A cutoff may not be later than one day before now: the same floor as retentionDays >= 1. */
export function assertSafeCutoff(cutoff: Date, now: Date): void {
  if (Number.isNaN(cutoff.getTime())) throw new InvalidInputError('cutoff is not a valid instant');
  if (cutoff.getTime() > now.getTime() - DAY_MS) {
    throw new InvalidInputError(
      `cutoff ${cutoff.toISOString()} is less than one day before now (${now.toISOString()}); ` +
        'retention keeps at least one day of runs',
    );
  }
}
