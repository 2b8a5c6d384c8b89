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

describe('DynamoExecutionStore.transition ending an execution, given its steps as read', () => {
  it('reads no step when the decision passes the ones it read: completing is one transaction', async () => {
    // Arrange: the only step ended, so the next Advance completes the execution.
    const { db, services, stores } = await servicesOnFreshTables(new Date());
    const executionId = await runOfNewSchedule(services, 'Ending', [
      { name: 'Only', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await services.orchestrator.advance(executionId);
    await stores.executions.updateStep(executionId, 0, ['Pending'], { status: 'Completed' });
    const sent = recordRequests(db.client);

    // Act
    const move = await services.orchestrator.advance(executionId);

    // Assert: the decision's one Query of the steps, then the ending transaction.
    expect(move).toEqual({ action: 'finished', status: 'Completed' });
    const stepQueries = sent.filter(
      (request) => request.command === 'QueryCommand' && request.input.TableName === db.tables.executionSteps,
    );
    expect(stepQueries).toHaveLength(1);
    expect(transactionsIn(sent)).toHaveLength(1);
  });

  it('refuses the move when a step it was given has moved since, cancelling nothing', async () => {
    // Arrange: the steps read while step 1 was Pending, then step 1 queued.
    const { services, stores } = await servicesOnFreshTables(new Date());
    const executionId = await runOfNewSchedule(services, 'Stale steps', [
      { name: 'First', stepType: 'Executable', executablePath: '/bin/true' },
      { name: 'Second', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await services.orchestrator.advance(executionId);
    const read = await stores.executions.get(executionId);
    const steps = await stores.executions.getSteps(executionId);
    if (!read) throw new Error('no execution');
    await stores.executions.updateStep(executionId, 1, ['Pending'], { status: 'Queued' });

    // Act
    const failed = await stores.executions.transition(
      read,
      read.status,
      { status: 'Failed', completedAt: new Date().toISOString(), errorMessage: 'stage 0 failed' },
      steps,
    );

    // Assert
    expect(failed).toBeUndefined();
    expect((await stores.executions.get(executionId))?.status).toBe('InProgress');
    expect((await stores.executions.getSteps(executionId)).map((step) => step.status)).toEqual([
      'Pending',
      'Queued',
    ]);
  });
});
