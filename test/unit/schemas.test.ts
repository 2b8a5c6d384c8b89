import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.js';
import { CreateApiKeyInput, ListApiKeysQuery } from '../../core/schemas/api-key.js';
import { ListExecutionsQuery } from '../../core/schemas/execution.js';
import { ListSchedulesQuery, MAX_STEPS, ScheduleInput } from '../../core/schemas/schedule.js';
import { parseOrThrow } from '../../core/schemas/validation.js';
import { rowsOf } from '../helpers/rows.js';

/** The validationErrors a rejected value produces (fails the test when the value is accepted). */
function rejectionOf(schema: Parameters<typeof parseOrThrow>[0], value: unknown, root?: string) {
  try {
    parseOrThrow(schema, value, root);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).validationErrors ?? {};
  }
  throw new Error('expected the value to be rejected');
}

/** One test per refused query value (values grouped by parameter): it alone is named in the rejection. */
function itRejectsEachQueryValue(
  schema: Parameters<typeof parseOrThrow>[0],
  refused: Readonly<Record<string, readonly string[]>>,
  title = 'rejects $field=$value',
) {
  it.each(rowsOf('field', 'value', refused))(title, ({ field, value }) => {
    expect(Object.keys(rejectionOf(schema, { [field]: value }, 'query'))).toEqual([field]);
  });
}

/** One test per field a list sorts by, with `sortDescending` as the query's text for it. */
function itAcceptsEachSortBy(
  schema: Parameters<typeof parseOrThrow>[0],
  sortBys: readonly string[],
  sortDescending: boolean,
) {
  it.each(sortBys)('accepts sortBy=%s', (sortBy) => {
    expect(parseOrThrow(schema, { sortBy, sortDescending: String(sortDescending) }, 'query')).toMatchObject({
      sortBy,
      sortDescending,
    });
  });
}

const manual = { name: 'Nightly sync', triggerType: 'Manual' };
const validSteps = {
  RunProfile: {
    name: 'Import HR',
    stepType: 'RunProfile',
    connectedSystemId: 3,
    runProfileName: 'Full Import',
  },
  PowerShell: { name: 'Tidy up', stepType: 'PowerShell', scriptPath: 'C:\\scripts\\tidy.ps1' },
  Executable: { name: 'Export', stepType: 'Executable', executablePath: '/usr/local/bin/export' },
  SqlScript: { name: 'Stats', stepType: 'SqlScript', sqlConnection: 'reporting', sqlScriptPath: 'stats.sql' },
} as const;
const withStep = (step: Record<string, unknown>) => ({ ...manual, steps: [step] });
const powerShell = (fields: Record<string, unknown>) => withStep({ ...validSteps.PowerShell, ...fields });

