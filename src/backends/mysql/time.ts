// pyworkflow's MySQL timestamps: DATETIME(6) holding naive UTC wall-clock time (docs/storage.md#time). Written and
// read as 'YYYY-MM-DD HH:MM:SS.ffffff' text so no client or session time zone can shift them.

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** A UTC instant as DATETIME(6) text. */
export function formatDatetime6(d: Date): string {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}

/** DATETIME text as a UTC instant, microseconds floored to the millisecond; null when unreadable. */
export function parseDatetime6(text: unknown): Date | null {
  if (typeof text !== 'string') return null;
  const m = DATETIME.exec(text);
  if (!m) return null; // e.g. '0000-00-00 00:00:00' from a non-strict server: never purged
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  if (Number.isNaN(t) || Number(m[2]) < 1 || Number(m[3]) < 1) return null;
  return new Date(t);
}
