import { describe, expect, it } from 'vitest';
import { recordRequests, transactionsIn } from '../helpers/dynamodb.js';
import { operator } from './fixtures.js';
import { runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A move of the execution's item alone (currentStepIndex: no status change, nothing counted) is
 * one conditional UpdateItem, half the write units of a transaction of one item, and is refused
 * as the transaction was when the execution moved meanwhile (over DynamoDB Local).
 */

describe('DynamoExecutionStore.transition of the execution item alone', () => {
  it('moves currentStepIndex with one UpdateItem, no transaction', async () => {
    // Arrange: stage 0 ended, so the next Advance moves the execution to stage 1.
    const { db, services, stores } = await servicesOnFreshTables(new Date());
    const executionId = await runOfNewSchedule(services, 'Moves', [
      { name: 'First', stepType: 'Executable', executablePath: '/bin/true' },
      { name: 'Second', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await services.orchestrator.advance(executionId);
    await stores.executions.updateStep(executionId, 0, ['Pending'], { status: 'Completed' });
    const sent = recordRequests(db.client);

    // Act
    const move = await services.orchestrator.advance(executionId);

    // Assert
    expect(move).toMatchObject({ action: 'run', stageIndex: 1 });
    expect((await services.executions.get(executionId)).currentStepIndex).toBe(1);
    const updates = sent.filter((request) => request.command === 'UpdateItemCommand');
    expect(updates.map((request) => request.input.TableName)).toEqual([db.tables.executions]);
    expect(transactionsIn(sent)).toEqual([]);
  });

  it('refuses the move when the execution left the status it was read in', async () => {
    // Arrange: read InProgress, then cancelled.
    const { services, stores } = await servicesOnFreshTables(new Date());
    const executionId = await runOfNewSchedule(services, 'Moved meanwhile');
    await services.orchestrator.advance(executionId);
    const read = await stores.executions.get(executionId);
    if (!read) throw new Error('no execution');
    await services.executions.cancelActive(executionId, operator);

    // Act
    const moved = await stores.executions.transition(read, read.status, { currentStepIndex: 3 });

    // Assert
    expect(moved).toBeUndefined();
    expect(await stores.executions.get(executionId)).toMatchObject({
      status: 'Cancelled',
      currentStepIndex: 0,
    });
  });
});