describe('ScheduleInput', () => {
  it('fills the defaults of a minimal manual schedule', () => {
    expect(parseOrThrow(ScheduleInput, manual)).toEqual({
      name: 'Nightly sync',
      triggerType: 'Manual',
      timeZone: 'UTC',
      isEnabled: false,
      overlapPolicy: 'Skip',
      catchupWindowSeconds: 300,
      steps: [],
    });
  });

  it.each(Object.entries(validSteps))('accepts a minimal %s step and fills its defaults', (_, step) => {
    // Act
    const parsed = parseOrThrow(ScheduleInput, withStep(step));

    // Assert
    expect(parsed.steps[0]).toEqual({
      ...step,
      executionMode: 'Sequential',
      continueOnFailure: false,
      timeoutSeconds: 3600,
      workerPool: 'default',
    });
  });

  it('accepts a full cron schedule with L, W and # in its expression and an IANA zone', () => {
    // Arrange
    const input = {
      name: 'Month end',
      description: 'Exports on the last weekday',
      triggerType: 'Cron',
      cronExpression: '30 22 LW * *',
      timeZone: 'Europe/London',
      isEnabled: true,
      overlapPolicy: 'BufferOne',
      catchupWindowSeconds: 0,
      steps: [
        { ...validSteps.RunProfile, executionMode: 'Sequential' },
        { ...validSteps.Executable, executionMode: 'ParallelWithPrevious', arguments: '-c "echo hi"' },
      ],
    };

    // Act
    const parsed = parseOrThrow(ScheduleInput, input);

    // Assert
    expect(parsed).toMatchObject({ cronExpression: '30 22 LW * *', timeZone: 'Europe/London' });
    expect(parsed.steps).toHaveLength(2);
  });

  it.each([
    { stepType: 'RunProfile', missing: ['connectedSystemId', 'runProfileName'] },
    { stepType: 'PowerShell', missing: ['scriptPath'] },
    { stepType: 'Executable', missing: ['executablePath'] },
    { stepType: 'SqlScript', missing: ['sqlConnection', 'sqlScriptPath'] },
  ])('names each missing required field of a $stepType step with its path', ({ stepType, missing }) => {
    // Act
    const errors = rejectionOf(ScheduleInput, {
      ...manual,
      steps: [validSteps.PowerShell, { name: 'x', stepType }],
    });

    // Assert
    expect(errors).toEqual(Object.fromEntries(missing.map((field) => [`steps[1].${field}`, ['Required']])));
  });

  it.each([
    { what: 'name', input: { triggerType: 'Manual' }, field: 'name' },
    { what: 'triggerType', input: { name: 'x' }, field: 'triggerType' },
    {
      what: 'step name',
      input: withStep({ stepType: 'PowerShell', scriptPath: 'a.ps1' }),
      field: 'steps[0].name',
    },
  ])('names a missing $what', ({ input, field }) => {
    expect(Object.keys(rejectionOf(ScheduleInput, input))).toEqual([field]);
  });

  it.each([
    { what: 'absent', step: { name: 'x' } },
    { what: 'unknown', step: { name: 'x', stepType: 'Python' } },
  ])('explains the step types when stepType is $what', ({ step }) => {
    expect(rejectionOf(ScheduleInput, withStep(step))).toEqual({
      'steps[0].stepType': ['Required: one of RunProfile, PowerShell, Executable, SqlScript'],
    });
  });

  it('rejects unknown fields at the top level and inside steps, naming each', () => {
    // Act
    const errors = rejectionOf(ScheduleInput, {
      ...manual,
      enabled: true,
      steps: [{ ...validSteps.PowerShell, sqlConnection: 'main' }],
    });

    // Assert
    expect(errors).toEqual({ enabled: ['Unknown field'], 'steps[0].sqlConnection': ['Unknown field'] });
  });

  it.each([
    { what: 'absent', cron: {} },
    { what: 'null', cron: { cronExpression: null } },
  ])('requires cronExpression for a Cron schedule when it is $what', ({ cron }) => {
    expect(rejectionOf(ScheduleInput, { ...manual, triggerType: 'Cron', ...cron })).toEqual({
      cronExpression: ['Required when triggerType is Cron'],
    });
  });

  it.each([
    { expression: '0 0 * * * *', reason: /5 fields/ },
    { expression: '0 0 30 2 *', reason: /never matches/ },
    { expression: '61 * * * *', reason: /minute/ },
    { expression: '', reason: /5 fields/ },
  ])('rejects the cron expression $expression with a clear reason', ({ expression, reason }) => {
    // Act
    const errors = rejectionOf(ScheduleInput, { ...manual, triggerType: 'Cron', cronExpression: expression });

    // Assert
    expect(Object.keys(errors)).toEqual(['cronExpression']);
    expect(errors.cronExpression?.[0]).toMatch(/^Invalid cron expression: /);
    expect(errors.cronExpression?.[0]).toMatch(reason);
  });

  it('reports every problem at once, the cron requirement included', () => {
    expect(rejectionOf(ScheduleInput, { triggerType: 'Cron', timeZone: 'Nowhere/Else' })).toEqual({
      name: ['Required'],
      timeZone: ['Must be an IANA time zone such as Europe/London or UTC'],
      cronExpression: ['Required when triggerType is Cron'],
    });
  });

  it.each(['Mars/Olympus', 'Europe/Londn', ''])('rejects the time zone %j', (timeZone) => {
    expect(rejectionOf(ScheduleInput, { ...manual, timeZone })).toEqual({
      timeZone: ['Must be an IANA time zone such as Europe/London or UTC'],
    });
  });

  it.each([
    { what: 'name of 200 characters', input: { ...manual, name: 'n'.repeat(200) } },
    { what: 'description of 1000 characters', input: { ...manual, description: 'd'.repeat(1000) } },
    { what: 'step name of 200 characters', input: powerShell({ name: 's'.repeat(200) }) },
    { what: 'arguments of 2000 characters', input: powerShell({ arguments: 'a'.repeat(2000) }) },
    { what: 'timeoutSeconds of 1', input: powerShell({ timeoutSeconds: 1 }) },
    { what: 'timeoutSeconds of 86400', input: powerShell({ timeoutSeconds: 86_400 }) },
    { what: 'null arguments', input: powerShell({ arguments: null }) },
    { what: 'a worker pool with dots and dashes', input: powerShell({ workerPool: 'dc-01.east_2' }) },
    { what: `${MAX_STEPS} steps`, input: { ...manual, steps: Array(MAX_STEPS).fill(validSteps.PowerShell) } },
  ])('accepts a $what', ({ input }) => {
    expect(() => parseOrThrow(ScheduleInput, input)).not.toThrow();
  });

  it.each([
    { what: 'name of 201 characters', input: { ...manual, name: 'n'.repeat(201) }, field: 'name' },
    { what: 'blank name', input: { ...manual, name: '   ' }, field: 'name' },
    {
      what: 'description of 1001 characters',
      input: { ...manual, description: 'd'.repeat(1001) },
      field: 'description',
    },
    {
      what: 'step name of 201 characters',
      input: powerShell({ name: 's'.repeat(201) }),
      field: 'steps[0].name',
    },
    {
      what: 'arguments of 2001 characters',
      input: powerShell({ arguments: 'a'.repeat(2001) }),
      field: 'steps[0].arguments',
    },
    {
      what: 'timeoutSeconds of 0',
      input: powerShell({ timeoutSeconds: 0 }),
      field: 'steps[0].timeoutSeconds',
    },
    {
      what: 'timeoutSeconds of 86401',
      input: powerShell({ timeoutSeconds: 86_401 }),
      field: 'steps[0].timeoutSeconds',
    },
    {
      what: 'fractional timeoutSeconds',
      input: powerShell({ timeoutSeconds: 1.5 }),
      field: 'steps[0].timeoutSeconds',
    },
    {
      what: 'timeoutSeconds as a string',
      input: powerShell({ timeoutSeconds: '60' }),
      field: 'steps[0].timeoutSeconds',
    },
    {
      what: 'worker pool with a space',
      input: powerShell({ workerPool: 'east pool' }),
      field: 'steps[0].workerPool',
    },
    { what: 'step id that is not a GUID', input: powerShell({ id: 'step-1' }), field: 'steps[0].id' },
    {
      what: 'executionMode it does not know',
      input: powerShell({ executionMode: 'Parallel' }),
      field: 'steps[0].executionMode',
    },
    {
      what: 'overlap policy it does not know',
      input: { ...manual, overlapPolicy: 'Queue' },
      field: 'overlapPolicy',
    },
    {
      what: 'triggerType it does not know',
      input: { ...manual, triggerType: 'Event' },
      field: 'triggerType',
    },
    {
      what: 'negative catch-up window',
      input: { ...manual, catchupWindowSeconds: -1 },
      field: 'catchupWindowSeconds',
    },
    { what: 'isEnabled as a string', input: { ...manual, isEnabled: 'true' }, field: 'isEnabled' },
    {
      what: 'connectedSystemId as a string',
      input: withStep({ ...validSteps.RunProfile, connectedSystemId: '3' }),
      field: 'steps[0].connectedSystemId',
    },
    {
      what: 'connectedSystemId of 0',
      input: withStep({ ...validSteps.RunProfile, connectedSystemId: 0 }),
      field: 'steps[0].connectedSystemId',
    },
    {
      what: 'SQL connection string instead of a connection name',
      input: withStep({ ...validSteps.SqlScript, sqlConnection: 'Server=db;User Id=sa;Password=secret' }),
      field: 'steps[0].sqlConnection',
    },
    {
      what: `list of ${MAX_STEPS + 1} steps`,
      input: { ...manual, steps: Array(MAX_STEPS + 1).fill(validSteps.PowerShell) },
      field: 'steps',
    },
  ])('rejects a $what, naming $field', ({ input, field }) => {
    expect(Object.keys(rejectionOf(ScheduleInput, input))).toEqual([field]);
  });

  it.each([
    { what: 'an array', body: [] },
    { what: 'a string', body: 'schedule' },
    { what: 'JSON null', body: null },
    { what: 'an empty body', body: undefined },
  ])('rejects $what as the body with a ValidationError on body', ({ body }) => {
    expect(Object.keys(rejectionOf(ScheduleInput, body))).toEqual(['body']);
  });
});

