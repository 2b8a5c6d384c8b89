import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SCHEDULE_BYTES } from '../../core/adapters/dynamodb/schedule-store.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import type {
  ListSchedulesQuery,
  Schedule,
  ScheduleSortBy,
  ScheduleSummary,
} from '../../core/schemas/schedule.js';
import { MAX_STEPS } from '../../core/schemas/schedule.js';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { bothWays, MINUTE, operator, scheduleInput, type TestClock } from './fixtures.js';
import { servicesOnFreshTables } from './services.js';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const listQuery = (overrides: Partial<ListSchedulesQuery> = {}): ListSchedulesQuery => ({
  pageSize: 100,
  sortBy: 'created',
  sortDescending: false,
  ...overrides,
});

describe('ScheduleService', () => {
  let clock: TestClock;
  let services: Services;

  beforeEach(async () => {
    ({ clock, services } = await servicesOnFreshTables('2026-03-07T15:00:00.000Z'));
  });

  describe('create and get', () => {
    it('stores a schedule with stages, step ids and timestamps, and reads it back unchanged', async () => {
      // Act
      const created = await services.schedules.create(scheduleInput());
      const read = await services.schedules.get(created.id);

      // Assert
      expect(created.id).toMatch(GUID);
      expect(created).toMatchObject({
        name: 'Nightly HR sync',
        description: 'Imports HR, syncs, exports to AD',
        triggerType: 'Manual',
        cronExpression: null,
        timeZone: 'UTC',
        isEnabled: false,
        overlapPolicy: 'Skip',
        catchupWindowSeconds: 300,
        nextRunTime: null,
        lastRunTime: null,
        stepCount: 4,
        created: '2026-03-07T15:00:00.000Z',
        lastUpdated: '2026-03-07T15:00:00.000Z',
        lastExecutionId: null,
        lastExecutionStatus: null,
      });
      expect(created.steps.map((step) => step.stepIndex)).toEqual([0, 0, 1, 2]);
      expect(created.steps.every((step) => GUID.test(step.id))).toBe(true);
      expect(new Set(created.steps.map((step) => step.id)).size).toBe(4);
      expect(read).toEqual(created);
      expect(read).not.toHaveProperty('version');
    });

    it('computes nextRunTime in the schedule time zone for an enabled cron schedule', async () => {
      // Arrange: clocks in New York go forward on 8 Mar 2026, so 09:00 is 13:00 UTC that day.
      const input = scheduleInput({
        triggerType: 'Cron',
        cronExpression: '0 9 * * *',
        timeZone: 'America/New_York',
        isEnabled: true,
      });

      // Act
      const created = await services.schedules.create(input);

      // Assert
      expect(created.nextRunTime).toBe('2026-03-08T13:00:00.000Z');
    });

    it('leaves nextRunTime empty for a disabled cron schedule, until it is enabled', async () => {
      // Arrange
      const created = await services.schedules.create(
        scheduleInput({ triggerType: 'Cron', cronExpression: '30 1 * * *', timeZone: 'Europe/London' }),
      );
      clock.set('2026-03-28T12:00:00.000Z');

      // Act
      const enabled = await services.schedules.setEnabled(created.id, true);
      const disabled = await services.schedules.setEnabled(created.id, false);

      // Assert
      expect(created.nextRunTime).toBeNull();
      // 01:30 London does not exist on 29 Mar 2026; the run happens once, just after the jump (01:00 UTC).
      expect(enabled).toMatchObject({ isEnabled: true });
      expect(enabled.nextRunTime && enabled.nextRunTime >= '2026-03-29T01:00:00.000Z').toBe(true);
      expect(enabled.nextRunTime && enabled.nextRunTime <= '2026-03-29T01:30:00.000Z').toBe(true);
      expect(disabled).toMatchObject({ isEnabled: false, nextRunTime: null });
    });

    it('throws NotFoundError for an unknown id', async () => {
      await expect(services.schedules.get(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('replace', () => {
    it('replaces every field and the steps, keeping created and the ids of named steps', async () => {
      // Arrange
      const created = await services.schedules.create(scheduleInput());
      const kept = created.steps[2] as Schedule['steps'][number];
      clock.advance(5 * MINUTE);

      // Act
      const replaced = await services.schedules.replace(
        created.id,
        scheduleInput({
          name: 'Weekly HR sync',
          description: null,
          overlapPolicy: 'AllowAll',
          steps: [
            { id: kept.id, name: 'Tidy first', stepType: 'PowerShell', scriptPath: 'C:\\scripts\\tidy.ps1' },
            {
              name: 'Export',
              stepType: 'Executable',
              executablePath: '/bin/export',
              executionMode: 'ParallelWithPrevious',
            },
          ],
        }),
      );

      // Assert
      expect(replaced).toMatchObject({
        id: created.id,
        name: 'Weekly HR sync',
        description: null,
        overlapPolicy: 'AllowAll',
        stepCount: 2,
        created: '2026-03-07T15:00:00.000Z',
        lastUpdated: '2026-03-07T15:05:00.000Z',
      });
      expect(replaced.steps.map((step) => [step.name, step.stepIndex])).toEqual([
        ['Tidy first', 0],
        ['Export', 0],
      ]);
      expect(replaced.steps[0]?.id).toBe(kept.id);
      expect(created.steps.map((step) => step.id)).not.toContain(replaced.steps[1]?.id);
      expect(await services.schedules.get(created.id)).toEqual(replaced);
    });

    it('gives a step a new id when the id it names belongs to no step of this schedule', async () => {
      // Arrange
      const other = await services.schedules.create(scheduleInput({ name: 'Other' }));
      const created = await services.schedules.create(scheduleInput());
      const foreignId = other.steps[0]?.id;

      // Act
      const replaced = await services.schedules.replace(
        created.id,
        scheduleInput({ steps: [{ id: foreignId, name: 'x', stepType: 'PowerShell', scriptPath: 'x.ps1' }] }),
      );

      // Assert
      expect(replaced.steps[0]?.id).toMatch(GUID);
      expect(replaced.steps[0]?.id).not.toBe(foreignId);
    });

    it('throws NotFoundError for an unknown id', async () => {
      await expect(services.schedules.replace(UNKNOWN_ID, scheduleInput())).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });
  });

  describe('names', () => {
    it.each(['Nightly HR sync', 'NIGHTLY HR SYNC', 'nightly hr sync'])(
      'refuses a second schedule named %j with ConflictError',
      async (name) => {
        // Arrange
        await services.schedules.create(scheduleInput({ name: 'Nightly HR sync' }));

        // Act / Assert
        await expect(services.schedules.create(scheduleInput({ name }))).rejects.toBeInstanceOf(
          ConflictError,
        );
        expect((await services.schedules.list(listQuery())).totalCount).toBe(1);
      },
    );

    it('refuses renaming a schedule to another schedule name, whatever its case, and changes nothing', async () => {
      // Arrange
      await services.schedules.create(scheduleInput({ name: 'Alpha' }));
      const beta = await services.schedules.create(scheduleInput({ name: 'Beta' }));

      // Act
      const attempt = services.schedules.replace(beta.id, scheduleInput({ name: 'ALPHA' }));

      // Assert
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect((await services.schedules.get(beta.id)).name).toBe('Beta');
    });

    it('frees the old name when a schedule is renamed', async () => {
      // Arrange
      const alpha = await services.schedules.create(scheduleInput({ name: 'Alpha' }));

      // Act
      await services.schedules.replace(alpha.id, scheduleInput({ name: 'Gamma' }));
      const reused = await services.schedules.create(scheduleInput({ name: 'alpha' }));

      // Assert
      expect(reused.name).toBe('alpha');
      await expect(services.schedules.create(scheduleInput({ name: 'gamma' }))).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it('lets a schedule change only the case of its own name and keeps the name reserved', async () => {
      // Arrange
      const alpha = await services.schedules.create(scheduleInput({ name: 'alpha' }));

      // Act
      const renamed = await services.schedules.replace(alpha.id, scheduleInput({ name: 'Alpha' }));

      // Assert
      expect(renamed.name).toBe('Alpha');
      await expect(services.schedules.create(scheduleInput({ name: 'ALPHA' }))).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it('keeps the name when a replace changes other fields only', async () => {
      // Arrange
      const alpha = await services.schedules.create(scheduleInput({ name: 'Alpha' }));

      // Act
      await services.schedules.replace(alpha.id, scheduleInput({ name: 'Alpha', description: 'changed' }));

      // Assert
      await expect(services.schedules.create(scheduleInput({ name: 'alpha' }))).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it('frees the name when a schedule is deleted', async () => {
      // Arrange
      const alpha = await services.schedules.create(scheduleInput({ name: 'Alpha' }));

      // Act
      await services.schedules.delete(alpha.id);
      const again = await services.schedules.create(scheduleInput({ name: 'ALPHA' }));

      // Assert
      expect(again.id).not.toBe(alpha.id);
    });
  });

  describe('delete', () => {
    it('removes the schedule from reads and from the list', async () => {
      // Arrange
      const created = await services.schedules.create(scheduleInput());

      // Act
      await services.schedules.delete(created.id);

      // Assert
      await expect(services.schedules.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
      expect((await services.schedules.list(listQuery())).items).toEqual([]);
    });

    it('throws NotFoundError for an unknown id', async () => {
      await expect(services.schedules.delete(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  it('shows the newest execution on the schedule once it has run', async () => {
    // Arrange
    const created = await services.schedules.create(scheduleInput());

    // Act
    const { executionId } = await services.schedules.run(created.id, operator);
    const read = await services.schedules.get(created.id);

    // Assert
    expect(read).toMatchObject({ lastExecutionId: executionId, lastExecutionStatus: 'Queued' });
    const [summary] = (await services.schedules.list(listQuery())).items;
    expect(summary).toMatchObject({ lastExecutionId: executionId, lastExecutionStatus: 'Queued' });
    expect(summary).not.toHaveProperty('steps');
  });
});

describe('ScheduleService.list', () => {
  let services: Services;
  /** The five schedules, in the order they were created. */
  let created: Schedule[];

  beforeAll(async () => {
    let clock: TestClock;
    ({ clock, services } = await servicesOnFreshTables('2026-03-01T09:00:00.000Z'));
    const inputs = [
      { name: 'delta export', description: null },
      {
        name: 'Alpha import',
        description: 'Nightly directory load',
        triggerType: 'Cron',
        cronExpression: '0 6 * * *',
        isEnabled: true,
      },
      {
        name: 'charlie sync',
        description: null,
        triggerType: 'Cron',
        cronExpression: '0 5 * * *',
        isEnabled: true,
      },
      {
        name: 'Bravo report',
        description: 'Weekly HR report',
        triggerType: 'Cron',
        cronExpression: '0 4 * * *',
      },
      {
        name: 'echo cleanup',
        description: 'Removes stale SYNC artefacts',
        triggerType: 'Cron',
        cronExpression: '30 23 * * *',
        isEnabled: true,
      },
    ];
    created = [];
    for (const input of inputs) {
      created.push(await services.schedules.create(scheduleInput(input)));
      clock.advance(MINUTE);
    }
  });

  const names = (items: ScheduleSummary[]) => items.map((item) => item.name);

  it('lists every schedule, oldest first by default, as summaries', async () => {
    // Act
    const page = await services.schedules.list(listQuery());

    // Assert
    expect(names(page.items)).toEqual([
      'delta export',
      'Alpha import',
      'charlie sync',
      'Bravo report',
      'echo cleanup',
    ]);
    expect(page).toMatchObject({
      totalCount: 5,
      page: 1,
      totalPages: 1,
      hasNextPage: false,
      hasPreviousPage: false,
    });
    expect(page.items[1]).toMatchObject({ nextRunTime: '2026-03-02T06:00:00.000Z', stepCount: 4 });
  });

  it.each([
    { search: 'SYNC', expected: ['charlie sync', 'echo cleanup'] },
    { search: 'report', expected: ['Bravo report'] },
    { search: 'hr', expected: ['Bravo report'] },
    { search: 'Directory LOAD', expected: ['Alpha import'] },
    {
      search: 'e',
      expected: ['delta export', 'Alpha import', 'charlie sync', 'Bravo report', 'echo cleanup'],
    },
    { search: 'no such thing', expected: [] },
  ])(
    'finds $expected when searching for $search in names and descriptions, ignoring case',
    async ({ search, expected }) => {
      // Act
      const page = await services.schedules.list(listQuery({ search }));

      // Assert
      expect(names(page.items)).toEqual(expected);
      expect(page.totalCount).toBe(expected.length);
    },
  );

  // Reference orders of the contract: nulls last ascending (first descending), ties by id.
  const byNullable = (a: string | null, b: string | null) =>
    a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
  const compare: Record<ScheduleSortBy, (a: Schedule, b: Schedule) => number> = {
    name: (a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()),
    enabled: (a, b) => Number(a.isEnabled) - Number(b.isEnabled),
    created: (a, b) => a.created.localeCompare(b.created),
    nextRunTime: (a, b) => byNullable(a.nextRunTime, b.nextRunTime),
    lastRunTime: (a, b) => byNullable(a.lastRunTime, b.lastRunTime),
  };

  it.each(bothWays(['name', 'enabled', 'created', 'nextRunTime', 'lastRunTime'] as const))(
    'sorts by $sortBy (descending: $sortDescending)',
    async ({ sortBy, sortDescending }) => {
      // Arrange
      const direction = sortDescending ? -1 : 1;
      const expected = [...created].sort(
        (a, b) => direction * compare[sortBy](a, b) || a.id.localeCompare(b.id),
      );

      // Act
      const page = await services.schedules.list(listQuery({ sortBy, sortDescending }));

      // Assert
      expect(page.items.map((item) => item.id)).toEqual(expected.map((schedule) => schedule.id));
    },
  );

  it('sorts names case-insensitively', async () => {
    const page = await services.schedules.list(listQuery({ sortBy: 'name' }));

    expect(names(page.items)).toEqual([
      'Alpha import',
      'Bravo report',
      'charlie sync',
      'delta export',
      'echo cleanup',
    ]);
  });

  it('puts schedules that will not fire last when sorting by nextRunTime', async () => {
    const page = await services.schedules.list(listQuery({ sortBy: 'nextRunTime' }));

    expect(names(page.items).slice(0, 3)).toEqual(['echo cleanup', 'charlie sync', 'Alpha import']);
    expect(page.items.slice(3).map((item) => item.nextRunTime)).toEqual([null, null]);
  });

  it.each([
    { page: 1, expected: ['delta export', 'Alpha import'], hasNextPage: true, hasPreviousPage: false },
    { page: 2, expected: ['charlie sync', 'Bravo report'], hasNextPage: true, hasPreviousPage: true },
    { page: 3, expected: ['echo cleanup'], hasNextPage: false, hasPreviousPage: true },
    { page: 4, expected: [], hasNextPage: false, hasPreviousPage: true },
  ])('returns page $page of 3 by two', async ({ page, expected, hasNextPage, hasPreviousPage }) => {
    // Act
    const result = await services.schedules.list(listQuery({ page, pageSize: 2 }));

    // Assert
    expect(names(result.items)).toEqual(expected);
    expect(result).toMatchObject({
      totalCount: 5,
      page,
      pageSize: 2,
      totalPages: 3,
      hasNextPage,
      hasPreviousPage,
    });
    expect(result).not.toHaveProperty('nextToken');
  });

  it('pages the search results, not the whole list', async () => {
    const result = await services.schedules.list(listQuery({ search: 'sync', page: 2, pageSize: 1 }));

    expect(names(result.items)).toEqual(['echo cleanup']);
    expect(result).toMatchObject({ totalCount: 2, totalPages: 2, hasNextPage: false, hasPreviousPage: true });
  });
});

describe('schedule size', () => {
  let services: Services;
  let workflow: RecordingWorkflow;

  beforeEach(async () => {
    const { tables, client } = await freshTables();
    workflow = new RecordingWorkflow();
    services = createServices(client, tables, { workflow });
  });

  /** 90 Executable steps whose strings are `length` characters of `char` (3 bytes in UTF-8 for '€'). */
  const heavy = (length: { text: number; path: number }, char = '€') =>
    scheduleInput({
      name: 'Heavy',
      description: char.repeat(1000),
      steps: Array.from({ length: MAX_STEPS }, (_, i) => ({
        name: `${i} ${char.repeat(190)}`,
        stepType: 'Executable',
        executablePath: char.repeat(length.path),
        arguments: char.repeat(length.text),
        workingDirectory: char.repeat(length.path),
      })),
    });

  it('refuses 90 steps of maximal multi-byte strings with ValidationError naming steps, the size and the limit', async () => {
    // Act
    const attempt = services.schedules.create(heavy({ text: 2000, path: 1024 }));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({
      validationErrors: {
        steps: [expect.stringMatching(new RegExp(`stored as \\d+ bytes .*limit of ${MAX_SCHEDULE_BYTES}`))],
      },
    });
    expect(
      await services.schedules.list({ pageSize: 20, sortBy: 'created', sortDescending: false }),
    ).toMatchObject({
      totalCount: 0,
    });
  });

  it('refuses an edit that makes a stored schedule too large, leaving it as it was', async () => {
    // Arrange
    const stored = await services.schedules.create(scheduleInput());

    // Act
    const attempt = services.schedules.replace(stored.id, heavy({ text: 2000, path: 1024 }));

    // Assert
    await expect(attempt).rejects.toMatchObject({ validationErrors: { steps: [expect.any(String)] } });
    expect((await services.schedules.get(stored.id)).steps).toHaveLength(stored.steps.length);
  });

  it('stores and runs a schedule just under the limit, snapshotting all 90 steps', async () => {
    // Arrange: ~5% under the limit, measured as the store measures it.
    const input = heavy({ text: 660, path: 220 });

    // Act
    const stored = await services.schedules.create(input);
    const { executionId } = await services.schedules.run(stored.id, operator);

    // Assert
    const bytes = Buffer.byteLength(JSON.stringify(await services.schedules.get(stored.id)));
    expect(bytes).toBeGreaterThan(0.95 * MAX_SCHEDULE_BYTES);
    expect(bytes).toBeLessThan(MAX_SCHEDULE_BYTES);
    const execution = await services.executions.get(executionId);
    expect(execution.steps).toHaveLength(MAX_STEPS);
    expect(execution.steps[89]?.name).toBe(stored.steps[89]?.name);
  });
});
