import { Cron } from 'croner';

/**
 * Cron rules of the contract: standard 5-field expressions (minute hour day-of-month month
 * day-of-week) with `L`, `W` and `#`, evaluated in an IANA time zone. croner does the calendar
 * work, including daylight-saving gaps and overlaps; this module only pins down what we accept.
 */

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;

/** Returns why the expression is not acceptable, or undefined when it is. */
export function describeCronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== FIELD_NAMES.length) {
    return `must have 5 fields (${FIELD_NAMES.join(', ')}); found ${fields.length}`;
  }
  try {
    // A pattern that parses but matches no date (e.g. 30 February) would silently never fire.
    if (parse(expression, 'UTC').nextRun(new Date()) === null) return 'never matches any date';
    return undefined;
  } catch (error) {
    return error instanceof Error
      ? error.message.replace(/^CronPattern: /, '')
      : 'is not a valid cron expression';
  }
}

/** Whether the runtime knows the IANA time zone (e.g. `Europe/London`, `UTC`). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The next `count` fire times strictly after `after`, in UTC. */
export function nextFireTimes(expression: string, timeZone: string, after: Date, count: number): Date[] {
  return parse(expression, timeZone).nextRuns(count, after);
}

// `domAndDow: false` is classic cron: when both day fields are restricted, either may match.
const parse = (expression: string, timeZone: string): Cron =>
  new Cron(expression, { paused: true, timezone: timeZone, mode: '5-part', domAndDow: false });
