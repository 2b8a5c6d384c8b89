import { describe, expect, it } from 'vitest';
import { MAX_COUNTED_MISSED, planFire } from '../../core/catch-up.js';

const at = (text: string) => new Date(text);
const iso = (date: Date | null) => date?.toISOString() ?? null;
const daily = (catchupWindowSeconds = 300, timeZone = 'UTC') => ({
  cronExpression: '0 6 * * *',
  timeZone,
  catchupWindowSeconds,
});
/** A trigger of `cronExpression` in `timeZone` with the default 5-minute catch-up window. */
const cron = (cronExpression: string, timeZone = 'UTC') => ({
  cronExpression,
  timeZone,
  catchupWindowSeconds: 300,
});

describe('planFire', () => {
  it('runs an on-time fire time and moves on to the next one', () => {
    const plan = planFire(daily(), at('2026-04-05T06:00:00Z'), at('2026-04-05T06:00:00.400Z'));

    expect({ ...plan, fireTime: iso(plan.fireTime), nextRunTime: iso(plan.nextRunTime) }).toEqual({
      fireTime: '2026-04-05T06:00:00.000Z',
      missed: 0,
      nextRunTime: '2026-04-06T06:00:00.000Z',
    });
  });

  it('runs a fire time seen within the one-minute tick even with a catch-up window of 0', () => {
    const plan = planFire(daily(0), at('2026-04-05T06:00:00Z'), at('2026-04-05T06:00:59Z'));

    expect(iso(plan.fireTime)).toBe('2026-04-05T06:00:00.000Z');
    expect(plan.missed).toBe(0);
  });

  it('after an outage runs the latest fire time when it is within the window and counts the older ones', () => {
    // Every 15 minutes; down from 05:50 to 07:03: 06:00, 06:15, 06:30, 06:45 and 07:00 were due.
    const trigger = cron('*/15 * * * *');

    const plan = planFire(trigger, at('2026-04-05T06:00:00Z'), at('2026-04-05T07:03:00Z'));

    expect(iso(plan.fireTime)).toBe('2026-04-05T07:00:00.000Z');
    expect(plan.missed).toBe(4);
    expect(iso(plan.nextRunTime)).toBe('2026-04-05T07:15:00.000Z');
  });

  it('after an outage longer than the window runs nothing and counts every due fire time as missed', () => {
    // Daily at 06:00, down for three days: 5, 6 and 7 April passed; it is now 7 April 06:10, too late.
    const plan = planFire(daily(300), at('2026-04-05T06:00:00Z'), at('2026-04-07T06:10:00Z'));

    expect(plan.fireTime).toBeNull();
    expect(plan.missed).toBe(3);
    expect(iso(plan.nextRunTime)).toBe('2026-04-08T06:00:00.000Z');
  });

  it('treats the window boundary as inclusive', () => {
    expect(iso(planFire(daily(600), at('2026-04-05T06:00:00Z'), at('2026-04-05T06:10:00Z')).fireTime)).toBe(
      '2026-04-05T06:00:00.000Z',
    );
    expect(
      planFire(daily(600), at('2026-04-05T06:00:00Z'), at('2026-04-05T06:10:00.001Z')).fireTime,
    ).toBeNull();
  });

  it('stops counting at MAX_COUNTED_MISSED yet still finds the latest fire time', () => {
    // Every minute, down for 30 days (43,200 fire times).
    const trigger = cron('* * * * *');

    const plan = planFire(trigger, at('2026-04-01T00:00:00Z'), at('2026-05-01T00:00:30Z'));

    expect(iso(plan.fireTime)).toBe('2026-05-01T00:00:00.000Z');
    expect(plan.missed).toBe(MAX_COUNTED_MISSED);
    expect(iso(plan.nextRunTime)).toBe('2026-05-01T00:01:00.000Z');
  });

  // 2026 clock changes: London 29 Mar 01:00 UTC (GMT→BST) and 25 Oct 01:00 UTC (BST→GMT);
  // New York 8 Mar 07:00 UTC (EST→EDT) and 1 Nov 06:00 UTC (EDT→EST).
  describe('in a time zone, across daylight-saving changes', () => {
    it('London 06:00 daily: the day after spring forward fires at 05:00 UTC, the outage count is by local day', () => {
      // Down from Friday 27 Mar 12:00 to Monday 30 Mar 05:02 UTC (06:02 BST): 28, 29 and 30 Mar were due.
      const plan = planFire(
        daily(300, 'Europe/London'),
        at('2026-03-28T06:00:00Z'),
        at('2026-03-30T05:02:00Z'),
      );

      expect(iso(plan.fireTime)).toBe('2026-03-30T05:00:00.000Z');
      expect(plan.missed).toBe(2);
      expect(iso(plan.nextRunTime)).toBe('2026-03-31T05:00:00.000Z');
    });

    it('London 01:30 daily on the spring-forward night fires once, at the jump (01:00 UTC = 02:00 BST)', () => {
      const trigger = cron('30 1 * * *', 'Europe/London');

      const plan = planFire(trigger, at('2026-03-29T01:00:00Z'), at('2026-03-29T01:00:01Z'));

      expect(iso(plan.fireTime)).toBe('2026-03-29T01:00:00.000Z');
      expect(iso(plan.nextRunTime)).toBe('2026-03-30T00:30:00.000Z');
    });

    it('London 01:30 daily on the fall-back night fires at the first 01:30 only', () => {
      const trigger = cron('30 1 * * *', 'Europe/London');

      const plan = planFire(trigger, at('2026-10-25T00:30:00Z'), at('2026-10-25T00:30:02Z'));

      expect(iso(plan.fireTime)).toBe('2026-10-25T00:30:00.000Z');
      // Not 01:30 UTC (the second 01:30, GMT): the next is the following night.
      expect(iso(plan.nextRunTime)).toBe('2026-10-26T01:30:00.000Z');
    });

    it('New York 02:30 daily on the spring-forward night fires at 03:00 EDT (07:00 UTC)', () => {
      const trigger = cron('30 2 * * *', 'America/New_York');

      const plan = planFire(trigger, at('2026-03-08T07:00:00Z'), at('2026-03-08T07:00:05Z'));

      expect(iso(plan.fireTime)).toBe('2026-03-08T07:00:00.000Z');
      expect(iso(plan.nextRunTime)).toBe('2026-03-09T06:30:00.000Z');
    });

    it('New York hourly through the repeated hour: an outage over it counts each real hour', () => {
      // 00:00–03:00 EDT/EST on 1 Nov is four real hours (01:00 happens twice): 04:00, 05:00, 06:00, 07:00 UTC.
      const trigger = cron('0 * * * *', 'America/New_York');

      const plan = planFire(trigger, at('2026-11-01T04:00:00Z'), at('2026-11-01T08:00:30Z'));

      expect(iso(plan.fireTime)).toBe('2026-11-01T08:00:00.000Z');
      expect(plan.missed).toBe(4);
    });
  });
});
