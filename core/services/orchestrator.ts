import { randomUUID } from 'node:crypto';
import { ExecutionStatus, OverlapPolicy, StepStatus, WorkerTaskStatus } from '../model.js';
import { olderFirst } from '../overlap.js';
import type {
  Clock,
  ExecutionStepRecord,
  ExecutionStore,
  QueueSignals,
  WorkerTask,
  WorkerTaskStore,
  Workflow,
} from '../ports.js';
import { systemClock } from '../ports.js';
import type { Execution } from '../schemas/execution.js';
import { stagesOf } from '../stages.js';
import { blockingFailures, isStageFinished, stageFailureMessage } from '../status-rules.js';
import {
  canMove,
  EXECUTION_MOVES,
  HANDED_OUT_STEP_STATUSES,
  INITIAL_STATUS,
  isActiveExecutionStatus,
  isTerminalStepStatus,
  STEP_MOVES,
} from '../transitions.js';
import { NO_SIGNALS, type SignalFailure, signalQueued } from './queue-signals.js';
import type { WakeUps } from './wake-ups.js';

/** What the state machine does next; `Advance` returns one of these. */
export type NextMove =
  | {
      action: 'run';
      stageIndex: number;
      /**
       * `backstopSeconds` is the TimeoutSecondsPath of the task state awaiting the step (see
       * BACKSTOP_MARGIN_SECONDS). One step: the state machine runs it as RunSingleStep, skipping the
       * Map, and the completions hand its token on through the one-step stages after it (see
       * `handOn`), so its backstop covers them all. `pool` is the step's worker pool, passed back to
       * enqueueStep so that it queues the task without reading the step first.
       */
      steps: { ordinal: number; pool: string; backstopSeconds: number; heartbeatSeconds: number }[];
    }
  | { action: 'wait'; waitSeconds: number }
  | { action: 'finished'; status: ExecutionStatus };

export interface OrchestratorSettings {
  /**
   * The longest a paused or buffered execution stays parked without a wake-up before the state
   * machine looks again: the fallback for a lost wake-up (see WakeUps), and what bounds the state
   * transitions of a long wait (about 13 history events per period).
   */
  waitSeconds: number;
  /** A claimed task with no heartbeat for this long fails (the state machine's HeartbeatSeconds). */
  heartbeatTimeoutSeconds: number;
  /** A step no worker claims for this long fails as never claimed; its timeoutSeconds counts from the claim. */
  queueTimeoutSeconds: number;
}

export const DEFAULT_ORCHESTRATOR_SETTINGS: OrchestratorSettings = {
  waitSeconds: 3600,
  heartbeatTimeoutSeconds: 120,
  queueTimeoutSeconds: 86_400,
};

/**
 * Time the state machine's own timeout on RunStep leaves past a step's deadlines. The service keeps
 * the deadlines (`timeOutIfOverdue`, from heartbeats and the once-a-minute reconciler); the state
 * machine's timeout counts from the enqueue and is only the backstop for when neither comes, so it
 * allows a few missed reconciler runs first.
 */
export const BACKSTOP_MARGIN_SECONDS = 300;

/** The largest TimeoutSeconds Step Functions accepts on a state. */
const MAX_TIMEOUT_SECONDS = 99_999_999;

export interface OrchestratorDeps {
  executions: ExecutionStore;
  tasks: WorkerTaskStore;
  workflow: Workflow;
  wakeUps: WakeUps;
  settings?: OrchestratorSettings;
  clock?: Clock;
  /** Wakes a waiting claim of the pool when a step is queued (none: claims find it by looking). */
  signals?: QueueSignals;
  onSignalFailure?: SignalFailure;
}

/** What enqueueStep is told besides the step: see `Orchestrator.enqueueStep`. */
export interface EnqueueOptions {
  decidesNext?: boolean;
  backstopSeconds?: number | undefined;
  pool?: string | undefined;
}

/** A move, the execution it was decided on, and whether it runs a stage of one step (see `handOn`). */
interface Decision {
  move: NextMove;
  execution: Execution;
  oneStep?: boolean;
}

/** How many times a decision is re-made when a concurrent change (cancel, pause) beat its write. */
const MAX_ROUNDS = 10;

