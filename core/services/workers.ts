import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { ActivityStatus, type Principal, WorkerStatus, WorkerTaskStatus } from '../model.js';
import type {
  ActivityReport,
  Clock,
  ExecutionStore,
  TaskClaimant,
  WorkerRecord,
  WorkerStore,
  WorkerTask,
  WorkerTaskStore,
  Workflow,
} from '../ports.js';
import { systemClock } from '../ports.js';
import type { ScheduleStep } from '../schemas/schedule.js';
import type { WorkerSummary } from '../schemas/worker.js';
import { stepOutput } from '../step-output.js';
import { canMove, STEP_STATUS_BY_ACTIVITY, TASK_MOVES, taskMustStop } from '../transitions.js';
import type { Orchestrator } from './orchestrator.js';

export interface ClaimRequest {
  workerId: string;
  pools: string[];
  maxTasks: number;
  waitSeconds: number;
  /** The worker's id for this claim, repeated on its retries (see `claim`). */
  requestId?: string | undefined;
}

/** Who calls heartbeat or complete: the authenticated caller and the workerId it gives, if any. */
export interface TaskCaller {
  principal: Principal;
  workerId?: string | undefined;
}

/**
 * How a task records the credential that claimed it: the API key's id or the signed-in user's
 * `sub`, typed, so a key id and a user's subject can never be mistaken for one another.
 */
export const claimantOf = (principal: Principal): string => `${principal.type}:${principal.id}`;

export interface ClaimedTask {
  taskId: string;
  executionId: string;
  scheduleName: string;
  step: ScheduleStep;
  timeoutSeconds: number;
  heartbeatIntervalSeconds: number;
}

export interface WorkerServiceDeps {
  executions: ExecutionStore;
  tasks: WorkerTaskStore;
  /** Who was seen when: written by claims and heartbeats, read by `list`. */
  workers: WorkerStore;
  workflow: Workflow;
  /** The state machine's HeartbeatSeconds: workers beat at a third of it. */
  heartbeatTimeoutSeconds: number;
  /** Ends a step past its deadline; each heartbeat asks, since the state machine does not count from the claim. */
  deadlines: Pick<Orchestrator, 'timeOutIfOverdue'>;
  clock?: Clock;
  /** How often a long-polling claim looks again. */
  pollIntervalMs?: number;
}

/** A worker is Online while seen within 2 × its waitSeconds, and never less than this (SPEC). */
export const MIN_ONLINE_SECONDS = 60;
/** Forgotten after a day without contact (the store's TTL; `list` skips older ones before it runs). */
const FORGOTTEN_AFTER_MS = 86_400_000;
/** Running tasks listed per worker: more than one worker's claims hold in practice (maxTasks ≤ 20 a claim). */
export const RUNNING_TASKS_LIMIT = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The worker endpoints: claim (long poll), heartbeat, complete (idempotent). A claimed task belongs
 * to the credential that claimed it and the workerId it claimed as: anyone else gets 403 FORBIDDEN,
 * whatever state the task is in, and the stores check the claimant in the write itself.
 */
export class WorkerService {
  private readonly clock: Clock;

