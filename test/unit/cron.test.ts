import { describe, expect, it } from 'vitest';
import { describeCronProblem, isValidTimeZone, nextFireTimes } from '../../core/cron.js';

const iso = (dates: Date[]) => dates.map((date) => date.toISOString());
const at = (text: string) => new Date(text);

describe('describeCronProblem', () => {
  it.each([
    '* * * * *',
    '*/15 * * * *',
    '0 9-17 * * MON-FRI',
    '0 22 * * 1-5',
    '5 4 * * SUN',
    '0 0 * * 7',
    '0 0 1 JAN *',
    '0 0 1,15 * *',
    '0 0 1-5/2 * *',
    '0 0 L * *',
    '0 0 LW * *',
    '0 0 15W * *',
    '0 0 * * 1#2',
    '0 0 * * SUN#2',
    '0 0 * * 5L',
    '0 0 29 2 *',
    ' 0 0 * * * ',
  ])('accepts %j', (expression) => {
    expect(describeCronProblem(expression)).toBeUndefined();
  });

  it.each([
    { expression: '0 0 0 * * *', problem: /5 fields.*found 6/ },
    { expression: '0 0 9 * * MON', problem: /5 fields.*found 6/ },
    { expression: '* * * *', problem: /5 fields.*found 4/ },
    { expression: '', problem: /5 fields/ },
    { expression: 'abc', problem: /5 fields/ },
    { expression: '@daily', problem: /5 fields/ },
    { expression: '60 * * * *', problem: /minute/ },
    { expression: '* 24 * * *', problem: /hour/ },
    { expression: '0 0 32 * *', problem: /day/ },
    { expression: '0 0 * 13 *', problem: /month/ },
    { expression: '0 0 * * 8', problem: /day of week must be 0-7; found 8/ },
    { expression: '*/0 * * * *', problem: /stepping/ },
    { expression: '0 0 L-2 * *', problem: /L/ },
    { expression: '0 0 W * *', problem: /W/ },
    { expression: '0 0 * * 1#6', problem: /nth weekday/ },
  ])('rejects $expression with a reason matching $problem', ({ expression, problem }) => {
    expect(describeCronProblem(expression)).toMatch(problem);
  });

  // Out-of-range values are reported as the caller wrote them, not off by one (croner counts days and
  // months from 0 internally).
  it.each([
    { expression: '0 0 32 * *', value: '32' },
    { expression: '0 0 * 13 *', value: '13' },
  ])('names the out-of-range value $value of $expression as written', ({ expression, value }) => {
    expect(describeCronProblem(expression)).toMatch(new RegExp(`found ${value}$`));
  });

  it.each(['0 0 30 2 *', '0 0 31 4 *', '0 0 31 2,4,6,9,11 *'])(
    'rejects %j, which parses but never matches a date',
    (expression) => {
      expect(describeCronProblem(expression)).toBe('never matches any date');
    },
  );
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney'])(
    'accepts the IANA zone %s',
    (timeZone) => {
      expect(isValidTimeZone(timeZone)).toBe(true);
    },
  );

  it.each(['Mars/Olympus', 'Europe/Londn', '', 'local', 'Z'])('rejects %j', (timeZone) => {
    expect(isValidTimeZone(timeZone)).toBe(false);
  });
});