/**
 * The decisions of the execution state machine. Each action reads the execution and its steps from
 * DynamoDB and moves them on with conditional writes, so a retried or duplicated state, or a cancel
 * racing it, can never move anything backwards.
 */
export class Orchestrator {
  private readonly clock: Clock;
  readonly settings: OrchestratorSettings;

  constructor(private readonly deps: OrchestratorDeps) {
    this.clock = deps.clock ?? systemClock;
    this.settings = deps.settings ?? DEFAULT_ORCHESTRATOR_SETTINGS;
  }

  private now = () => this.clock.now().toISOString();

  /** Starts, waits, runs the next stage, or finishes the execution. */
  async advance(executionId: string): Promise<NextMove> {
    return (await this.decide(executionId)).move;
  }

  /**
   * What a completion of a task RunSingleStep awaits does: decides the next move as Advance would,
   * and hands the task's token on when the move allows (see `handOn`).
   */
  async decideAfter(task: WorkerTask): Promise<NextMove | 'handed-on'> {
    const { move, oneStep } = await this.decide(task.executionId);
    return oneStep && (await this.handOn(task, move)) ? 'handed-on' : move;
  }

  private async decide(executionId: string): Promise<Decision> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const decided = await this.tryAdvance(executionId);
      if (!decided) continue;
      // Also when it had ended before (a retried Advance): a failed wake-up is then sent again.
      if (decided.move.action === 'finished') await this.deps.wakeUps.afterEnd(decided.execution);
      return decided;
    }
    throw new Error(`Execution ${executionId} kept changing while the orchestrator decided its next move.`);
  }

  /**
   * One decision, with the execution it was made on; undefined when a conditional write lost to a
   * concurrent change (decide again).
   */
  private async tryAdvance(executionId: string, known?: Execution): Promise<Decision | undefined> {
    // `known`: as the start transition just wrote it, not read again.
    const execution = known ?? (await this.deps.executions.get(executionId));
    if (!execution) throw new Error(`Execution ${executionId} does not exist.`);
    const decided = (move: NextMove, oneStep = false) => ({ move, execution, oneStep });
    if (!isActive(execution)) return decided({ action: 'finished', status: execution.status });
    const wait = decided({ action: 'wait', waitSeconds: this.settings.waitSeconds });

    if (canMove(EXECUTION_MOVES.start, execution.status)) {
      if (await this.mustWaitForPredecessor(execution)) return wait;
      const started = await this.deps.executions.transition(execution, execution.status, {
        status: EXECUTION_MOVES.start.to,
        startedAt: this.now(),
      });
      return started ? this.tryAdvance(executionId, started) : undefined;
    }

    // Read once: also what an ending move cancels, so `transition` need not read them again.
    const records = await this.deps.executions.getSteps(executionId);
    const stages = stagesOf(records);
    for (const stage of stages) {
      const stageIndex = stage[0]?.stepIndex ?? 0;
      // A retry's stages before the one it started at: they ran in the original, whatever their outcome.
      if (stage.every((step) => step.carriedOver)) continue;
      if (isStageFinished(stage)) {
        const failures = blockingFailures(stage);
        if (failures.length === 0) continue;
        const failed = await this.deps.executions.transition(
          execution,
          execution.status,
          {
            status: EXECUTION_MOVES.fail.to,
            completedAt: this.now(),
            errorMessage: stageFailureMessage(failures),
          },
          records,
        );
        return failed ? decided({ action: 'finished', status: EXECUTION_MOVES.fail.to }) : undefined;
      }
      if (execution.status === ExecutionStatus.Paused) {
        // The stage is reached but held: its steps show Waiting until the execution resumes.
        for (const step of stage.filter((s) => canMove(STEP_MOVES.hold, s.status))) {
          await this.deps.executions.updateStep(executionId, step.ordinal, STEP_MOVES.hold.from, {
            status: STEP_MOVES.hold.to,
          });
        }
        return wait;
      }
      if (execution.currentStepIndex !== stageIndex) {
        const moved = await this.deps.executions.transition(execution, execution.status, {
          currentStepIndex: stageIndex,
        });
        if (!moved) return undefined;
      }
      const open = stage.filter((step) => !isTerminalStepStatus(step.status));
      const awaited = (step: ExecutionStepRecord, backstopSeconds: number) => ({
        ordinal: step.ordinal,
        pool: step.workerPool,
        backstopSeconds,
        heartbeatSeconds: this.settings.heartbeatTimeoutSeconds,
      });
      const single = open.length === 1 ? open[0] : undefined;
      const steps = single
        ? [awaited(single, this.handedOnBackstop(stages.slice(stages.indexOf(stage))))]
        : open.map((step) => awaited(step, this.backstopOf(step)));
      return decided({ action: 'run', stageIndex, steps }, single !== undefined);
    }
    const completed = await this.deps.executions.transition(
      execution,
      execution.status,
      {
        status: EXECUTION_MOVES.complete.to,
        completedAt: this.now(),
      },
      records,
    );
    return completed ? decided({ action: 'finished', status: EXECUTION_MOVES.complete.to }) : undefined;
  }

  /** The state machine's timeout on a task awaiting one step: past the step's queue limit and timeout. */
  private backstopOf(step: ExecutionStepRecord): number {
    return this.settings.queueTimeoutSeconds + step.timeoutSeconds + BACKSTOP_MARGIN_SECONDS;
  }

  /**
   * The timeout on a RunSingleStep token, whose completions may hand it on to each one-step stage
   * that follows (see `handOn`): the sum of the backstops of the steps it may serve, from the stage
   * of `stages[0]` up to the first stage of several steps. Each step ends within its own backstop
   * (the service fails it at its deadline, before), so whatever the token has served, the stages
   * left still fit in what remains of it.
   */
  private handedOnBackstop(stages: readonly ExecutionStepRecord[][]): number {
    let sum = 0;
    for (const stage of stages) {
      const open = stage.filter((step) => !isTerminalStepStatus(step.status));
      if (open.length > 1) break;
      for (const step of open) sum += this.backstopOf(step);
    }
    return Math.min(sum, MAX_TIMEOUT_SECONDS);
  }

  /** BufferOne: a buffered execution starts only once every older active execution of its schedule ended. */
  private async mustWaitForPredecessor(execution: Execution): Promise<boolean> {
    if (execution.overlapPolicy !== OverlapPolicy.BufferOne) return false;
    const active = await this.deps.executions.listActive(execution.scheduleId);
    // Ordered as everywhere (ties by id): two queued in the same millisecond must not wait for each other.
    const older = active.filter((other) => other.id !== execution.id && olderFirst(other, execution) < 0);
    // Each one read again, consistently: one that has just ended woke nobody if this run was not
    // parked yet (see park), so it must not be seen active here.
    for (const other of older) {
      const current = await this.deps.executions.get(other.id);
      if (current && isActive(current)) return true;
    }
    return false;
  }

  /**
   * The state machine waits (Advance said so) on a callback: the token is kept on the execution,
   * for whatever ends the wait to send (WakeUps), and the state machine sleeps until then or until
   * the park's timeout. Stored first, looked at second: a resume or a predecessor's end that came
   * after Advance's decision but before the token was stored found no token to send, so this look
   * sees it and answers at once. Two wake-ups send the same token; the second is answered false.
   */
  async park(executionId: string, taskToken: string): Promise<void> {
    const parked = await this.deps.executions.park(executionId, taskToken);
    if (parked && (await this.mustWait(executionId))) return;
    await this.deps.workflow.sendTaskSuccess(taskToken, { woken: true });
  }

  /**
   * The reconciler's look, each minute, at an active execution whose state machine runs: if it was
   * parked and its wait is over, the wake-up that ended it may have been lost (a crash between the
   * write that ended the wait and the send, or a failed send), and the state machine would sleep
   * until the park's timeout (up to an hour). So the token is sent, then forgotten: answered or
   * already spent, it is of no more use, and each park costs at most one such send. True when the
   * send woke a parked state machine.
   */
  async wakeIfWaitEnded(executionId: string): Promise<boolean> {
    const token = await this.deps.executions.parkToken(executionId);
    if (!token || (await this.mustWait(executionId))) return false;
    const woken = await this.deps.workflow.sendTaskSuccess(token, { woken: true });
    await this.deps.executions.forgetParkToken(executionId, token);
    return woken;
  }

  /** What makes Advance answer `wait`: paused at a stage, or buffered behind an older run. */
  private async mustWait(executionId: string): Promise<boolean> {
    const execution = await this.deps.executions.get(executionId);
    if (execution?.status === ExecutionStatus.Paused) return true;
    return execution?.status === ExecutionStatus.Queued && (await this.mustWaitForPredecessor(execution));
  }

  /**
   * Hands a step to the workers of its pool, keeping the state machine's callback token on the task,
   * and whether the state awaiting it takes its next move from the completion (`decidesNext`:
   * RunSingleStep, whose token times out after `backstopSeconds`). A step that can no longer run
   * (execution ended, step cancelled) is answered at once, without a move: Advance decides. `pool`,
   * the step's as Advance's move named it, lets the task be queued without reading the step first.
   */
  async enqueueStep(
    executionId: string,
    ordinal: number,
    taskToken: string,
    { decidesNext = false, backstopSeconds, pool }: EnqueueOptions = {},
  ): Promise<void> {
    const backstopAt =
      backstopSeconds === undefined
        ? undefined
        : new Date(this.clock.now().getTime() + backstopSeconds * 1000).toISOString();
    await this.hand(executionId, ordinal, { taskToken, decidesNext, backstopAt }, 'replace', pool);
  }

  /**
   * Hands the RunSingleStep token of a completed task on to the next stage when that is one step
   * too (`move`, just decided by `advance`), instead of answering it: the state machine stays in
   * RunSingleStep, so a handed-on step costs no state transition and no enqueueStep invocation. The
   * token is handed on only while the stages it may still serve fit in its timeout (`backstopAt`,
   * counted from the enqueue: a little after Step Functions' own start, which the steps' backstop
   * margins cover); false when it is not handed on, and the caller answers it with the move. The
   * token is beaten first: one no longer awaited (spent by an answer racing this one, or replaced
   * by a retried enqueueStep) is not put on a task, and there is nothing to answer. A next step
   * handed out already (a retried report; a newer RunSingleStep's enqueue) keeps the token it has.
   */
  private async handOn(task: WorkerTask, move: NextMove): Promise<boolean> {
    const next = move.action === 'run' ? move.steps[0] : undefined;
    if (!next || !task.decidesNext || task.backstopAt === undefined) return false;
    if (this.clock.now().getTime() + next.backstopSeconds * 1000 > Date.parse(task.backstopAt)) return false;
    const { taskToken, backstopAt } = task;
    // Also starts the token's heartbeat clock again, as a new state's would; the reconciler beats
    // for the task while it waits for a worker, its worker once claimed.
    if (!(await this.deps.workflow.sendTaskHeartbeat(taskToken))) return true;
    const awaited = { taskToken, decidesNext: true, backstopAt };
    await this.hand(task.executionId, next.ordinal, awaited, 'keep', next.pool);
    return true;
  }

  /**
   * Whether the task's RunSingleStep token was handed on and is awaited for a later step now: then
   * the state machine hears from that step, and a report of this task repeated must not answer it.
   */
  async handedOnFrom(task: WorkerTask): Promise<boolean> {
    if (!task.decidesNext) return false;
    const later = await this.laterHandedOut(task.executionId, task.ordinal);
    const held = later?.taskId ? await this.deps.tasks.get(later.taskId) : undefined;
    return held?.taskToken === task.taskToken;
  }

  /**
   * Queues the step's task awaited by `awaited`; a step handed out already gets its token when told
   * to `replace`. Given the step's `pool`, the enqueue is tried first, unread: its condition on the
   * step's status decides, as it would after a read (an execution that ended cancelled its steps in
   * the same transaction, so an ended execution's step cannot be queued), and the step is read only
   * when the enqueue was refused, to tell why (handed out already, or ended).
   */
  private async hand(
    executionId: string,
    ordinal: number,
    awaited: Pick<WorkerTask, 'taskToken' | 'decidesNext' | 'backstopAt'>,
    handedOut: 'replace' | 'keep',
    pool?: string,
  ): Promise<void> {
    if (pool !== undefined && (await this.enqueue(executionId, ordinal, pool, awaited))) return;
    const step = await this.activeStep(executionId, ordinal, awaited.taskToken);
    if (!step) return;
    // Handed out already (enqueueStep retried after a Lambda error, or a new RunSingleStep after
    // Advance): with `replace`, the task keeps going with the newer token.
    if (step.taskId && HANDED_OUT_STEP_STATUSES.includes(step.status)) {
      if (handedOut === 'replace') await this.deps.tasks.replaceToken(step.taskId, awaited);
      return;
    }
    if (!(await this.enqueue(executionId, ordinal, step.workerPool, awaited))) {
      return this.hand(executionId, ordinal, awaited, handedOut);
    }
  }

  /** A new task for the step, queued if the step is still waiting to be (else false), and signalled. */
  private async enqueue(
    executionId: string,
    ordinal: number,
    pool: string,
    awaited: Pick<WorkerTask, 'taskToken' | 'decidesNext' | 'backstopAt'>,
  ): Promise<boolean> {
    const task = {
      taskId: randomUUID(),
      executionId,
      ordinal,
      pool,
      status: INITIAL_STATUS.task,
      ...awaited,
      createdAt: this.now(),
    };
    if (!(await this.deps.tasks.enqueue(task, STEP_MOVES.enqueue.from))) return false;
    await signalQueued(this.deps.signals ?? NO_SIGNALS, task, this.deps.onSignalFailure);
    return true;
  }

  /**
   * The step, read with its execution; undefined when it can no longer run (execution ended, step
   * cancelled), its token then answered at once, without a move: Advance decides.
   */
  private async activeStep(
    executionId: string,
    ordinal: number,
    taskToken: string,
  ): Promise<ExecutionStepRecord | undefined> {
    const { execution, step } = await this.deps.executions.getWithStep(executionId, ordinal);
    if (!execution || !step) throw new Error(`Step ${ordinal} of execution ${executionId} does not exist.`);
    if (isActive(execution) && !isTerminalStepStatus(step.status)) return step;
    await this.deps.workflow.sendTaskSuccess(taskToken, { skipped: true });
    return undefined;
  }

  /**
   * The state machine gave up on a step: timeout, lost heartbeat, or an error of its own. For
   * RunSingleStep (`handedOn`), `ordinal` is the first step its token awaited; the step it awaits
   * now is that one's or, once a completion handed the token on, the one step of the execution
   * handed out (see `awaitedStep`).
   */
  async stepFailed(
    executionId: string,
    ordinal: number,
    error: { Error?: string; Cause?: string },
    handedOn = false,
  ): Promise<void> {
    const step = handedOn
      ? await this.awaitedStep(executionId, ordinal)
      : await this.deps.executions.getStep(executionId, ordinal);
    if (!step || !canMove(STEP_MOVES.fail, step.status)) return;
    if (!(await this.failStep(executionId, step, error))) {
      await this.stepFailed(executionId, ordinal, error, handedOn);
    }
  }

  /**
   * The step a RunSingleStep token that started at `ordinal` awaits: the one it was handed on to
   * (see `laterHandedOut`), else its first.
   */
  private async awaitedStep(executionId: string, ordinal: number): Promise<ExecutionStepRecord | undefined> {
    return (
      (await this.laterHandedOut(executionId, ordinal)) ??
      (await this.deps.executions.getStep(executionId, ordinal))
    );
  }

  /**
   * The step after `ordinal` that is handed out, if any. While the state machine is in
   * RunSingleStep no other step of the execution is handed out (a stage of several runs in the
   * Map), so it is the one the RunSingleStep token that started at `ordinal` was handed on to.
   */
  private async laterHandedOut(
    executionId: string,
    ordinal: number,
  ): Promise<ExecutionStepRecord | undefined> {
    const steps = await this.deps.executions.getSteps(executionId);
    return steps.find((step) => step.ordinal > ordinal && HANDED_OUT_STEP_STATUSES.includes(step.status));
  }

  /**
   * Fails the task's step when it is past a deadline: still unclaimed `queueTimeoutSeconds` after
   * its enqueue, or claimed longer ago than its `timeoutSeconds` (queue time does not count). Then
   * lets the state machine go on, which reads the failure from the step as for any outcome. False
   * when the task is within its time, or its step moved on meanwhile (claimed, reported, cancelled):
   * the next heartbeat or reconciler run looks again. `current` is the task's step when the caller
   * has just read it consistently (a heartbeat), so it is not read again.
   */
  async timeOutIfOverdue(task: WorkerTask, current?: ExecutionStepRecord): Promise<boolean> {
    const step = current ?? (await this.deps.executions.getStep(task.executionId, task.ordinal));
    const deadline = step && this.deadlineOf(task, step);
    if (!step || !deadline || step.status !== deadline.status || step.taskId !== task.taskId) return false;
    if (this.clock.now().getTime() < deadline.at) return false;
    if (!(await this.failStep(task.executionId, step, { Error: 'States.Timeout' }))) return false;
    await this.deps.workflow.sendTaskSuccess(task.taskToken, { timedOut: true });
    return true;
  }

  /**
   * When the task's time is up, and the step status that deadline belongs to: the queue limit from
   * the enqueue while no worker has it, the step's timeoutSeconds from the claim once one does (the
   * claim moves the task Queued → Claimed and the step Queued → Processing in one transaction).
   */
  private deadlineOf(
    task: WorkerTask,
    step: ExecutionStepRecord,
  ): { status: StepStatus; at: number } | undefined {
    if (task.status === WorkerTaskStatus.Queued) {
      const at = Date.parse(task.createdAt) + this.settings.queueTimeoutSeconds * 1000;
      return { status: StepStatus.Queued, at };
    }
    if (task.status === WorkerTaskStatus.Claimed && task.claimedAt) {
      return { status: StepStatus.Processing, at: Date.parse(task.claimedAt) + step.timeoutSeconds * 1000 };
    }
    return undefined;
  }

  /** Step (still in the status read) → Failed with the reason, its task abandoned; false when it had moved. */
  private async failStep(
    executionId: string,
    step: ExecutionStepRecord,
    error: { Error?: string; Cause?: string },
  ): Promise<boolean> {
    const updated = await this.deps.executions.updateStep(executionId, step.ordinal, [step.status], {
      status: STEP_MOVES.fail.to,
      completedAt: this.now(),
      errorMessage: describeStepError(step, error, this.settings.queueTimeoutSeconds),
    });
    // What the move carries for its task (STEP_MOVES.fail.task): abandoned, so its worker stops.
    if (updated && step.taskId) await this.deps.tasks.abandon(step.taskId);
    return updated;
  }

  /** Something unexpected ended the state machine: the execution must not stay active. */
  async crash(executionId: string, error: { Error?: string; Cause?: string }): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const execution = await this.deps.executions.get(executionId);
      if (!execution) return;
      // Also when it had ended before (a retried crash): a failed wake-up is then sent again.
      if (!isActive(execution)) return this.deps.wakeUps.afterEnd(execution);
      const failed = await this.deps.executions.transition(execution, execution.status, {
        status: EXECUTION_MOVES.fail.to,
        completedAt: this.now(),
        errorMessage: `The execution stopped on an unexpected error: ${error.Error ?? 'Error'}${
          error.Cause ? `: ${error.Cause}` : ''
        }`,
      });
      if (failed) return this.deps.wakeUps.afterEnd(execution);
    }
  }
}

const isActive = (execution: Execution) => isActiveExecutionStatus(execution.status);

function describeStepError(
  step: ExecutionStepRecord,
  error: { Error?: string; Cause?: string },
  queueTimeoutSeconds: number,
): string {
  switch (error.Error) {
    case 'States.Timeout':
      if (step.status === StepStatus.Queued) {
        return `Never claimed: no worker of pool '${step.workerPool}' claimed the step within the queue limit of ${queueTimeoutSeconds} s.`;
      }
      return `Timed out: the step did not finish within its timeout of ${step.timeoutSeconds} s; its worker was told to stop.`;
    case 'States.HeartbeatTimeout':
      return 'Lost heartbeat: the worker running the step stopped reporting; it was told to stop.';
    default:
      return `The step failed: ${error.Error ?? 'Error'}${error.Cause ? `: ${error.Cause}` : ''}`;
  }
}