describe.each([
  { schema: ListSchedulesQuery, name: 'ListSchedulesQuery' },
  { schema: ListExecutionsQuery, name: 'ListExecutionsQuery' },
  { schema: ListApiKeysQuery, name: 'ListApiKeysQuery' },
])('$name paging parameters', ({ schema }) => {
  it('defaults pageSize to 20 and leaves page unset', () => {
    const parsed = parseOrThrow(schema, {}, 'query');

    expect(parsed.pageSize).toBe(20);
    expect(parsed.page).toBeUndefined();
  });

  it.each([
    { page: '1', pageSize: '1' },
    { page: '7', pageSize: '100' },
    { page: '1000000', pageSize: '20' },
  ])('parses page $page and pageSize $pageSize as numbers', ({ page, pageSize }) => {
    expect(parseOrThrow(schema, { page, pageSize }, 'query')).toMatchObject({
      page: Number(page),
      pageSize: Number(pageSize),
    });
  });

  itRejectsEachQueryValue(
    schema,
    {
      page: ['0', '-1', '1.5', 'abc', '', '1e2', ' 1', '1000001'],
      pageSize: ['0', '101', '1.5', 'abc', '', '0x10'],
    },
    'rejects $field=$value rather than clamping it',
  );

  it('rejects an unknown parameter, naming it', () => {
    expect(rejectionOf(schema, { colour: 'red' }, 'query')).toEqual({ colour: ['Unknown parameter'] });
  });
});

