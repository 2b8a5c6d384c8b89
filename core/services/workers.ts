import { randomInt, randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { ActivityStatus, type Principal, WorkerStatus, WorkerTaskStatus } from '../model.js';
import type {
  ActivityReport,
  Clock,
  ExecutionStore,
  QueuedSignal,
  QueueSignals,
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
import type { NextMove, Orchestrator } from './orchestrator.js';
import { NO_SIGNALS, type SignalFailure, signalQueued } from './queue-signals.js';

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
  /**
   * Ends a step past its deadline (each heartbeat asks, since the state machine does not count from
   * the claim), and decides the next move a completion carries (see `resume`).
   */
  orchestrator: Pick<Orchestrator, 'timeOutIfOverdue' | 'decideAfter' | 'handedOnFrom'>;
  clock?: Clock;
  /** Wake a waiting claim when a task is queued; without them a claim only looks at the table. */
  signals?: QueueSignals;
  /** Reports a signal that could not be sent (a task given back), received or dropped. */
  onSignalFailure?: SignalFailure;
  /** Reports a next move a completion could not decide (the state machine's Advance then does). */
  onDecisionFailure?: DecisionFailure;
}

/** What reports a completion's failed decision, with the execution it was for. */
export type DecisionFailure = (executionId: string, error: unknown) => void;

/** A worker is Online while seen within 2 × its waitSeconds, and never less than this (SPEC). */
export const MIN_ONLINE_SECONDS = 60;
/** Forgotten after a day without contact (the store's TTL; `list` skips older ones before it runs). */
const FORGOTTEN_AFTER_MS = 86_400_000;
/** Running tasks listed per worker: more than one worker's claims hold in practice (maxTasks ≤ 20 a claim). */
export const RUNNING_TASKS_LIMIT = 100;

/**
 * Queued ids a claim reads per pool, more than it may take (maxTasks ≤ 20): each claim tries them in
 * a random order, so concurrent claims spread over the oldest tasks instead of all racing for the
 * very oldest (a convoy: one wins each task, the rest pay a cancelled transaction). 100, so that
 * even 20 claims of 5 starting together can each find theirs mostly untaken (a taken one costs a
 * read). Oldest first thus holds within the 100 oldest; a page of KEYS_ONLY entries is ~1.5 RRU.
 */
export const CLAIM_PAGE = 100;

/**
 * `ids` in a random order (Fisher–Yates). Not a rotation from a random offset: claims walking runs
 * of neighbours would run into each other's tasks; shuffled, two claims meet only by chance.
 */
const shuffled = <T>(ids: readonly T[]): T[] => {
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  return order;
};

/**
 * The worker endpoints: claim (long poll), heartbeat, complete (idempotent). A claimed task belongs
 * to the credential that claimed it and the workerId it claimed as: anyone else gets 403 FORBIDDEN,
 * whatever state the task is in, and the stores check the claimant in the write itself.
 */
export class WorkerService {
  private readonly clock: Clock;
  private readonly signals: QueueSignals;

  constructor(private readonly deps: WorkerServiceDeps) {
    this.clock = deps.clock ?? systemClock;
    this.signals = deps.signals ?? NO_SIGNALS;
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
      return await this.describe(claimed);
    } catch (error) {
      // The worker will not hear of these tasks; a release that fails too leaves one to its heartbeat.
      await Promise.allSettled(
        claimed.map(async (task) => {
          await this.deps.tasks.release(task, claimId);
          await signalQueued(this.signals, task, this.deps.onSignalFailure);
        }),
      );
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

  /**
   * Long poll: adds to `claimed` as it goes, so a failure part way still knows what it holds. First
   * what is there now, in this order: the queued tasks whose signal is gone (queued longer ago than
   * a signal lasts, so only the table finds them); the signals waiting; and, when neither gave a
   * task, the rest of the table's page (a signal lost, or received by a claim that has not taken
   * its task yet). Then it waits for signals and tries the very tasks they name, so a task queued
   * meanwhile is claimed as soon as its signal comes, with no poll interval. A lost signal costs at
   * most the rest of this wait (≤ 20 s): the next claim looks at the table first.
   *
   * Signals before the table because SQS hands each signal to one claim: claims taking signals
   * never race for a task, while claims picking from the table all see the same oldest tasks, and
   * a task taken meanwhile costs a read or a cancelled transaction. Oldest first holds as far as
   * SQS keeps order, and the tasks whose signal is gone go first.
   */
  private async claimQueued(
    request: ClaimRequest,
    claimant: Required<TaskClaimant>,
    claimId: string,
    claimed: WorkerTask[],
  ): Promise<void> {
    const deadline = Date.now() + request.waitSeconds * 1000;
    const signalledSince = this.clock.now().getTime() - this.signals.lifetimeMs;
    const pages = await Promise.all(
      request.pools.map(async (pool) => {
        const page = { unsignalled: [] as string[], signalled: [] as string[] };
        for (const { taskId, createdAt } of await this.deps.tasks.queuedIn(pool, CLAIM_PAGE)) {
          page[Date.parse(createdAt) < signalledSince ? 'unsignalled' : 'signalled'].push(taskId);
        }
        return page;
      }),
    );
    const take = (pick: 'unsignalled' | 'signalled') =>
      this.claimFromTable(
        pages.map((page) => page[pick]),
        request.maxTasks,
        claimant,
        claimId,
        claimed,
      );
    await take('unsignalled');
    const room = request.maxTasks - claimed.length;
    if (room > 0)
      await this.claimSignalled(await this.waitingSignals(request, room), claimant, claimId, claimed);
    if (claimed.length === 0) await take('signalled');
    while (claimed.length === 0 && Date.now() < deadline) {
      await this.claimSignalled(await this.nextSignals(request, deadline), claimant, claimId, claimed);
    }
  }

  /** Tries the ids of each pool's page in a random order until `maxTasks` are claimed; a lost race moves on. */
  private async claimFromTable(
    pages: readonly string[][],
    maxTasks: number,
    claimant: Required<TaskClaimant>,
    claimId: string,
    claimed: WorkerTask[],
  ): Promise<void> {
    for (const page of pages) {
      if (claimed.length >= maxTasks) return;
      const max = maxTasks - claimed.length;
      for await (const task of this.deps.tasks.claim(shuffled(page), claimant, claimId, this.now, { max })) {
        claimed.push(task);
      }
    }
  }

  /** The signals waiting now, at most `max`; none when they cannot be had. */
  private async waitingSignals(request: ClaimRequest, max: number): Promise<QueuedSignal[]> {
    try {
      return await this.signals.waiting(request.pools, max);
    } catch (error) {
      this.deps.onSignalFailure?.(error);
      return [];
    }
  }

  /** The next signals of the pools; when they cannot be had, none, after sleeping until `until`. */
  private async nextSignals(request: ClaimRequest, until: number): Promise<QueuedSignal[]> {
    const max = request.maxTasks;
    try {
      return await this.signals.next(request.pools, until - Date.now(), max);
    } catch (error) {
      this.deps.onSignalFailure?.(error);
      return NO_SIGNALS.next(request.pools, Math.max(0, until - Date.now()), max);
    }
  }

  /**
   * Tries the task each signal names. Claimed or not (someone else has it, or it ended), the signal
   * has done its work and is dropped; only a claim that fails leaves its signals to come again.
   */
  private async claimSignalled(
    signals: readonly QueuedSignal[],
    claimant: Required<TaskClaimant>,
    claimId: string,
    claimed: WorkerTask[],
  ): Promise<void> {
    if (signals.length === 0) return;
    for (const pool of new Set(signals.map((signal) => signal.pool))) {
      const taskIds = signals.filter((signal) => signal.pool === pool).map((signal) => signal.taskId);
      // Of the signal's pool only: whatever a queue holds, a claim takes only what it may serve.
      for await (const task of this.deps.tasks.claim(taskIds, claimant, claimId, this.now, { pool })) {
        claimed.push(task);
      }
    }
    // Not dropped, a signal only comes again (and finds its task taken): no reason to fail the claim.
    await this.signals.done(signals).catch((error: unknown) => this.deps.onSignalFailure?.(error));
  }

  /** What the worker is told of the tasks it claimed: their executions and steps, read together. */
  private async describe(tasks: readonly WorkerTask[]): Promise<ClaimedTask[]> {
    if (tasks.length === 0) return [];
    const found = await this.deps.executions.getWithSteps(tasks);
    return tasks.map((task, i) => {
      const { execution, step } = found[i] ?? {};
      if (!execution || !step) throw new Error(`Task ${task.taskId} points at a missing execution step.`);
      return {
        taskId: task.taskId,
        executionId: task.executionId,
        scheduleName: execution.scheduleName,
        step: step.definition,
        timeoutSeconds: step.timeoutSeconds,
        heartbeatIntervalSeconds: Math.max(1, Math.floor(this.deps.heartbeatTimeoutSeconds / 3)),
      };
    });
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
    const { execution, step } = await this.deps.executions.getWithStep(task.executionId, task.ordinal);
    if (taskMustStop(step, execution)) return stop;
    if (await this.deps.orchestrator.timeOutIfOverdue(task, step)) return stop;
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
      // Unless its token went on to a later step: the state machine awaits that one now.
      if (accepted && !(await this.deps.orchestrator.handedOnFrom(task))) {
        await this.resume(task, report.activityStatus);
      }
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
      await this.resume(task, report.activityStatus);
      // The transaction wrote it, and an ended step never moves again: no need to read it back.
      return { accepted: true, stepStatus };
    }
    return { accepted: false, stepStatus: await this.stepStatusOf(task) };
  }

  /**
   * Lets the state machine go on from the step's outcome, written before. When RunSingleStep awaits
   * the task (`decidesNext`), the completion decides the move Advance would decide now: a next stage
   * of one step is handed the same token (Orchestrator.handOn), so the state machine does not move
   * at all; any other move is the token's output, which Route takes, so the Advance state is
   * skipped. Safe to repeat, as Advance is: advance() reads everything from DynamoDB and never
   * moves an execution backwards, so a retried report (once its token is known not to have gone on
   * to a later step, see `complete`), or a SendTaskSuccess lost after it decided (the token's
   * heartbeat timeout then fails nothing and Advance decides again), ends the same. A decision that
   * fails is reported, not thrown (the outcome is written): the output then has no move, and Route
   * sends it to Advance, as every other answer to a RunSingleStep token (skipped, timedOut).
   */
  private async resume(task: WorkerTask, activityStatus: ActivityStatus): Promise<void> {
    const move = task.decidesNext ? await this.nextMove(task) : undefined;
    if (move === 'handed-on') return;
    await this.deps.workflow.sendTaskSuccess(task.taskToken, move ?? { activityStatus });
  }

  private async nextMove(task: WorkerTask): Promise<NextMove | 'handed-on' | undefined> {
    try {
      return await this.deps.orchestrator.decideAfter(task);
    } catch (error) {
      this.deps.onDecisionFailure?.(task.executionId, error);
      return undefined;
    }
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
