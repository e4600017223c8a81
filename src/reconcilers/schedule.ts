// When a policy's CronJob fires next, for status.nextScheduleTime: the CronJob's 5-field cron syntax
// and macros, evaluated in the policy's time zone (UTC when unset, like a default kube-controller-manager).

import { CronExpressionParser } from 'cron-parser';

/** Kubernetes macros (robfig/cron) as 5-field expressions. */
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/**
 * The longest gap between consecutive scheduled instants among the next `firings` after `afterMs`, in
 * seconds: what "overdue" is measured against (a weekday schedule's gap is the weekend, not one day).
 * undefined when the expression cannot be evaluated.
 */
export function longestScheduleGapSeconds(schedule: string, timeZone: string | undefined, afterMs: number, firings = 32): number | undefined {
  const first = nextScheduleTime(schedule, timeZone, afterMs);
  if (first === undefined) return undefined;
  let previous = first.getTime();
  let longest = 0;
  for (let i = 1; i < firings; i++) {
    const next: number | undefined = nextScheduleTime(schedule, timeZone, previous)?.getTime();
    if (next === undefined) return undefined;
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest / 1000;
}

/** The first scheduled instant strictly after `afterMs`, or undefined when the expression cannot be evaluated. */
export function nextScheduleTime(schedule: string, timeZone: string | undefined, afterMs: number): Date | undefined {
  const expression = MACROS[schedule.trim().toLowerCase()] ?? schedule.trim();
  // Five fields only: cron-parser would read a sixth as seconds, which a CronJob never has.
  if (expression.split(/\s+/).length !== 5) return undefined;
  try {
    const cron = CronExpressionParser.parse(expression, { currentDate: new Date(afterMs), tz: timeZone ?? 'UTC' });
    return cron.next().toDate();
  } catch {
    return undefined;
  }
}