describe('ListSchedulesQuery', () => {
  it('defaults to sorting by created, ascending', () => {
    expect(parseOrThrow(ListSchedulesQuery, {}, 'query')).toEqual({
      pageSize: 20,
      sortBy: 'created',
      sortDescending: false,
    });
  });

  itAcceptsEachSortBy(ListSchedulesQuery, ['name', 'enabled', 'lastRunTime', 'nextRunTime', 'created'], true);

  itRejectsEachQueryValue(ListSchedulesQuery, {
    sortBy: ['queuedAt'],
    sortDescending: ['yes', '1'],
    search: ['s'.repeat(201)],
  });

  it('rejects nextToken, which only the executions list takes', () => {
    expect(rejectionOf(ListSchedulesQuery, { nextToken: 'abc' }, 'query')).toEqual({
      nextToken: ['Unknown parameter'],
    });
  });
});

describe('ListExecutionsQuery', () => {
  it('defaults to sorting by queuedAt, newest first', () => {
    expect(parseOrThrow(ListExecutionsQuery, {}, 'query')).toEqual({
      pageSize: 20,
      sortBy: 'queuedAt',
      sortDescending: true,
    });
  });

  itAcceptsEachSortBy(ListExecutionsQuery, ['queuedAt', 'startedAt', 'completedAt', 'status'], false);

  it('accepts a scheduleId GUID and a nextToken', () => {
    // Arrange
    const query = { scheduleId: '6F1C2D3E-1234-4ABC-9DEF-0123456789AB', nextToken: 'eyJxIjoiYSJ9' };

    // Act / Assert
    expect(parseOrThrow(ListExecutionsQuery, query, 'query')).toMatchObject(query);
  });

  itRejectsEachQueryValue(ListExecutionsQuery, {
    scheduleId: ['not-a-guid'],
    sortBy: ['name'],
    sortDescending: ['TRUE'],
    nextToken: ['', 't'.repeat(4097)],
    status: ['Failed,Bogus', 'failed', ''],
    initiatedByType: ['Robot'],
    from: ['2026-04-01'],
    to: ['yesterday'],
  });

  it('reads a status list as distinct statuses', () => {
    expect(parseOrThrow(ListExecutionsQuery, { status: 'Failed, Completed,Failed' }, 'query')).toMatchObject({
      status: ['Completed', 'Failed'],
    });
  });

  it('holds from/to as UTC milliseconds, rounding a finer from up and a finer to down', () => {
    // Act
    const parsed = parseOrThrow(
      ListExecutionsQuery,
      { from: '2026-04-01T02:00:00.0001+02:00', to: '2026-04-01T00:00:05.9999Z' },
      'query',
    );

    // Assert
    expect(parsed).toMatchObject({ from: '2026-04-01T00:00:00.001Z', to: '2026-04-01T00:00:05.999Z' });
  });

  it('refuses from later than to, naming from', () => {
    const errors = rejectionOf(
      ListExecutionsQuery,
      { from: '2026-04-02T00:00:00Z', to: '2026-04-01T00:00:00Z' },
      'query',
    );

    expect(Object.keys(errors)).toEqual(['from']);
  });
});