describe('nextFireTimes', () => {
  it('returns times strictly after the given instant', () => {
    expect(iso(nextFireTimes('0 9 * * *', 'UTC', at('2026-01-01T09:00:00Z'), 2))).toEqual([
      '2026-01-02T09:00:00.000Z',
      '2026-01-03T09:00:00.000Z',
    ]);
  });

  it('applies a fixed-offset zone with a half hour (Asia/Kolkata is UTC+05:30)', () => {
    expect(iso(nextFireTimes('0 9 * * *', 'Asia/Kolkata', at('2026-01-01T00:00:00Z'), 1))).toEqual([
      '2026-01-01T03:30:00.000Z',
    ]);
  });

  it.each([
    {
      what: 'L: the last day of each month',
      expression: '0 0 L * *',
      after: '2026-02-01T00:00:00Z',
      expected: ['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z'],
    },
    {
      what: 'L in February of a leap year',
      expression: '0 0 L 2 *',
      after: '2027-06-01T00:00:00Z',
      expected: ['2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z'],
    },
    {
      // 15 Aug 2026 is a Saturday: the nearest weekday is Friday the 14th.
      what: 'W: the weekday nearest the 15th',
      expression: '0 0 15W * *',
      after: '2026-08-01T00:00:00Z',
      expected: ['2026-08-14T00:00:00.000Z', '2026-09-15T00:00:00.000Z', '2026-10-15T00:00:00.000Z'],
    },
    {
      // 1 Nov 2026 is a Sunday: W never leaves the month, so Monday the 2nd.
      what: 'W on the 1st when it is a Sunday',
      expression: '0 0 1W * *',
      after: '2026-10-15T00:00:00Z',
      expected: ['2026-11-02T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    },
    {
      // 31 May 2026 is a Sunday, so the last weekday is Friday the 29th.
      what: 'LW: the last weekday of each month',
      expression: '0 0 LW * *',
      after: '2026-05-01T00:00:00Z',
      expected: ['2026-05-29T00:00:00.000Z', '2026-06-30T00:00:00.000Z', '2026-07-31T00:00:00.000Z'],
    },
    {
      what: '#: the second Monday',
      expression: '0 0 * * 1#2',
      after: '2026-03-01T00:00:00Z',
      expected: ['2026-03-09T00:00:00.000Z', '2026-04-13T00:00:00.000Z', '2026-05-11T00:00:00.000Z'],
    },
    {
      what: '5L: the last Friday',
      expression: '0 0 * * 5L',
      after: '2026-03-01T00:00:00Z',
      expected: ['2026-03-27T00:00:00.000Z', '2026-04-24T00:00:00.000Z', '2026-05-29T00:00:00.000Z'],
    },
    {
      // Classic cron: with both day fields restricted, either one matching is enough.
      what: 'day-of-month OR day-of-week when both are restricted',
      expression: '0 0 1 * 1',
      after: '2026-03-28T00:00:00Z',
      expected: ['2026-03-30T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '2026-04-06T00:00:00.000Z'],
    },
    {
      what: '29 February only in leap years',
      expression: '0 0 29 2 *',
      after: '2026-01-01T00:00:00Z',
      expected: ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z'],
    },
  ])('computes $what', ({ expression, after, expected }) => {
    expect(iso(nextFireTimes(expression, 'UTC', at(after), expected.length))).toEqual(expected);
  });

  // 2026 clock changes: Europe/London GMT→BST on Sun 29 Mar at 01:00 UTC and BST→GMT on Sun 25 Oct at
  // 01:00 UTC; America/New_York EST→EDT on Sun 8 Mar at 07:00 UTC and EDT→EST on Sun 1 Nov at 06:00 UTC.
  describe('across daylight-saving changes', () => {
    it.each([
      {
        what: '09:30 London, spring forward (GMT+0 then BST+1)',
        expression: '30 9 * * *',
        timeZone: 'Europe/London',
        after: '2026-03-27T12:00:00Z',
        expected: ['2026-03-28T09:30:00.000Z', '2026-03-29T08:30:00.000Z', '2026-03-30T08:30:00.000Z'],
      },
      {
        what: '09:30 London, fall back (BST+1 then GMT+0)',
        expression: '30 9 * * *',
        timeZone: 'Europe/London',
        after: '2026-10-23T12:00:00Z',
        expected: ['2026-10-24T08:30:00.000Z', '2026-10-25T09:30:00.000Z', '2026-10-26T09:30:00.000Z'],
      },
      {
        // 01:30 happens twice on 25 Oct (00:30 UTC in BST, 01:30 UTC in GMT): a daily job runs once.
        what: '01:30 London in the repeated hour, once',
        expression: '30 1 * * *',
        timeZone: 'Europe/London',
        after: '2026-10-23T12:00:00Z',
        expected: ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
      },
      {
        // Local 01:00 does not exist on 29 Mar; each real hour still gets exactly one run.
        what: 'hourly London through the spring gap',
        expression: '0 * * * *',
        timeZone: 'Europe/London',
        after: '2026-03-28T23:30:00Z',
        expected: [
          '2026-03-29T00:00:00.000Z',
          '2026-03-29T01:00:00.000Z',
          '2026-03-29T02:00:00.000Z',
          '2026-03-29T03:00:00.000Z',
        ],
      },
      {
        // Local 01:00 happens twice on 25 Oct; an hourly job runs every real hour, no more, no less.
        what: 'hourly London through the repeated hour',
        expression: '0 * * * *',
        timeZone: 'Europe/London',
        after: '2026-10-24T22:30:00Z',
        expected: [
          '2026-10-24T23:00:00.000Z',
          '2026-10-25T00:00:00.000Z',
          '2026-10-25T01:00:00.000Z',
          '2026-10-25T02:00:00.000Z',
        ],
      },
      {
        what: '09:00 New York, spring forward (EST-5 then EDT-4)',
        expression: '0 9 * * *',
        timeZone: 'America/New_York',
        after: '2026-03-07T00:00:00Z',
        expected: ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z'],
      },
      {
        what: '09:00 New York, fall back (EDT-4 then EST-5)',
        expression: '0 9 * * *',
        timeZone: 'America/New_York',
        after: '2026-10-31T00:00:00Z',
        expected: ['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z'],
      },
      {
        // 01:30 happens twice on 1 Nov (05:30 UTC in EDT, 06:30 UTC in EST): a daily job runs once.
        what: '01:30 New York in the repeated hour, once',
        expression: '30 1 * * *',
        timeZone: 'America/New_York',
        after: '2026-10-31T00:00:00Z',
        expected: ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
      },
      {
        what: 'Mondays 09:00 New York, the week the clocks change',
        expression: '0 9 * * MON',
        timeZone: 'America/New_York',
        after: '2026-03-01T00:00:00Z',
        expected: ['2026-03-02T14:00:00.000Z', '2026-03-09T13:00:00.000Z'],
      },
    ])('computes $what', ({ expression, timeZone, after, expected }) => {
      expect(iso(nextFireTimes(expression, timeZone, at(after), expected.length))).toEqual(expected);
    });

    it.each([
      {
        // 01:30 London does not exist on 29 Mar (01:00 GMT jumps to 02:00 BST = 01:00 UTC).
        timeZone: 'Europe/London',
        expression: '30 1 * * *',
        after: '2026-03-27T12:00:00Z',
        before: '2026-03-28T01:30:00.000Z',
        gapDay: { from: '2026-03-29T01:00:00.000Z', to: '2026-03-29T01:30:00.000Z' },
        afterward: '2026-03-30T00:30:00.000Z',
      },
      {
        // 02:30 New York does not exist on 8 Mar (02:00 EST jumps to 03:00 EDT = 07:00 UTC).
        timeZone: 'America/New_York',
        expression: '30 2 * * *',
        after: '2026-03-07T00:00:00Z',
        before: '2026-03-07T07:30:00.000Z',
        gapDay: { from: '2026-03-08T07:00:00.000Z', to: '2026-03-08T07:30:00.000Z' },
        afterward: '2026-03-09T06:30:00.000Z',
      },
    ])(
      'runs a daily job whose time falls in the $timeZone spring gap once, just after the gap',
      ({ timeZone, expression, after, before, gapDay, afterward }) => {
        // Act
        const [first, onGapDay, next] = iso(nextFireTimes(expression, timeZone, at(after), 3));

        // Assert
        expect(first).toBe(before);
        expect(onGapDay && onGapDay >= gapDay.from && onGapDay <= gapDay.to).toBe(true);
        expect(next).toBe(afterward);
      },
    );
  });
});
