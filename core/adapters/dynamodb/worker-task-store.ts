import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ActivityStatus, type StepStatus, WorkerTaskStatus } from '../../model.js';
import type {
  ActivityReport,
  ClaimLimits,
  QueuedTaskRef,
  TaskClaimant,
  WorkerTask,
  WorkerTaskStore,
} from '../../ports.js';
import type { ExecutionStep } from '../../schemas/execution.js';
import { keepNewestBytes } from '../../step-output.js';
import { canMove, STEP_MOVES, TASK_MOVES } from '../../transitions.js';
import { batchGet, failedItems, getConsistent, type NamedItem, queryAll, transactNamed } from './client.js';
import { stepUpdate } from './execution-items.js';
import { conditionalUpdate, sendIfMatches } from './expressions.js';
import { DEFAULT_RETENTION_SECONDS, expiresAt } from './retention.js';
import { EXPIRES_AT, type TableNames, WorkerTaskIndex } from './tables.js';

const QUEUED_ALL = 'QUEUED';
const TASK_EXPIRY_MARGIN_SECONDS = 2 * 86_400;
/** A worker retries a claim within minutes; a day is ample and keeps receipts from piling up. */
const RECEIPT_EXPIRY_SECONDS = 86_400;

/**
 * The receipt of one claim: the ids of the tasks it took, under a key no task id can have (task ids
 * are GUIDs) and that names the claimant, so one credential's requestId never finds another's tasks.
 */
/** The sparse `claimedWorker` attribute of a Claimed task: its claimant, as the claimed-by index's key. */
export const claimedWorkerKey = ({ claimedBy, workerId }: Required<TaskClaimant>) =>
  `${claimedBy}|${workerId}`;

const receiptKey = ({ claimedBy, workerId }: Required<TaskClaimant>, claimId: string) =>
  `claim|${claimedBy}|${workerId}|${claimId}`;

/**
 * Worker tasks, one item each. While a task waits for a worker it carries `queuedPool` and
 * `queuedAll`, the keys of two sparse indexes (per pool for claims, all pools for the reconciler);
 * claiming removes them in the same transaction that moves the step to Processing and adds the task
 * to its claim's receipt (an item of its own in the same table, read by a retried claim).
 */
