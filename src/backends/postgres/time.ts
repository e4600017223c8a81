// Reads PostgreSQL timestamptz text (sessions run with TimeZone=UTC) into a Date exactly: the
// microseconds are floored to the millisecond by integer arithmetic, so `floor(t) < cutoff` holds
// exactly when `t < cutoff` for every millisecond cutoff (pg's default parser multiplies a float).

const TIMESTAMPTZ = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?( BC)?$/;

export function parseTimestamptz(text: string): Date | null {
  const m = TIMESTAMPTZ.exec(text);
  if (!m || m[11] !== undefined) return null; // infinity, BC: not an instant a sweep can compare
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  const sign = m[8]!.startsWith('-') ? -1 : 1;
  const offsetMin = sign * (Math.abs(Number(m[8])) * 60 + Number(m[9] ?? 0)) + sign * (Number(m[10] ?? 0) / 60);
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const date = new Date(utc - offsetMin * 60_000);
  return Number.isNaN(date.getTime()) ? null : date;
}
