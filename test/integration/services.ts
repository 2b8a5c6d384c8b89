import type { Schedule } from '../../core/schemas/schedule.js';
import {
  composeServices,
  dynamoStores,
  type ServiceOptions,
  type Services,
} from '../../core/services/index.js';
import { freshTables, recordRequests } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { operator, scheduleInput, TestClock } from './fixtures.js';

/**
 * The setup of the service-level tests: the services over fresh tables, a recording workflow and a
 * clock at `start` (`new Date()` where tasks are written: DynamoDB Local's TTL removes what expired),
 * with any other `options` of the services; `stores` are the DynamoDB stores the services work on.
 */
export async function servicesOnFreshTables(
  start: string | Date = '2026-04-05T06:00:00.000Z',
  options: Omit<ServiceOptions, 'clock' | 'workflow'> = {},
) {
  const db = await freshTables();
  const clock = new TestClock(start);
  const workflow = new RecordingWorkflow();
  const stores = dynamoStores(db.client, db.tables, options.retentionSeconds);
  const services = composeServices(stores, { ...options, clock, workflow });
  return { db, clock, workflow, services, stores };
}

/** What {@link servicesOnFreshTables} answers: a suite's `fresh`, set again before each test. */
export type FreshServices = Awaited<ReturnType<typeof servicesOnFreshTables>>;

/** The DynamoDB stores of {@link servicesOnFreshTables}. */
export type TestStores = ReturnType<typeof dynamoStores>;

/**
 * Creates a schedule named `name` that admits runs side by side (AllowAll), of `steps` (the
 * fixture's when not given), and runs it as the operator: answers the new execution's id.
 */
export async function runOfNewSchedule(
  services: Services,
  name: string,
  steps?: Record<string, unknown>[],
): Promise<string> {
  const schedule = await services.schedules.create(
    scheduleInput({ name, overlapPolicy: 'AllowAll', ...(steps ? { steps } : {}) }),
  );
  return (await services.schedules.run(schedule.id, operator)).executionId;
}

/**
 * Runs a new schedule `name` of `count` side-by-side Executable steps on `pool` (one stage) and
 * queues their worker tasks: answers the execution's id.
 */
export async function queuedSteps(services: Services, name: string, count: number, pool: string) {
  const executionId = await runOfNewSchedule(
    services,
    name,
    Array.from({ length: count }, (_, i) => ({
      name: `step ${i}`,
      stepType: 'Executable',
      executablePath: '/bin/true',
      executionMode: i === 0 ? 'Sequential' : 'ParallelWithPrevious',
      workerPool: pool,
    })),
  );
  await services.orchestrator.advance(executionId);
  for (let ordinal = 0; ordinal < count; ordinal += 1) {
    await services.orchestrator.enqueueStep(executionId, ordinal, `token-${name}-${ordinal}`);
  }
  return executionId;
}

/** A schedule's executions, oldest first (up to 100). */
export async function executionsOf(services: Services, schedule: Pick<Schedule, 'id'>) {
  const page = await services.executions.list({
    scheduleId: schedule.id,
    pageSize: 100,
    sortBy: 'queuedAt',
    sortDescending: false,
  });
  return page.items;
}

/**
 * Acts as a concurrent writer would: runs `write` once, just before the first transaction that puts
 * an item in `table` is sent (the transaction then meets what `write` changed).
 */
export function beforeFirstPutIn(
  db: Awaited<ReturnType<typeof freshTables>>,
  table: string,
  write: () => Promise<unknown>,
): void {
  let done = false;
  recordRequests(db.client, async (request) => {
    const puts = (request.input.TransactItems as { Put?: { TableName: string } }[] | undefined) ?? [];
    if (!done && puts.some((item) => item.Put?.TableName === table)) {
      done = true;
      await write();
    }
  });
}
