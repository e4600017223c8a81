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

/** Parses an ISO-8601 instant with an explicit zone (Z or ±hh:mm); a zone-less time is ambiguous and refused. */
export function parseInstant(value: string, name = '--older-than'): Date {
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;
  if (!iso.test(value.trim())) {
    throw new InvalidInputError(`${name} must be an ISO-8601 instant with a time zone, e.g. 2026-01-31T00:00:00Z, got ${JSON.stringify(value)}`);
  }
  const date = new Date(value.trim().length === 10 ? `${value.trim()}T00:00:00Z` : value.trim());
  if (Number.isNaN(date.getTime())) throw new InvalidInputError(`${name} is not a valid date: ${JSON.stringify(value)}`);
  return date;
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
