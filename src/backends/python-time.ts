// Python datetime text as pyworkflow stores it in SQLite, DynamoDB and the file store
// (docs/storage.md#time): reading it robustly, and writing a cutoff in exactly its shape.

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses `2026-03-01T14:30:24.123456+00:00` and its variants (no fraction, `Z`, space separator,
 * another offset). A value without a zone is UTC (pyworkflow's naive `utcnow()` strings). Anything
 * else (numbers, garbage) is null: the caller never purges a run it cannot date.
 */
export function parsePythonTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const m = ISO.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const wall = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
  // Date.UTC rolls over out-of-range fields (month 13, day 32, hour 25): such text is not a real instant.
  if (
    Number.isNaN(wall.getTime()) || wall.getUTCFullYear() !== Number(y) || wall.getUTCMonth() !== Number(mo) - 1 ||
    wall.getUTCDate() !== Number(d) || wall.getUTCHours() !== Number(h) || wall.getUTCMinutes() !== Number(mi) ||
    wall.getUTCSeconds() !== Number(s)
  ) {
    return null;
  }
  let t = wall.getTime();
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return new Date(t);
}

/**
 * `datetime.isoformat()` of an aware UTC datetime: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, the fraction
 * omitted when it is zero, exactly as Python writes it. Text comparison against stored values is
 * only correct in this shape (a space separator or an epoch number would mis-order, H13).
 */
export function formatPythonUtc(date: Date): string {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = date.getUTCMilliseconds();
  const base = iso.slice(0, 19);
  return ms === 0 ? `${base}+00:00` : `${base}.${String(ms).padStart(3, '0')}000+00:00`;
}

/**
 * Stores that keep timestamps as text are narrowed in their query language by text comparison with
 * a cutoff moved this far later, then tested exactly on parsed instants: text in another offset or
 * with a space separator can sort up to 14 h away from its instant, so the narrowing never misses one.
 */
export const COARSE_MARGIN_MS = 24 * 60 * 60 * 1000;
