import { cronFor } from './cron.js';

/**
 * What a due cron schedule does at a dispatcher tick: which fire time runs, how many were missed, and
 * when it is due next. The rule of the contract: after an outage the latest missed fire time runs if
 * it is no older than the catch-up window; older ones are counted as missed, never replayed in bulk.
 */

/**
 * The dispatcher runs every minute, so a fire time is always seen up to a minute late: a fire time
 * that young is on time, not "missed", whatever the catch-up window (which may be 0).
 */
export const ON_TIME_SECONDS = 60;

/**
 * Counting missed fire times walks them one by one (~60 µs each). A week of a per-minute schedule is
 * ~10,000: beyond that the count stops growing for that outage, so one tick stays bounded.
 */
export const MAX_COUNTED_MISSED = 10_000;

export interface CronTrigger {
  cronExpression: string;
  timeZone: string;
  catchupWindowSeconds: number;
}

export interface FirePlan {
  /** The fire time to run now; null when every due fire time is older than the window. */
  fireTime: Date | null;
  /** Due fire times that will never run (capped at MAX_COUNTED_MISSED). */
  missed: number;
  /** The first fire time after `now`: the schedule's new `nextRunTime`. */
  nextRunTime: Date | null;
}

/**
 * The plan for a schedule whose stored next fire time `due` has been reached at `now`. Fire times
 * from `due` up to `now` are all due; only the latest can run.
 */
export function planFire(trigger: CronTrigger, due: Date, now: Date): FirePlan {
  const cron = cronFor(trigger.cronExpression, trigger.timeZone);
  const nextRunTime = cron.nextRun(now);
  let latest: Date | null = null;
  let dueCount = 0;
  // `due` was itself computed by this cron (the schedule stores it); starting just before it keeps
  // the walk on the expression's own fire times even if the stored value was not one.
  for (let t = cron.nextRun(new Date(due.getTime() - 1)); t && t <= now; t = cron.nextRun(t)) {
    latest = t;
    dueCount += 1;
    if (dueCount > MAX_COUNTED_MISSED) {
      latest = cron.previousRuns(1, new Date(now.getTime() + 1))[0] ?? latest;
      break;
    }
  }
  if (!latest) return { fireTime: null, missed: 0, nextRunTime };
  const windowMs = Math.max(trigger.catchupWindowSeconds, ON_TIME_SECONDS) * 1000;
  const recent = now.getTime() - latest.getTime() <= windowMs;
  const missed = Math.min(recent ? dueCount - 1 : dueCount, MAX_COUNTED_MISSED);
  return { fireTime: recent ? latest : null, missed, nextRunTime };
}
