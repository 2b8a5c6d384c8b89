import { ActivityStatus, StepStatus, WorkerTaskStatus } from '../../../core/model.js';
import type {
  ExecutionStepRecord,
  QueuedTaskRef,
  TaskClaimant,
  WorkerTask,
  WorkerTaskStore,
} from '../../../core/ports.js';
import type { ExecutionStep } from '../../../core/schemas/execution.js';
import { keepNewestBytes } from '../../../core/step-output.js';
import { applyPatch, ConditionalCheckFailed, copy, type MemoryTables, readMany } from './tables.js';

const receiptKey = ({ claimedBy, workerId }: Required<TaskClaimant>, claimId: string) =>
  `claim|${claimedBy}|${workerId}|${claimId}`;

/** The adapter's `claimedByCondition`: claimed, by that credential, and as that worker when one is named. */
const claimedBy = (task: WorkerTask | undefined, claimant: TaskClaimant): task is WorkerTask =>
  task?.status === WorkerTaskStatus.Claimed &&
  task.claimedBy === claimant.claimedBy &&
  (claimant.workerId === undefined || task.workerId === claimant.workerId);

const byCreated = (a: WorkerTask, b: WorkerTask) => a.createdAt.localeCompare(b.createdAt);

/**
 * WorkerTaskStore in memory, with DynamoWorkerTaskStore's conditions: enqueue only from `stepFrom`
 * and for a new task id; a claim moves task and step together or not at all (and abandons a task
 * whose step left Queued); release, touch and complete only for the claim or claimant that holds the
 * task; complete says `late` when the step was no longer Processing, `not-claimed` when the task
 * was not the claimant's. Shares its steps with the MemoryExecutionStore of the same tables.
 *
 * Where it is not exact: the adapter's queuedIn and allQueued read eventually consistent sparse
 * indexes (a task just claimed may still be listed; claims re-check), ordered by createdAt with
 * ties in DynamoDB's order; here they are current, ties in insertion order. replaceToken on a
 * missing task throws a ConditionalCheckFailed named as the SDK's exception, not the SDK's class.
 */
export class MemoryWorkerTaskStore implements WorkerTaskStore {
  constructor(private readonly db: MemoryTables) {}

  async get(taskId: string): Promise<WorkerTask | undefined> {
    const task = this.db.tasks.get(taskId);
    return task && copy(task);
  }

  async getMany(taskIds: readonly string[]): Promise<Map<string, WorkerTask>> {
    return readMany(this.db.tasks, taskIds, copy);
  }

  async enqueue(task: WorkerTask, stepFrom: readonly StepStatus[]): Promise<boolean> {
    const step = this.step(task.executionId, task.ordinal);
    if (this.db.tasks.has(task.taskId) || !step || !stepFrom.includes(step.status)) return false;
    this.db.tasks.set(task.taskId, copy(task));
    this.setStep(task.executionId, step, { status: StepStatus.Queued, taskId: task.taskId });
    return true;
  }

  async replaceToken(
    taskId: string,
    { taskToken, decidesNext, backstopAt }: Pick<WorkerTask, 'taskToken' | 'decidesNext' | 'backstopAt'>,
  ): Promise<void> {
    const task = this.db.tasks.get(taskId);
    if (!task) throw new ConditionalCheckFailed('The conditional request failed');
    task.taskToken = taskToken;
    task.decidesNext = decidesNext ?? false;
    if (backstopAt === undefined) delete task.backstopAt;
    else task.backstopAt = backstopAt;
  }

  async queuedIn(pool: string, limit: number): Promise<QueuedTaskRef[]> {
    return this.queued()
      .filter((task) => task.pool === pool)
      .slice(0, limit)
      .map(({ taskId, createdAt }) => ({ taskId, createdAt }));
  }

  async allQueued(): Promise<WorkerTask[]> {
    return this.queued().map(copy);
  }

  async *claim(...[taskIds, claimant, claimId, now, limits]: Parameters<WorkerTaskStore['claim']>) {
    let claimed = 0;
    for (const taskId of taskIds) {
      if (claimed >= (limits?.max ?? taskIds.length)) return;
      const task = await this.claimOne(taskId, claimant, claimId, now(), limits?.pool);
      if (!task) continue;
      claimed++;
      yield task;
    }
  }

