import { randomUUID } from 'node:crypto';
import { ActivityStatus } from '../core/model.js';
import type { ScheduleStep } from '../core/schemas/schedule.js';
import { ClaimedTask as ClaimedTaskSchema, WORKER_LIMITS } from '../core/schemas/worker.js';
import { keepNewestBytes, STEP_OUTPUT_BYTES } from '../core/step-output.js';
import { sleep, WorkerApiClient, WorkerApiError } from './api-client.js';
import type { WorkerConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { bound, describeIssues, failed, type StopReason } from './outcome.js';
import { createRunners, type RunnerTable } from './runners/index.js';
import type { RunContext, StepOutcome, StepRunner } from './runners/types.js';

/** A task as the claim endpoint hands it out. */
export type ClaimedTask = ReturnType<typeof ClaimedTaskSchema.parse>;

/** How long an outcome report is retried while the API is unreachable. */
const REPORT_RETRY_MS = 10 * 60_000;
/** After the shutdown grace period, how long reports of the stopped steps may still take. */
const REPORT_AFTER_GRACE_MS = 15_000;
/** Longest pause between claims after failures. */
const MAX_CLAIM_BACKOFF_MS = 30_000;
/** Characters of an errorMessage put in a log line. */
const LOGGED_MESSAGE = 500;

/** What happened to one task, for embedders and tests. */
export interface TaskEnd {
  task: ClaimedTask;
  outcome: StepOutcome;
  /** Why the worker stopped the step, if it did. */
  stopReason: StopReason | undefined;
  /** Whether the outcome reached the service, and whether the service took it (false: the step had already ended). */
  reported: boolean;
  accepted: boolean | undefined;
  startedAt: Date;
  endedAt: Date;
}

export interface WorkerAgentOptions {
  config: WorkerConfig;
  /** The Worker API key (the CLI reads it from the variable named by `config.apiKeyEnv`). */
  apiKey: string;
  /** The worker's environment: where secrets are read, and (without them) what step processes get. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Replaces runners by step type (tests, embedding). */
  runners?: Partial<RunnerTable>;
  /** Replaces the API client (tests). */
  client?: WorkerApiClient;
  /** Called once per task, after its outcome was reported or given up on. */
  onTaskEnd?: (end: TaskEnd) => void;
}

interface RunningTask {
  abort(reason: StopReason): void;
  done: Promise<void>;
}

/**
 * The worker agent: claims tasks for its pools with a long poll while it has free slots (at most
 * `concurrency` steps at once), runs each with the runner of its step type, heartbeats every
 * `heartbeatIntervalSeconds`, stops a step when the service asks (`cancellationRequested`) or when its
 * `timeoutSeconds` pass, and reports the outcome (retried; the service takes a report once).
 *
 * `stop()` is graceful: no more claims, running steps may finish within `shutdownGraceSeconds`, then
 * they are stopped and reported `Cancelled` ("worker shutting down").
 */
export class WorkerAgent {
  private readonly config: WorkerConfig;
  private readonly client: WorkerApiClient;
  private readonly runners: RunnerTable;
  private readonly log: Logger;
  private readonly tasks = new Map<string, RunningTask>();
  /** Aborted by stop(): no new claims, no more claim retries. */
  private readonly stopClaiming = new AbortController();
  /** Aborted when even reports must give up (after the grace period and a little more). */
  private readonly hardStop = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private graceDeadline: number | undefined;
  private graceExpired = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private hardStopTimer: NodeJS.Timeout | undefined;
  private wakeLoop: (() => void) | undefined;

  constructor(private readonly options: WorkerAgentOptions) {
    this.config = options.config;
    this.log =
      options.logger ??
      createLogger({ level: this.config.logLevel, fields: { workerId: this.config.workerId } });
    this.client =
      options.client ??
      new WorkerApiClient({
        apiUrl: this.config.apiUrl,
        apiKey: options.apiKey,
        workerId: this.config.workerId,
        userAgent: `schedule-worker (${this.config.workerId})`,
        logger: this.log,
      });
    this.runners = { ...createRunners(this.config, options.env ?? process.env), ...options.runners };
  }

  /** Steps running now. */
  get runningTasks(): number {
    return this.tasks.size;
  }

  /** Starts claiming. */
  start(): void {
    if (this.loop) throw new Error('The worker agent is already started.');
    if (this.stopping) throw new Error('The worker agent was stopped; create a new one.');
    const { workerId, pools, concurrency, apiUrl } = this.config;
    this.log.info('worker started', { workerId, pools, concurrency, apiUrl });
    this.loop = this.claimLoop();
  }

  /**
   * Stops gracefully: claims no more, lets running steps finish for `graceSeconds` (default
   * `shutdownGraceSeconds`), then stops them and reports them `Cancelled`. Resolves when every
   * outcome was reported (or given up on). Calling again with a shorter grace shortens it.
   */
  stop(options: { graceSeconds?: number } = {}): Promise<void> {
    this.armGrace(options.graceSeconds ?? this.config.shutdownGraceSeconds);
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.log.info('worker stopping', {
      runningTasks: this.tasks.size,
      graceSeconds: Math.max(0, Math.round(((this.graceDeadline ?? Date.now()) - Date.now()) / 1000)),
    });
    this.stopClaiming.abort();
    this.wakeLoop?.();
    // A claim in flight is let finish (at most pollWaitSeconds): aborting it could lose tasks it claimed.
    await this.loop;
    await Promise.all([...this.tasks.values()].map((task) => task.done));
    clearTimeout(this.graceTimer);
    clearTimeout(this.hardStopTimer);
    this.log.info('worker stopped');
  }

  private armGrace(seconds: number): void {
    const deadline = Date.now() + Math.max(0, seconds) * 1000;
    if (this.graceExpired || (this.graceDeadline !== undefined && this.graceDeadline <= deadline)) return;
    this.graceDeadline = deadline;
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.endGrace(), deadline - Date.now());
  }

  private endGrace(): void {
    this.graceExpired = true;
    if (this.tasks.size > 0)
      this.log.warn('shutdown grace period over; stopping running steps', { runningTasks: this.tasks.size });
    for (const task of this.tasks.values()) task.abort('shutdown');
    this.hardStopTimer = setTimeout(() => this.hardStop.abort(), REPORT_AFTER_GRACE_MS);
  }

  private async claimLoop(): Promise<void> {
    const { workerId, pools, concurrency, pollWaitSeconds } = this.config;
    let failures = 0;
    // Kept until a claim is answered: a claim retried after a lost answer gets back what it took.
    let requestId = randomUUID();
    while (!this.stopClaiming.signal.aborted) {
      const free = concurrency - this.tasks.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.wakeLoop = resolve;
        });
        this.wakeLoop = undefined;
        continue;
      }
      let claimed: unknown[];
      try {
        claimed = await this.client.claim(
          {
            workerId,
            pools,
            maxTasks: Math.min(free, WORKER_LIMITS.maxTasks),
            waitSeconds: pollWaitSeconds,
            requestId,
          },
          { signal: this.hardStop.signal, stopRetrying: this.stopClaiming.signal, retryForMs: 60_000 },
        );
        failures = 0;
        requestId = randomUUID();
      } catch (error) {
        if (this.stopClaiming.signal.aborted) break;
        failures += 1;
        const wait = Math.min(MAX_CLAIM_BACKOFF_MS, this.client.backoff(failures));
        this.log.error('claim failed', { error, status: (error as WorkerApiError).status, retryInMs: wait });
        await sleep(wait, [this.stopClaiming.signal]);
        continue;
      }
      for (const raw of claimed) this.startTask(raw);
    }
  }

  private startTask(raw: unknown): void {
    const parsed = ClaimedTaskSchema.safeParse(raw);
    if (!parsed.success) {
      const key = `unreadable-${Math.random()}`;
      const entry: RunningTask = { abort: () => {}, done: Promise.resolve() };
      this.tasks.set(key, entry);
      entry.done = this.rejectTask(raw, describeIssues(parsed.error)).finally(() => {
        this.tasks.delete(key);
        this.wakeLoop?.();
      });
      return;
    }
    const task = parsed.data;
    const controller = new AbortController();
    let reason: StopReason | undefined;
    const log = this.log.child({
      taskId: task.taskId,
      executionId: task.executionId,
      step: task.step.name,
      stepType: task.step.stepType,
    });
    const entry: RunningTask = {
      abort: (why) => {
        if (reason) return;
        reason = why;
        log.info('stopping step', { reason: why });
        controller.abort();
      },
      done: Promise.resolve(),
    };
    this.tasks.set(task.taskId, entry);
    entry.done = this.runTask(task, log, controller.signal, () => reason, entry.abort)
      .catch((error: unknown) => log.error('task handling failed', { error }))
      .finally(() => {
        this.tasks.delete(task.taskId);
        this.wakeLoop?.();
      });
    if (this.graceExpired) entry.abort('shutdown');
  }

  private async runTask(
    task: ClaimedTask,
    log: Logger,
    signal: AbortSignal,
    reason: () => StopReason | undefined,
    abort: (why: StopReason) => void,
  ): Promise<void> {
    const startedAt = new Date();
    log.info('task claimed', {
      scheduleName: task.scheduleName,
      timeoutSeconds: task.timeoutSeconds,
      heartbeatIntervalSeconds: task.heartbeatIntervalSeconds,
    });
    const timeoutSeconds = task.timeoutSeconds || task.step.timeoutSeconds;
    const timeout = setTimeout(() => abort('timeout'), timeoutSeconds * 1000);

    let progress: string | undefined;
    // What the step printed so far (its progress lines), newest 16 KB; sent when it changed.
    let printed = '';
    let sentPrinted = '';
    let beating = false;
    const finished = new AbortController();
    const intervalMs = Math.max(1, task.heartbeatIntervalSeconds) * 1000;
    const beat = async () => {
      if (beating || signal.aborted) return;
      beating = true;
      try {
        printed = keepNewestBytes(printed);
        const output = printed === sentPrinted ? undefined : printed;
        const answer = await this.client.heartbeat(
          task.taskId,
          { message: progress, output },
          {
            signal: this.hardStop.signal,
            stopRetrying: finished.signal,
            retryForMs: intervalMs,
          },
        );
        if (output !== undefined) sentPrinted = output;
        if (answer.cancellationRequested && !finished.signal.aborted) abort('cancelled');
      } catch (error) {
        if (error instanceof WorkerApiError && error.status === 404) abort('cancelled');
        else if (!finished.signal.aborted) log.warn('heartbeat failed', { error });
      } finally {
        beating = false;
      }
    };
    const heartbeats = setInterval(() => void beat(), intervalMs);

    const context: RunContext = {
      signal,
      reason,
      taskId: task.taskId,
      executionId: task.executionId,
      progress: (message) => {
        progress = message;
        printed += `${message}\n`;
        // Trimmed now and then, not on every line: a chatty program costs bounded memory and little time.
        if (printed.length > 4 * STEP_OUTPUT_BYTES) printed = keepNewestBytes(printed);
      },
    };
    let outcome: StepOutcome;
    try {
      const runner = this.runners[task.step.stepType] as StepRunner<ScheduleStep> | undefined;
      outcome = runner
        ? await runner.run(task.step, context)
        : failed(`Worker ${this.config.workerId} has no runner for step type ${task.step.stepType}`);
    } catch (error) {
      outcome = failed(`The worker failed running the step: ${(error as Error).message ?? String(error)}`);
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeats);
      finished.abort();
    }
    outcome = bound(outcome);
    const durationMs = Date.now() - startedAt.getTime();
    log.info('step ended', {
      activityStatus: outcome.activityStatus,
      activityId: outcome.activityId,
      errorMessage: outcome.errorMessage?.slice(0, LOGGED_MESSAGE),
      stopReason: reason(),
      durationMs,
    });

    const report = await this.report(task, outcome, log);
    this.options.onTaskEnd?.({
      task,
      outcome,
      stopReason: reason(),
      ...report,
      startedAt,
      endedAt: new Date(),
    });
  }

  /** Reports an outcome, retrying while the API is unavailable. */
  private async report(
    task: Pick<ClaimedTask, 'taskId'>,
    outcome: StepOutcome,
    log: Logger,
  ): Promise<{ reported: boolean; accepted: boolean | undefined }> {
    const options = { signal: this.hardStop.signal, retryForMs: REPORT_RETRY_MS };
    try {
      const answer = await this.client.complete(task.taskId, outcome, options);
      if (answer.accepted) log.info('outcome reported', { stepStatus: answer.stepStatus });
      else log.warn('outcome not taken: the step had already ended', { stepStatus: answer.stepStatus });
      return { reported: true, accepted: answer.accepted };
    } catch (error) {
      let last = error;
      if (error instanceof WorkerApiError && error.status === 400) {
        // The content was refused: report the status alone, so the step does not wait for a heartbeat timeout.
        try {
          const answer = await this.client.complete(
            task.taskId,
            {
              activityStatus: outcome.activityStatus,
              errorMessage: `The worker's report was refused: ${error.message}`,
            },
            options,
          );
          log.warn('outcome reported without its details', { error, stepStatus: answer.stepStatus });
          return { reported: true, accepted: answer.accepted };
        } catch (retryError) {
          last = retryError;
        }
      }
      log.error('outcome could not be reported; the service fails the step when its heartbeat lapses', {
        error: last,
      });
      return { reported: false, accepted: undefined };
    }
  }

  /** A claimed task this worker cannot read (e.g. a step type newer than the worker): fail it, saying why. */
  private async rejectTask(raw: unknown, problem: string): Promise<void> {
    const taskId = (raw as { taskId?: unknown } | null)?.taskId;
    if (typeof taskId !== 'string') {
      this.log.error('claimed a task without a task id; ignoring it', { problem });
      return;
    }
    const log = this.log.child({ taskId });
    log.error('claimed a task this worker cannot read', { problem });
    await this.report(
      { taskId },
      bound({
        activityStatus: ActivityStatus.FailedWithError,
        errorMessage: `Worker ${this.config.workerId} cannot read this task (${problem}); is the worker older than the service?`,
      }),
      log,
    );
  }
}