describe('CreateApiKeyInput', () => {
  it('accepts a name, roles and a future expiry', () => {
    // Arrange
    const input = { name: 'ci', roles: ['Administrator', 'Worker'], expiresAt: '2999-01-01T00:00:00Z' };

    // Act / Assert
    expect(parseOrThrow(CreateApiKeyInput, input)).toEqual(input);
  });

  it('accepts the pools a Worker key may serve, named as step pools are', () => {
    // Arrange
    const input = { name: 'east', roles: ['Worker'], pools: ['dc-01.east_2', 'default'] };

    // Act / Assert
    expect(parseOrThrow(CreateApiKeyInput, input)).toEqual(input);
  });

  it.each([
    { what: 'no pools', fields: { pools: [] }, field: 'pools' },
    { what: 'a repeated pool', fields: { pools: ['a', 'a'] }, field: 'pools' },
    { what: 'a pool name with a space', fields: { pools: ['east pool'] }, field: 'pools[0]' },
    { what: 'a pool name with a comma', fields: { pools: ['a,b'] }, field: 'pools[0]' },
    { what: 'the every-pool marker', fields: { pools: ['*'] }, field: 'pools[0]' },
    {
      what: 'pools on a key without the Worker role',
      fields: { roles: ['Administrator'], pools: ['a'] },
      field: 'pools',
    },
    { what: 'no roles', fields: { roles: [] }, field: 'roles' },
    { what: 'a repeated role', fields: { roles: ['Worker', 'Worker'] }, field: 'roles' },
    { what: 'an unknown role', fields: { roles: ['Root'] }, field: 'roles[0]' },
    { what: 'a past expiry', fields: { expiresAt: '2000-01-01T00:00:00Z' }, field: 'expiresAt' },
    { what: 'an expiry that is not a date-time', fields: { expiresAt: 'tomorrow' }, field: 'expiresAt' },
    { what: 'a blank name', fields: { name: ' ' }, field: 'name' },
    { what: 'an unknown field', fields: { key: 'sek_mine' }, field: 'key' },
  ])('rejects $what, naming $field', ({ fields, field }) => {
    expect(Object.keys(rejectionOf(CreateApiKeyInput, { name: 'k', roles: ['Worker'], ...fields }))).toEqual([
      field,
    ]);
  });
});

describe('parseOrThrow with prototype-named fields', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'reports an unknown body field named %s as an own key of validationErrors',
    (field) => {
      // Arrange: JSON.parse makes every key an own property, `__proto__` too, as a request body would.
      const body = JSON.parse(`{"name":"k","roles":["Worker"],"${field}":{"polluted":true}}`);

      // Act
      const errors = rejectionOf(CreateApiKeyInput, body);

      // Assert
      expect(Object.keys(errors)).toEqual([field]);
      expect(Object.hasOwn(errors, field)).toBe(true);
      expect(errors[field]).toEqual(['Unknown field']);
      expect(JSON.parse(JSON.stringify(errors))).toEqual(JSON.parse(`{"${field}":["Unknown field"]}`));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('reports unknown query parameters named constructor and __proto__ beside a bad one', () => {
    // Arrange
    const query = JSON.parse('{"constructor":"1","__proto__":"x","pageSize":"0"}');

    // Act
    const errors = rejectionOf(ListSchedulesQuery, query, 'query');

    // Assert
    expect(Object.keys(errors).sort()).toEqual(['__proto__', 'constructor', 'pageSize']);
    expect(errors.constructor).toEqual(['Unknown parameter']);
    expect(Object.hasOwn(errors, '__proto__')).toBe(true);
  });
});