  private async claimOne(
    taskId: string,
    claimant: Required<TaskClaimant>,
    claimId: string,
    now: string,
    pool: string | undefined,
  ): Promise<WorkerTask | undefined> {
    const task = this.db.tasks.get(taskId);
    if (!task || task.status !== WorkerTaskStatus.Queued) return undefined;
    if (pool !== undefined && task.pool !== pool) return undefined;
    const step = this.step(task.executionId, task.ordinal);
    if (step?.status !== StepStatus.Queued) {
      // The step left Queued without a worker (cancelled): off the queue for good.
      await this.abandon(taskId);
      return undefined;
    }
    const claimed: WorkerTask = {
      ...task,
      status: WorkerTaskStatus.Claimed,
      workerId: claimant.workerId,
      claimedBy: claimant.claimedBy,
      claimId,
      claimedAt: now,
      lastHeartbeatAt: now,
    };
    this.db.tasks.set(taskId, claimed);
    this.setStep(task.executionId, step, {
      status: StepStatus.Processing,
      startedAt: now,
      activityStatus: ActivityStatus.InProgress,
      workerId: claimant.workerId,
    });
    const receipt = receiptKey(claimant, claimId);
    this.db.receipts.set(receipt, [...(this.db.receipts.get(receipt) ?? []), taskId]);
    return copy(claimed);
  }

  async claimedIn(claimant: Required<TaskClaimant>, claimId: string): Promise<WorkerTask[]> {
    return (this.db.receipts.get(receiptKey(claimant, claimId)) ?? []).flatMap((taskId) => {
      const task = this.db.tasks.get(taskId);
      return task?.status === WorkerTaskStatus.Claimed && task.claimId === claimId ? [copy(task)] : [];
    });
  }

  async release(task: WorkerTask, claimId: string): Promise<void> {
    const stored = this.db.tasks.get(task.taskId);
    const step = this.step(task.executionId, task.ordinal);
    if (stored?.status !== WorkerTaskStatus.Claimed || stored.claimId !== claimId) return;
    if (step?.status !== StepStatus.Processing || step.taskId !== task.taskId) return;
    const {
      workerId: _workerId,
      claimedBy: _claimedBy,
      claimId: _claimId,
      claimedAt: _claimedAt,
      lastHeartbeatAt: _lastHeartbeatAt,
      ...queued
    } = stored;
    this.db.tasks.set(task.taskId, { ...queued, status: WorkerTaskStatus.Queued });
    // The adapter REMOVEs these: absent on the item afterwards, not null.
    const { startedAt: _startedAt, activityStatus: _activityStatus, workerId: _worker, ...rest } = step;
    this.db.steps
      .get(task.executionId)
      ?.set(task.ordinal, { ...rest, status: StepStatus.Queued } as ExecutionStepRecord);
  }

  async touch(...[taskId, claimant, now, message, output]: Parameters<WorkerTaskStore['touch']>) {
    const task = this.db.tasks.get(taskId);
    if (!claimedBy(task, claimant)) return false;
    task.lastHeartbeatAt = now;
    task.heartbeatMessage = (message ?? null) as string | undefined;
    if (output !== undefined) task.output = keepNewestBytes(output);
    return true;
  }

  async complete(...[task, claimant, report, now, stepPatch]: Parameters<WorkerTaskStore['complete']>) {
    const stored = this.db.tasks.get(task.taskId);
    if (!claimedBy(stored, claimant)) return 'not-claimed';
    const step = this.step(task.executionId, task.ordinal);
    const accepted = step?.status === StepStatus.Processing;
    this.db.tasks.set(task.taskId, {
      ...stored,
      status: WorkerTaskStatus.Completed,
      outcome: copy(report),
      outcomeAccepted: accepted,
      completedAt: now,
    });
    if (!accepted) return 'late';
    this.setStep(task.executionId, step, stepPatch);
    return 'ok';
  }

  async abandon(taskId: string): Promise<void> {
    const task = this.db.tasks.get(taskId);
    if (task?.status === WorkerTaskStatus.Queued || task?.status === WorkerTaskStatus.Claimed) {
      task.status = WorkerTaskStatus.Abandoned;
    }
  }

  async heldBy(claimant: Required<TaskClaimant>, limit: number): Promise<WorkerTask[]> {
    return [...this.db.tasks.values()]
      .filter((task) => claimedBy(task, claimant))
      .sort((a, b) => (a.claimedAt ?? '').localeCompare(b.claimedAt ?? ''))
      .slice(0, limit)
      .map(copy);
  }

  private queued(): WorkerTask[] {
    return [...this.db.tasks.values()]
      .filter((task) => task.status === WorkerTaskStatus.Queued)
      .sort(byCreated);
  }

  private step(executionId: string, ordinal: number): ExecutionStepRecord | undefined {
    return this.db.steps.get(executionId)?.get(ordinal);
  }

  private setStep(executionId: string, step: ExecutionStepRecord, patch: Partial<ExecutionStep>): void {
    this.db.steps.get(executionId)?.set(step.ordinal, applyPatch(step, patch));
  }
}
