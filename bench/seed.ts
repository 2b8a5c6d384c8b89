import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { COUNTER_SHARDS, counterIdsOf } from '../core/adapters/dynamodb/counters.js';
import { indexAttributes } from '../core/adapters/dynamodb/execution-items.js';
import { DynamoExecutionStore } from '../core/adapters/dynamodb/execution-store.js';
import type { TableNames } from '../core/adapters/dynamodb/tables.js';
import type { ExecutionStepRecord } from '../core/ports.js';
import type { Execution } from '../core/schemas/execution.js';
import type { Schedule } from '../core/schemas/schedule.js';
import { generateExecution, scheduleOf } from './data.js';
import { sleep } from './measure.js';

/**
 * Seeds executions straight into the tables with BatchWriteItem, item for item as
 * `DynamoExecutionStore.create` writes them. The store's own path (one transaction per execution,
 * serialised per schedule by its version check) seeded ~73 executions/s here, far too slow for 100,000.
 */

type Item = Record<string, unknown>;

// The index keys and counter ids come from the store itself; what is still this module's own is how an
// item is composed from them (execution fields + index keys, step fields + executionId), which
// `checkItemsMatchStore` compares with what `DynamoExecutionStore.create` writes.
const executionItem = (execution: Execution): Item => ({ ...execution, ...indexAttributes(execution) });
const stepItem = (executionId: string, step: ExecutionStepRecord): Item => ({ ...step, executionId });

async function batchWrite(client: DynamoDBDocumentClient, table: string, items: Item[]): Promise<void> {
  let pending = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
    const result = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = (result.UnprocessedItems?.[table] ?? []) as typeof pending;
  }
}

/** Runs `work` over `jobs` with at most `parallel` at a time. */
async function pool<T>(jobs: T[], parallel: number, work: (job: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs.length) await work(jobs[next++] as T);
    }),
  );
}

export interface SeedResult {
  written: number;
  ms: number;
}

/**
 * Writes executions `from` (inclusive) to `to` (exclusive) with their step rows, then sets the
 * counters to the totals of executions 0…to-1 (as `create` would have counted them one by one).
 */
export async function seedExecutions(
  client: DynamoDBDocumentClient,
  tables: TableNames,
  schedules: Schedule[],
  from: number,
  to: number,
  parallel = 6,
): Promise<SeedResult> {
  const started = performance.now();
  const BLOCK = 2_500;
  for (let blockStart = from; blockStart < to; blockStart += BLOCK) {
    const executions: Item[] = [];
    const steps: Item[] = [];
    for (let i = blockStart; i < Math.min(to, blockStart + BLOCK); i++) {
      const generated = generateExecution(i, schedules[scheduleOf(i)] as Schedule);
      executions.push(executionItem(generated.execution));
      for (const step of generated.steps) steps.push(stepItem(generated.execution.id, step));
    }
    const jobs = [
      ...chunks(executions, 25).map((items) => ({ table: tables.executions, items })),
      ...chunks(steps, 25).map((items) => ({ table: tables.executionSteps, items })),
    ];
    await pool(jobs, parallel, (job) => batchWrite(client, job.table, job.items));
  }

  // Counters: every counter each execution counts in (totals and its status#initiatedByType cell,
  // global ones spread over the shards), as `create` would have counted them one by one.
  const perSchedule = new Map<number, number>();
  const counts = new Map<string, number>();
  for (let i = 0; i < to; i++) {
    perSchedule.set(scheduleOf(i), (perSchedule.get(scheduleOf(i)) ?? 0) + 1);
    const { execution } = generateExecution(i, schedules[scheduleOf(i)] as Schedule);
    for (const id of counterIdsOf(execution, i % COUNTER_SHARDS)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const counters: Item[] = [...counts].map(([id, count]) => ({ id, count }));
  await pool(chunks(counters, 25), 2, (items) => batchWrite(client, tables.counters, items));

  // Each schedule names its newest execution and has been bumped once per run, as `create` does.
  if (from === 0) {
    await pool(
      schedules.map((schedule, n) => ({ schedule, n })),
      4,
      async ({ schedule, n }) => {
        let newest = 0;
        while (scheduleOf(newest) !== n) newest++;
        await client.send(
          new UpdateCommand({
            TableName: tables.schedules,
            Key: { id: schedule.id },
            UpdateExpression: 'SET lastExecutionId = :id ADD #version :runs',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: {
              ':id': generateExecution(newest, schedule).execution.id,
              ':runs': perSchedule.get(n) ?? 0,
            },
          }),
        );
      },
    );
  }
  return { written: to - from, ms: performance.now() - started };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Guards the item composition above: writes one execution through the real
 * `DynamoExecutionStore.create` into scratch tables (same definitions, other names) and checks that its
 * execution and step items equal what this module writes (index keys and counter ids are imported from
 * the store, so only the composition can drift). Throws on any difference.
 */
export async function checkItemsMatchStore(
  client: DynamoDBDocumentClient,
  scratch: TableNames,
  schedule: Schedule,
): Promise<void> {
  await client.send(new PutCommand({ TableName: scratch.schedules, Item: { id: schedule.id, version: 1 } }));
  const { execution, steps } = generateExecution(0, schedule);
  await new DynamoExecutionStore(client, scratch).create(execution, steps, {
    version: 1,
    exclusive: true,
    lastRunTime: execution.queuedAt,
  });

  const stored = await client.send(
    new GetCommand({ TableName: scratch.executions, Key: { id: execution.id }, ConsistentRead: true }),
  );
  const storedSteps = await client.send(
    new QueryCommand({
      TableName: scratch.executionSteps,
      KeyConditionExpression: 'executionId = :id',
      ExpressionAttributeValues: { ':id': execution.id },
      ConsistentRead: true,
    }),
  );
  const problems: string[] = [];
  if (!sameItem(stored.Item, executionItem(execution))) problems.push('execution item');
  const expectedSteps = steps.map((step) => stepItem(execution.id, step));
  if (
    storedSteps.Items?.length !== expectedSteps.length ||
    !expectedSteps.every((item, n) => sameItem(storedSteps.Items?.[n], item))
  ) {
    problems.push('step items');
  }
  if (problems.length > 0) {
    throw new Error(
      `bench/seed.ts writes items that differ from DynamoExecutionStore.create (${problems.join(', ')}): update executionItem/stepItem.`,
    );
  }
}

/** Deep equality of two DynamoDB items as the document client returns them (undefined fields dropped). */
function sameItem(actual: Item | undefined, expected: Item): boolean {
  return (
    actual !== undefined && canonical(actual) === canonical(JSON.parse(JSON.stringify(expected)) as Item)
  );
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Item)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