  constructor(private readonly deps: WorkerServiceDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  private now = () => this.clock.now().toISOString();

  /**
   * Claims up to `maxTasks` queued tasks of the pools, waiting up to `waitSeconds` for one. A claim
   * repeating a requestId (same credential and workerId) gets back the tasks that request still
   * holds instead, so a worker whose answer was lost loses no tasks by asking again. When the answer
   * cannot be made (describing a task fails), the tasks go back to the queue: nobody would run them,
   * and they would stay Claimed until their heartbeat lapsed and failed the step.
   */
  async claim(request: ClaimRequest, principal: Principal): Promise<ClaimedTask[]> {
    this.requireServes(principal, request.pools);
    const claimant = { claimedBy: claimantOf(principal), workerId: request.workerId };
    // Seen when the claim starts (before its long poll), so a waiting worker is listed at once.
    await this.deps.workers.seen(
      { ...claimant, lastSeenAt: this.now() },
      { pools: request.pools, waitSeconds: request.waitSeconds },
    );
    const claimId = request.requestId ?? randomUUID();
    const claimed: WorkerTask[] = [];
    try {
      if (request.requestId !== undefined)
        claimed.push(...(await this.deps.tasks.claimedIn(claimant, claimId)));
      if (claimed.length === 0) await this.claimQueued(request, claimant, claimId, claimed);
      return await Promise.all(claimed.map((task) => this.describe(task)));
    } catch (error) {
      // The worker will not hear of these tasks; a release that fails too leaves one to its heartbeat.
      await Promise.allSettled(claimed.map((task) => this.deps.tasks.release(task, claimId)));
      throw error;
    }
  }

  /** 403 unless the principal may serve every pool named: a claim is refused whole, never trimmed. */
  private requireServes(principal: Principal, pools: readonly string[]): void {
    const refused = pools.filter((pool) => principal.pools && !principal.pools.includes(pool));
    if (refused.length > 0) {
      throw new ForbiddenError(`This credential may not serve pool(s) ${refused.join(', ')}.`);
    }
  }

  /** Long poll: adds to `claimed` as it goes, so a failure part way still knows what it holds. */
  private async claimQueued(
    request: ClaimRequest,
    claimant: Required<TaskClaimant>,
    claimId: string,
    claimed: WorkerTask[],
  ): Promise<void> {
    const deadline = Date.now() + request.waitSeconds * 1000;
    for (;;) {
      for (const pool of request.pools) {
        for (const taskId of await this.deps.tasks.queuedIn(pool, request.maxTasks - claimed.length)) {
          const task = await this.deps.tasks.claim(taskId, claimant, claimId, this.now());
          if (task) claimed.push(task);
          if (claimed.length >= request.maxTasks) return;
        }
      }
      if (claimed.length > 0 || Date.now() >= deadline) return;
      await sleep(Math.min(this.deps.pollIntervalMs ?? 500, Math.max(0, deadline - Date.now())));
    }
  }

  private async describe(task: WorkerTask): Promise<ClaimedTask> {
    const [execution, step] = await Promise.all([
      this.deps.executions.get(task.executionId),
      this.deps.executions.getStep(task.executionId, task.ordinal),
    ]);
    if (!execution || !step) throw new Error(`Task ${task.taskId} points at a missing execution step.`);
    return {
      taskId: task.taskId,
      executionId: task.executionId,
      scheduleName: execution.scheduleName,
      step: step.definition,
      timeoutSeconds: step.timeoutSeconds,
      heartbeatIntervalSeconds: Math.max(1, Math.floor(this.deps.heartbeatTimeoutSeconds / 3)),
    };
  }

  /**
   * Records the beat (its message, and its output when it carries one) on the task, and tells the
   * worker whether to stop (cancel, timeout, lost heartbeat).
   */
  async heartbeat(
    taskId: string,
    caller: TaskCaller,
    message: string | undefined,
    output?: string | undefined,
  ): Promise<{ cancellationRequested: boolean }> {
    const task = await this.requireTask(taskId);
    if (task.status === WorkerTaskStatus.Queued) {
      throw new ConflictError(`Task '${taskId}' has not been claimed.`);
    }
    const claimant = this.claimant(task, caller);
    if (task.claimedBy && task.workerId) {
      await this.deps.workers.seen(
        { claimedBy: task.claimedBy, workerId: task.workerId, lastSeenAt: this.now() },
        { fallbackPools: [task.pool] },
      );
    }
    const stop = { cancellationRequested: true };
    // Completed or abandoned: nothing is left for its worker to do.
    if (!canMove(TASK_MOVES.complete, task.status)) return stop;
    const [execution, step] = await Promise.all([
      this.deps.executions.get(task.executionId),
      this.deps.executions.getStep(task.executionId, task.ordinal),
    ]);
    if (taskMustStop(step, execution)) return stop;
    if (await this.deps.deadlines.timeOutIfOverdue(task)) return stop;
    // The claimant-checked write first, so only the claimant's beat ever reaches the state machine.
    if (!(await this.deps.tasks.touch(taskId, claimant, this.now(), message, output))) return stop;
    if (!(await this.deps.workflow.sendTaskHeartbeat(task.taskToken))) return stop;
    return { cancellationRequested: false };
  }

  /**
   * Records the outcome on the step and lets the state machine go on. Idempotent: the same report
   * again is accepted without effect; a report after the step ended without the worker (cancel,
   * timeout) is kept on the task but changes nothing.
   */
  async complete(
    taskId: string,
    caller: TaskCaller,
    report: ActivityReport,
  ): Promise<{ accepted: boolean; stepStatus: string }> {
    if (report.activityStatus === ActivityStatus.InProgress) {
      throw new BadRequestError('activityStatus InProgress is not an outcome; send a heartbeat instead.');
    }
    const task = await this.requireTask(taskId);
    const stepStatus = STEP_STATUS_BY_ACTIVITY[report.activityStatus];
    if (task.status === WorkerTaskStatus.Queued)
      throw new ConflictError(`Task '${taskId}' has not been claimed.`);
    const claimant = this.claimant(task, caller);
    if (task.status === WorkerTaskStatus.Completed) {
      // A retried report: make sure the state machine heard it, answer as the first time.
      const same = task.outcome?.activityStatus === report.activityStatus;
      const accepted = same && task.outcomeAccepted !== false;
      if (accepted)
        await this.deps.workflow.sendTaskSuccess(task.taskToken, { activityStatus: report.activityStatus });
      return { accepted, stepStatus: await this.stepStatusOf(task) };
    }
    if (task.status === WorkerTaskStatus.Abandoned)
      return { accepted: false, stepStatus: await this.stepStatusOf(task) };

    const now = this.now();
    const result = await this.deps.tasks.complete(task, claimant, report, now, {
      status: stepStatus,
      completedAt: now,
      errorMessage: report.errorMessage ?? null,
      activityId: report.activityId ?? null,
      activityStatus: report.activityStatus,
      // Run insight goes on the step row with its end; until then GET reads it from the task.
      output: stepOutput(report.output ?? task.output),
      progressMessage: task.heartbeatMessage ?? null,
      lastHeartbeatAt: task.lastHeartbeatAt ?? null,
      workerId: task.workerId ?? null,
    });
    // Claimed → Completed or Abandoned meanwhile (the claimant cannot change): answer from the new state.
    if (result === 'not-claimed') return this.complete(taskId, caller, report);
    if (result === 'ok') {
      await this.deps.workflow.sendTaskSuccess(task.taskToken, { activityStatus: report.activityStatus });
    }
    return { accepted: result === 'ok', stepStatus: await this.stepStatusOf(task) };
  }

  /**
   * `GET /workers`: every worker heard from within the last day, most recently seen first, with
   * the tasks it holds. Status is decided now, from lastSeenAt and the waitSeconds of its last claim.
   */
  async list(): Promise<WorkerSummary[]> {
    const now = this.clock.now().getTime();
    const records = await this.deps.workers.seenSince(new Date(now - FORGOTTEN_AFTER_MS).toISOString());
    return Promise.all(records.map((record) => this.summary(record, now)));
  }

  private async summary(record: WorkerRecord, now: number): Promise<WorkerSummary> {
    const held = await this.deps.tasks.heldBy(
      { claimedBy: record.claimedBy, workerId: record.workerId },
      RUNNING_TASKS_LIMIT,
    );
    const runningTasks = await Promise.all(
      held.map(async (task) => {
        const step = await this.deps.executions.getStep(task.executionId, task.ordinal);
        return {
          taskId: task.taskId,
          executionId: task.executionId,
          stepName: step?.definition.name ?? '',
          since: task.claimedAt ?? task.createdAt,
        };
      }),
    );
    const onlineMs = Math.max(MIN_ONLINE_SECONDS, 2 * record.waitSeconds) * 1000;
    const online = now - Date.parse(record.lastSeenAt) <= onlineMs;
    return {
      workerId: record.workerId,
      pools: record.pools,
      status: online ? WorkerStatus.Online : WorkerStatus.Offline,
      lastSeenAt: record.lastSeenAt,
      runningTasks,
    };
  }

  /**
   * The caller as the task's claimant, or 403 when it is not: another credential, or the same one
   * naming another workerId. The claimant of a task never changes once claimed, so this read gives
   * the right answer; the store's conditional write is what makes it hold under races.
   */
  private claimant(task: WorkerTask, caller: TaskCaller): TaskClaimant {
    const claimant = { claimedBy: claimantOf(caller.principal), workerId: caller.workerId };
    const otherWorker = claimant.workerId !== undefined && claimant.workerId !== task.workerId;
    if (task.claimedBy !== claimant.claimedBy || otherWorker) {
      throw new ForbiddenError(`Task '${task.taskId}' was claimed by another worker.`);
    }
    return claimant;
  }

  private async stepStatusOf(task: WorkerTask): Promise<string> {
    return (await this.deps.executions.getStep(task.executionId, task.ordinal))?.status ?? 'Unknown';
  }

  private async requireTask(taskId: string): Promise<WorkerTask> {
    const task = await this.deps.tasks.get(taskId);
    if (!task) throw new NotFoundError('Task', taskId);
    return task;
  }
}