export class DynamoWorkerTaskStore implements WorkerTaskStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: Pick<TableNames, 'workerTasks' | 'executionSteps'>,
    private readonly retentionSeconds: number = DEFAULT_RETENTION_SECONDS,
  ) {}

  async get(taskId: string): Promise<WorkerTask | undefined> {
    const item = await getConsistent(this.client, this.tables.workerTasks, { taskId });
    return item ? toTask(item) : undefined;
  }

  async getMany(taskIds: readonly string[]): Promise<Map<string, WorkerTask>> {
    const unique = [...new Set(taskIds)];
    if (unique.length === 0) return new Map();
    const items = await batchGet(
      this.client,
      this.tables.workerTasks,
      unique.map((taskId) => ({ taskId })),
    );
    return new Map(items.map((item) => [item.taskId as string, toTask(item)]));
  }

  async enqueue(task: WorkerTask, stepFrom: readonly StepStatus[]): Promise<boolean> {
    const named: NamedItem<'task' | 'step'>[] = [
      {
        name: 'task',
        item: {
          Put: {
            TableName: this.tables.workerTasks,
            Item: {
              ...task,
              queuedPool: task.pool,
              queuedAll: QUEUED_ALL,
              // Long after any step can still be running (timeouts are at most a day), whatever the retention.
              [EXPIRES_AT]: expiresAt(task.createdAt, this.retentionSeconds + TASK_EXPIRY_MARGIN_SECONDS),
            },
            ConditionExpression: 'attribute_not_exists(taskId)',
          },
        },
      },
      {
        name: 'step',
        item: stepUpdate(this.tables.executionSteps, task.executionId, task.ordinal, stepFrom, {
          status: STEP_MOVES.enqueue.to,
          taskId: task.taskId,
        }),
      },
    ];
    try {
      await transactNamed(this.client, named);
      return true;
    } catch (error) {
      if (failedItems(error, named)?.length) return false;
      throw error;
    }
  }

  async replaceToken(
    taskId: string,
    { taskToken, decidesNext, backstopAt }: Pick<WorkerTask, 'taskToken' | 'decidesNext' | 'backstopAt'>,
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tables.workerTasks,
        Key: { taskId },
        UpdateExpression: `SET taskToken = :token, decidesNext = :decides${
          backstopAt === undefined ? ' REMOVE backstopAt' : ', backstopAt = :backstop'
        }`,
        ConditionExpression: 'attribute_exists(taskId)',
        ExpressionAttributeValues: {
          ':token': taskToken,
          ':decides': decidesNext ?? false,
          ...(backstopAt === undefined ? {} : { ':backstop': backstopAt }),
        },
      }),
    );
  }

  async queuedIn(pool: string, limit: number): Promise<QueuedTaskRef[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tables.workerTasks,
        IndexName: WorkerTaskIndex.poolQueued,
        KeyConditionExpression: 'queuedPool = :pool',
        ExpressionAttributeValues: { ':pool': pool },
        Limit: limit,
      }),
    );
    // KEYS_ONLY: the table's key and the index's, so createdAt comes without reading the tasks.
    return (Items ?? []).map((item) => ({
      taskId: item.taskId as string,
      createdAt: item.createdAt as string,
    }));
  }

  async allQueued(): Promise<WorkerTask[]> {
    const items = await queryAll(this.client, {
      TableName: this.tables.workerTasks,
      IndexName: WorkerTaskIndex.allQueued,
      KeyConditionExpression: 'queuedAll = :all',
      ExpressionAttributeValues: { ':all': QUEUED_ALL },
    });
    return items.map(toTask);
  }

  async *claim(
    taskIds: readonly string[],
    claimant: Required<TaskClaimant>,
    claimId: string,
    now: () => string,
    { max = taskIds.length, pool }: ClaimLimits = {},
  ): AsyncGenerator<WorkerTask> {
    let claimed = 0;
    let next = 0;
    while (claimed < max && next < taskIds.length) {
      // As many as are still wanted, in one request where a GetItem each took as many. Not more:
      // the longer a read waits for its transaction, the likelier another claim took the task
      // meanwhile (measured in the bench's (b): reading twice as many saved 0.4 BatchGetItem a
      // step, but cancelled 0.4 claim transactions a step instead of 0.27).
      const candidates = taskIds.slice(next, next + (max - claimed));
      next += candidates.length;
      const read = await this.readConsistently(candidates);
      for (const taskId of candidates) {
        const task = read.get(taskId);
        if (!task || !canMove(TASK_MOVES.claim, task.status)) continue;
        // A task's pool never changes, so the read decides it.
        if (pool !== undefined && task.pool !== pool) continue;
        const taken = await this.claimRead(task, claimant, claimId, now());
        if (!taken) continue;
        claimed++;
        yield taken;
      }
    }
  }

  /** The tasks of these ids that exist, by id, read consistently (BatchGetItem). */
  private async readConsistently(taskIds: readonly string[]): Promise<Map<string, WorkerTask>> {
    const items = await batchGet(
      this.client,
      this.tables.workerTasks,
      taskIds.map((taskId) => ({ taskId })),
      true,
    );
    return new Map(items.map((item) => [item.taskId as string, toTask(item)]));
  }

  /**
   * Claims a task read Queued: the read only picks it, the transaction's conditions decide, so of
   * claims racing for it exactly one wins.
   */
  private async claimRead(
    task: WorkerTask,
    claimant: Required<TaskClaimant>,
    claimId: string,
    now: string,
  ): Promise<WorkerTask | undefined> {
    const { taskId } = task;
    const { claimedBy, workerId } = claimant;
    const claimed = {
      status: TASK_MOVES.claim.to,
      workerId,
      claimedBy,
      claimId,
      claimedAt: now,
      lastHeartbeatAt: now,
    };
    const named: NamedItem<'task' | 'step' | 'receipt'>[] = [
      {
        name: 'task',
        item: conditionalUpdate(
          this.tables.workerTasks,
          { taskId },
          { ...claimed, claimedWorker: claimedWorkerKey(claimant) },
          { status: TASK_MOVES.claim.from },
          ['queuedPool', 'queuedAll'],
        ),
      },
      {
        name: 'step',
        item: stepUpdate(this.tables.executionSteps, task.executionId, task.ordinal, STEP_MOVES.claim.from, {
          status: STEP_MOVES.claim.to,
          startedAt: now,
          activityStatus: ActivityStatus.InProgress,
          workerId,
        }),
      },
      {
        name: 'receipt',
        item: {
          Update: {
            TableName: this.tables.workerTasks,
            Key: { taskId: receiptKey(claimant, claimId) },
            UpdateExpression:
              'SET taskIds = list_append(if_not_exists(taskIds, :none), :task), #expires = :expires',
            ExpressionAttributeNames: { '#expires': EXPIRES_AT },
            ExpressionAttributeValues: {
              ':none': [],
              ':task': [taskId],
              ':expires': expiresAt(now, RECEIPT_EXPIRY_SECONDS),
            },
          },
        },
      },
    ];
    try {
      await transactNamed(this.client, named);
      return { ...task, ...claimed };
    } catch (error) {
      const failed = failedItems(error, named);
      if (!failed?.length) throw error;
      // The step left Queued without a worker (cancelled): take the task off the queue for good.
      if (!failed.includes('task')) await this.abandon(taskId);
      return undefined;
    }
  }

  async claimedIn(claimant: Required<TaskClaimant>, claimId: string): Promise<WorkerTask[]> {
    const item = await getConsistent(this.client, this.tables.workerTasks, {
      taskId: receiptKey(claimant, claimId),
    });
    const tasks = await Promise.all(((item?.taskIds ?? []) as string[]).map((taskId) => this.get(taskId)));
    return tasks.filter(
      (task): task is WorkerTask =>
        task !== undefined && canMove(TASK_MOVES.release, task.status) && task.claimId === claimId,
    );
  }

  async release(task: WorkerTask, claimId: string): Promise<void> {
    const named: NamedItem<'task' | 'step'>[] = [
      {
        name: 'task',
        item: conditionalUpdate(
          this.tables.workerTasks,
          { taskId: task.taskId },
          { status: TASK_MOVES.release.to, queuedPool: task.pool, queuedAll: QUEUED_ALL },
          { status: TASK_MOVES.release.from, claimId },
          ['workerId', 'claimedBy', 'claimId', 'claimedAt', 'lastHeartbeatAt', 'claimedWorker'],
        ),
      },
      {
        name: 'step',
        item: conditionalUpdate(
          this.tables.executionSteps,
          { executionId: task.executionId, ordinal: task.ordinal },
          { status: STEP_MOVES.release.to },
          { status: STEP_MOVES.release.from, taskId: task.taskId },
          ['startedAt', 'activityStatus', 'workerId'],
        ),
      },
    ];
    try {
      await transactNamed(this.client, named);
    } catch (error) {
      // Reported on, ended or claimed anew meanwhile: it is no longer this claim's to give back.
      if (!failedItems(error, named)?.length) throw error;
    }
  }

  async touch(
    taskId: string,
    claimant: TaskClaimant,
    now: string,
    message: string | undefined,
    output?: string | undefined,
  ): Promise<boolean> {
    // One UpdateItem a beat: the step row is written once, by the completion.
    const { Update } = conditionalUpdate(
      this.tables.workerTasks,
      { taskId },
      {
        lastHeartbeatAt: now,
        heartbeatMessage: message ?? null,
        ...(output === undefined ? {} : { output: keepNewestBytes(output) }),
      },
      claimedByCondition(claimant),
    );
    return sendIfMatches(this.client, Update);
  }

  async complete(
    task: WorkerTask,
    claimant: TaskClaimant,
    report: ActivityReport,
    now: string,
    stepPatch: Partial<ExecutionStep>,
  ): Promise<'ok' | 'late' | 'not-claimed'> {
    const finishTask = (outcomeAccepted: boolean) =>
      conditionalUpdate(
        this.tables.workerTasks,
        { taskId: task.taskId },
        { status: TASK_MOVES.complete.to, outcome: report, outcomeAccepted, completedAt: now },
        claimedByCondition(claimant),
        ['queuedPool', 'queuedAll', 'claimedWorker'],
      );
    const named: NamedItem<'task' | 'step'>[] = [
      { name: 'task', item: finishTask(true) },
      {
        name: 'step',
        // The step must still be this task's and running: a cancel or timeout that came first wins.
        item: stepUpdate(
          this.tables.executionSteps,
          task.executionId,
          task.ordinal,
          STEP_MOVES.finish.from,
          stepPatch,
        ),
      },
    ];
    try {
      await transactNamed(this.client, named);
      return 'ok';
    } catch (error) {
      const failed = failedItems(error, named);
      if (!failed?.length) throw error;
      if (failed.includes('task')) return 'not-claimed';
    }
    // The step ended without the worker; keep the late report on the task for the record.
    await sendIfMatches(this.client, finishTask(false).Update);
    return 'late';
  }

  async abandon(taskId: string): Promise<void> {
    const { Update } = conditionalUpdate(
      this.tables.workerTasks,
      { taskId },
      { status: TASK_MOVES.abandon.to },
      { status: TASK_MOVES.abandon.from },
      ['queuedPool', 'queuedAll', 'claimedWorker'],
    );
    // False when it had ended already: nothing to abandon.
    await sendIfMatches(this.client, Update);
  }

  async heldBy(claimant: Required<TaskClaimant>, limit: number): Promise<WorkerTask[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tables.workerTasks,
        IndexName: WorkerTaskIndex.claimedBy,
        KeyConditionExpression: 'claimedWorker = :claimant',
        ExpressionAttributeValues: { ':claimant': claimedWorkerKey(claimant) },
        Limit: limit,
      }),
    );
    // The index lags the table: a task completed a moment ago may still be listed.
    return (Items ?? []).map(toTask).filter((task) => task.status === WorkerTaskStatus.Claimed);
  }
}

/** The condition that the task is claimed, and by `claimant`: checked by the write itself. */
const claimedByCondition = (claimant: TaskClaimant): Record<string, unknown> => ({
  // Claimed: the status its claimant completes it from.
  status: TASK_MOVES.complete.from,
  claimedBy: claimant.claimedBy,
  ...(claimant.workerId === undefined ? {} : { workerId: claimant.workerId }),
});

function toTask(item: Record<string, unknown>): WorkerTask {
  const { queuedPool: _pool, queuedAll: _all, claimedWorker: _claimant, ...task } = item;
  return task as unknown as WorkerTask;
}
