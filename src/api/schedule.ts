// The schedule and time-zone syntax a RetentionPolicy accepts, as regular expressions that mean the same
// in RE2 (CEL's `matches` in the API server) and in JavaScript, so admission and runtime agree.

/** Case-insensitive name as a character-class sequence: RE2 has (?i) but JavaScript has no inline flags. */
function anyCase(name: string): string {
  return [...name].map((c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).join('');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * One cron field: a comma list of `*`, `?` (day fields), a value or a range, each with an optional `/step`.
 * Values are bounded per field (minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, weekday 0-6 or
 * SUN-SAT), the bounds Kubernetes' CronJob parser (robfig/cron, standard) enforces.
 */
function field(value: string, allowQuestionMark: boolean): string {
  const start = allowQuestionMark ? `[*?]|(?:${value})(?:-(?:${value}))?` : `[*]|(?:${value})(?:-(?:${value}))?`;
  const element = `(?:${start})(?:/[1-9][0-9]{0,2})?`;
  return `${element}(?:,${element})*`;
}

const MINUTE = '[0-5]?[0-9]';
const HOUR = '[01]?[0-9]|2[0-3]';
const DAY_OF_MONTH = '0?[1-9]|[12][0-9]|3[01]';
const MONTH = ['0?[1-9]|1[0-2]', ...MONTHS.map(anyCase)].join('|');
const DAY_OF_WEEK = ['[0-6]', ...WEEKDAYS.map(anyCase)].join('|');

export const SCHEDULE_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const;

/**
 * A 5-field cron expression (minute hour day-of-month month day-of-week, single spaces) or a macro.
 * No backslashes, so it can sit in a CEL string literal unescaped. `@every` is not accepted: the
 * controller computes nextScheduleTime with standard cron semantics.
 */
export const SCHEDULE_PATTERN =
  `^(?:@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)|` +
  `(?:${field(MINUTE, false)}) (?:${field(HOUR, false)}) (?:${field(DAY_OF_MONTH, true)}) ` +
  `(?:${field(MONTH, false)}) (?:${field(DAY_OF_WEEK, true)}))$`;

const SCHEDULE_RE = new RegExp(SCHEDULE_PATTERN);

/** The 5-field equivalent of each macro (cron libraries disagree on which macros they know, e.g. @midnight). */
const MACRO_EXPANSIONS: Record<(typeof SCHEDULE_MACROS)[number], string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** A valid schedule as five fields (macros expanded), for computing next run times with any cron library. */
export function scheduleAsFiveFields(schedule: string): string {
  return (MACRO_EXPANSIONS as Record<string, string>)[schedule] ?? schedule;
}

export function isValidSchedule(schedule: string): boolean {
  return schedule.length <= 128 && SCHEDULE_RE.test(schedule);
}

/** An IANA time-zone name: UTC, Europe/Berlin, America/Argentina/Buenos_Aires, Etc/GMT+5, EST5EDT. */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9]*(?:[/_+-][A-Za-z0-9]+)*$';
const TIME_ZONE_RE = new RegExp(TIME_ZONE_PATTERN);

export function isValidTimeZoneName(timeZone: string): boolean {
  return timeZone.length <= 64 && TIME_ZONE_RE.test(timeZone);
}
