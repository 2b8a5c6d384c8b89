import { Cron } from 'croner';

/**
 * Cron rules of the contract: standard 5-field expressions (minute hour day-of-month month
 * day-of-week) with `L`, `W` and `#`, evaluated in an IANA time zone. croner does the calendar
 * work, including daylight-saving gaps and overlaps; this module only pins down what we accept.
 */

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
/** Allowed numbers per field; day of week accepts 7 for Sunday as well as 0. */
const FIELD_RANGES: readonly (readonly [number, number])[] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

/**
 * Out-of-range numbers, checked here because croner reports day of month and month zero-based
 * ("day: 31" for 32). Steps (`/n`) and `#n` are not field values and are left to croner.
 */
function rangeProblem(fields: readonly string[]): string | undefined {
  for (const [i, field] of fields.entries()) {
    const [min, max] = FIELD_RANGES[i] as readonly [number, number];
    for (const part of field.split(',')) {
      const values = (part.split('/')[0] ?? '').split('#')[0] ?? '';
      for (const value of values.split('-')) {
        const number = /^(\d+)[LW]?$/.exec(value)?.[1];
        if (number !== undefined && (Number(number) < min || Number(number) > max)) {
          return `${FIELD_NAMES[i]} must be ${min}-${max}; found ${number}`;
        }
      }
    }
  }
  return undefined;
}

/** Returns why the expression is not acceptable, or undefined when it is. */
export function describeCronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== FIELD_NAMES.length) {
    return `must have 5 fields (${FIELD_NAMES.join(', ')}); found ${fields.length}`;
  }
  const outOfRange = rangeProblem(fields);
  if (outOfRange) return outOfRange;
  try {
    // A pattern that parses but matches no date (e.g. 30 February) would silently never fire.
    if (cronFor(expression, 'UTC').nextRun(new Date()) === null) return 'never matches any date';
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
  return cronFor(expression, timeZone).nextRuns(count, after);
}

/**
 * The evaluator for an accepted expression. Daylight saving, as croner applies it: a fire time in
 * the hour the clocks skip runs once, at the jump (01:30 on the spring-forward night in London runs
 * at 02:00 BST); one in the hour that repeats runs once, at its first occurrence; patterns that
 * fire every hour or minute keep doing so through the repeated hour, by elapsed time.
 * `domAndDow: false` is classic cron: when both day fields are restricted, either may match.
 */
export const cronFor = (expression: string, timeZone: string): Cron =>
  new Cron(expression, { paused: true, timezone: timeZone, mode: '5-part', domAndDow: false });
