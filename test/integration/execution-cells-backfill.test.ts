import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { backfillExecutionCells } from '../../core/adapters/dynamodb/cell-backfill.js';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { indexAttributes } from '../../core/adapters/dynamodb/execution-items.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import type { ExecutionStatus, InitiatedByType } from '../../core/model.js';
import type { Execution } from '../../core/schemas/execution.js';
import { freshTables } from '../helpers/dynamodb.js';
import { executionRecord } from './fixtures.js';

const ALPHA = '5e0c6a1f-2b7d-4c1e-9a8f-0d3b6c2e7f41';
const BRAVO = '9b2d4f6a-8c1e-4a3b-b5d7-e9f1a3c5e7b9';

const execution = (
  i: number,
  scheduleId: string,
  status: ExecutionStatus,
  initiatedByType: InitiatedByType,
): Execution =>
  executionRecord(i, {
    scheduleId,
    scheduleName: scheduleId === ALPHA ? 'Alpha' : 'Bravo',
    status,
    initiatedByType,
  });

/** Executions as the version before the cells wrote them: no cell keys, in no cell's counter. */
const OLD = [
  execution(1, ALPHA, 'Failed', 'NotSet'),
  execution(2, ALPHA, 'Failed', 'ApiKey'),
  execution(3, ALPHA, 'Completed', 'NotSet'),
  execution(4, ALPHA, 'InProgress', 'User'),
  execution(5, BRAVO, 'Failed', 'NotSet'),
  execution(6, BRAVO, 'InProgress', 'NotSet'),
  execution(7, BRAVO, 'Queued', 'ApiKey'),
];

async function olderVersionTables() {
  const fresh = await freshTables();
  for (const e of OLD) {
    const { cellPk: _cell, scheduleCellPk: _scheduleCell, ...olderKeys } = indexAttributes(e);
    await fresh.client.send(
      new PutCommand({ TableName: fresh.tables.executions, Item: { ...e, ...olderKeys } }),
    );
  }
  return { ...fresh, store: new DynamoExecutionStore(fresh.client, fresh.tables) };
}

const byId = (executions: Execution[]) => [...executions].sort((a, b) => a.id.localeCompare(b.id));

/** Every status filter's count and page, globally and per schedule, against what `executions` hold. */
async function expectExactCells(store: DynamoExecutionStore, executions: Execution[]) {
  for (const status of ['Queued', 'InProgress', 'Completed', 'Failed'] as const) {
    for (const scheduleId of [undefined, ALPHA, BRAVO]) {
      const filter = { statuses: [status], ...(scheduleId ? { scheduleId } : {}) };
      const expected = executions.filter(
        (e) => e.status === status && (scheduleId === undefined || e.scheduleId === scheduleId),
      );
      const page = await store.page({
        ...filter,
        sortBy: 'queuedAt',
        descending: true,
        pageSize: 20,
        offset: 0,
      });
      expect({ filter, count: page.totalCount, items: byId(page.items) }).toEqual({
        filter,
        count: expected.length,
        items: byId(expected),
      });
    }
  }
}

describe('backfillExecutionCells on executions of the version before the cells', () => {
  it('gives them their cell keys and counts: filtered lists and totals are exact', async () => {
    const { tables, client, store } = await olderVersionTables();

    const counted = await backfillExecutionCells(client, tables);

    expect(counted).toBe(OLD.length);
    await expectExactCells(store, OLD);
  });

  it('counts nothing twice when run again', async () => {
    const { tables, client, store } = await olderVersionTables();
    await backfillExecutionCells(client, tables);

    const counted = await backfillExecutionCells(client, tables);

    expect(counted).toBe(0);
    await expectExactCells(store, OLD);
  });

  it('stays exact when this version moves old executions before, during and after the backfill', async () => {
    const { tables, config, store } = await olderVersionTables();
    const [, , , alphaRunning, , bravoRunning, bravoQueued] = OLD as [Execution, ...Execution[]];
    const complete = (e: Execution) =>
      store.transition(e, e.status, { status: 'Completed', completedAt: '2026-04-05T08:00:00.000Z' });
    // Before: moved while still uncounted.
    const movedBefore = await complete(alphaRunning as Execution);
    // During: moved after the backfill's scan read it, before its write (the scan's answer is held back).
    const backfillClient = createDocumentClient(config);
    let movedDuring: Execution | undefined;
    backfillClient.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'ScanCommand' && !movedDuring)
          movedDuring = await complete(bravoRunning as Execution);
        return result;
      },
      { step: 'initialize' },
    );

    await backfillExecutionCells(backfillClient, tables);
    // After: an ordinary move of a counted execution.
    const movedAfter = await store.transition(bravoQueued as Execution, 'Queued', { status: 'InProgress' });

    expect([movedBefore, movedDuring, movedAfter].every(Boolean)).toBe(true);
    const moved = new Map(
      [movedBefore, movedDuring, movedAfter].map((e) => [(e as Execution).id, e as Execution]),
    );
    await expectExactCells(
      store,
      OLD.map((e) => moved.get(e.id) ?? e),
    );
    backfillClient.destroy();
  });
});

/** `npm run backfill` as an operator runs it, against DynamoDB Local instead of AWS. */
async function backfillCommand(args: string[]) {
  const dynamo = inject('dynamo');
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'bin/backfill.ts', ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          AWS_REGION: dynamo.region,
          AWS_ACCESS_KEY_ID: dynamo.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: dynamo.credentials.secretAccessKey,
        },
      },
    );
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, output: failed.stderr };
  }
}

describe('npm run backfill', () => {
  it('backfills the tables it is given', async () => {
    const { tables, store } = await olderVersionTables();

    const result = await backfillCommand([
      '--executions-table',
      tables.executions,
      '--counters-table',
      tables.counters,
    ]);

    expect(result).toEqual({ code: 0, output: expect.stringContaining(`Counted ${OLD.length} executions`) });
    await expectExactCells(store, OLD);
  });

  it('refuses to run without both table names', async () => {
    const result = await backfillCommand(['--executions-table', 'Executions']);

    expect(result).toEqual({ code: 2, output: expect.stringContaining('--counters-table') });
  });
});
