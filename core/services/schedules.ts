import { randomUUID } from 'node:crypto';
import { planFire } from '../catch-up.js';
import { nextFireTimes } from '../cron.js';
import type { ValueOf } from '../enum.js';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import {
  type ClaimedResponse,
  claimOf,
  claimTime,
  type IdempotencyClaim,
  type IdempotencyScope,
  type Replayable,
  replayOf,
  requestHash,
} from '../idempotency.js';
import {
  ExecutionStatus,
  InitiatedByType,
  type Initiator,
  StepStatus,
  StepType,
  TriggerType,
} from '../model.js';
import { decideOverlap, OverlapDecision, runsOneAtATime, superseded } from '../overlap.js';
import type { PageEnvelope } from '../paging.js';
import { pageInMemory } from '../paging.js';
import type {
  Clock,
  ExecutionStepRecord,
  ExecutionStore,
  IdempotencyStore,
  ScheduleRecord,
  ScheduleRunUpdate,
  ScheduleStore,
  Workflow,
} from '../ports.js';
import { StaleVersionError, systemClock } from '../ports.js';
import type { Execution } from '../schemas/execution.js';
import {
  type ListSchedulesQuery,
  type NextRuns,
  RunScheduleResult,
  type Schedule,
  type ScheduleInput,
  type ScheduleSortBy,
  type ScheduleStep,
  type ScheduleSummary,
} from '../schemas/schedule.js';
import { assignStageIndexes, countStages } from '../stages.js';
import { isActiveExecutionStatus, RETRYABLE_EXECUTION_STATUSES } from '../transitions.js';

/** A cron run is started by no one: its name is the schedule's trigger, as the contract allows. */
const cronInitiator = (cronExpression: string, timeZone: string): Initiator => ({
  type: InitiatedByType.NotSet,
  id: null,
  name: `Cron ${cronExpression} (${timeZone})`,
});

export const FireOutcome = {
  /** An execution was queued for the fire time. */
  Started: 'Started',
  /** The overlap policy refused the fire (or the schedule has no steps); counted on the schedule. */
  Skipped: 'Skipped',
  /** Every due fire time was older than the catch-up window; counted on the schedule. */
  Missed: 'Missed',
  /** Not due (any more): another dispatcher fired it, or it was edited or disabled meanwhile. */
  NotDue: 'NotDue',
} as const;
export type FireOutcome = ValueOf<typeof FireOutcome>;

export interface FireResult {
  scheduleId: string;
  outcome: FireOutcome;
  /** The fire time acted on (run or skipped); null when none was recent enough or not due. */
  fireTime: string | null;
  /** Older fire times of this fire that were counted as missed. */
  missed: number;
  /** The execution queued, when the outcome is Started. */
  executionId?: string;
  queuedAt?: string;
}

/** What the schedule service needs of the execution service: CancelOther cancels the runs it supersedes. */
export interface ExecutionCanceller {
  /** Cancels the execution if it is still active; one that had already finished is left alone. */
  cancelIfActive(id: string, by: Initiator): Promise<unknown>;
}

export interface ScheduleServiceDeps {
  schedules: ScheduleStore;
  executions: ExecutionStore;
  canceller: ExecutionCanceller;
  idempotency: IdempotencyStore;
  workflow: Workflow;
  /** Told when the state machine could not be started (the reconciler retries); for logging. */
  onStartFailure?: (executionId: string, error: unknown) => void;
  clock?: Clock;
  newId?: () => string;
}

/** What a schedule has that has not run yet: a new one, and the stand-in for a deleted one. */
const NEVER_RUN = {
  lastRunTime: null,
  skippedCount: 0,
  missedCount: 0,
  lastExecutionId: null,
} as const satisfies Partial<ScheduleRecord>;

/** What differs between a manual run, a cron fire and a retry, for `ScheduleService.launch`. */
interface Launch<R> {
  initiator: Initiator;
  /** The fire time a cron fire runs for; null for a manual run. */
  scheduledFor: string | null;
  /** The execution's step rows: the schedule's steps snapshotted, or a retry's from its original. */
  steps: ExecutionStepRecord[];
  /** What the execution has beyond a plain run of the schedule (a retry's snapshot and link). */
  fields?: Partial<Execution>;
  /**
   * Whether the answer names the schedule's active executions even under a policy that never
   * refuses (a manual run's message counts them; a cron fire's answer does not).
   */
  answersWithActive: boolean;
  /** The answer when the overlap policy refuses the run (nothing was written). */
  refused(active: Execution[]): Promise<R>;
  /**
   * What recording the execution writes on its schedule (null: nothing, the schedule is gone), and
   * the idempotency key's claim with it.
   */
  record(
    execution: Execution,
    decision: OverlapDecision,
    active: Execution[],
  ): { update: ScheduleRunUpdate | null; claim?: IdempotencyClaim<ClaimedResponse> | undefined };
  /** The key a withdrawn run releases. */
  scope?: IdempotencyScope | undefined;
  /** The answer once the run is recorded and what it supersedes cancelled, before its state machine starts. */
  launched(run: {
    execution: Execution;
    decision: OverlapDecision;
    active: Execution[];
    cancelled: Execution[];
  }): Promise<R>;
}

/** Conditional writes lose to concurrent ones only briefly; re-reads with jittered backoff settle the race. */
const MAX_ATTEMPTS = 10;

export class ScheduleService {
  private readonly clock: Clock;
  private readonly newId: () => string;

  constructor(private readonly deps: ScheduleServiceDeps) {
    this.clock = deps.clock ?? systemClock;
    this.newId = deps.newId ?? randomUUID;
  }

  async list(query: ListSchedulesQuery): Promise<PageEnvelope<ScheduleSummary>> {
    const needle = query.search?.toLowerCase();
    const matching = (await this.deps.schedules.listAll()).filter(
      (s) =>
        !needle ||
        s.name.toLowerCase().includes(needle) ||
        (s.description ?? '').toLowerCase().includes(needle),
    );
    const compare = SCHEDULE_ORDER[query.sortBy];
    matching.sort((a, b) => (query.sortDescending ? -1 : 1) * compare(a, b) || a.id.localeCompare(b.id));
    const page = pageInMemory(matching, query.page ?? 1, query.pageSize);
    const items = await this.withLastExecutionStatus(page.items);
    return { ...page, items: items.map(({ steps: _steps, ...summary }) => summary) };
  }

  async get(id: string): Promise<Schedule> {
    const [schedule] = await this.withLastExecutionStatus([await this.require(id)]);
    return schedule as Schedule;
  }

  async create(input: ScheduleInput): Promise<Schedule> {
    const now = this.clock.now().toISOString();
    const record: ScheduleRecord = {
      ...this.fromInput(input),
      ...NEVER_RUN,
      id: this.newId(),
      created: now,
      lastUpdated: now,
      version: 1,
    };
    await this.deps.schedules.create(record);
    return present(record, null);
  }

  async replace(id: string, input: ScheduleInput): Promise<Schedule> {
    return this.update(id, (current) => ({ ...current, ...this.fromInput(input, current.steps) }));
  }

  async setEnabled(id: string, isEnabled: boolean): Promise<Schedule> {
    return this.update(id, (current) => ({
      ...current,
      isEnabled,
      nextRunTime: this.nextRunTime({ ...current, isEnabled }),
    }));
  }

  async delete(id: string): Promise<void> {
    await this.retrying(async () => {
      const current = await this.require(id);
      const active = await this.activeExecutions(current);
      if (active.length > 0) {
        throw new ConflictError(`Schedule '${current.name}' has an active execution; cancel it first.`, {
          activeExecutionIds: active.map((e) => e.id),
        });
      }
      await this.deps.schedules.delete(current);
    });
  }

  /**
   * Creates a Queued execution (steps Pending, name and steps snapshotted), obeying the overlap policy,
   * at most once per idempotency key (see `once`).
   */
  async run(
    id: string,
    initiator: Initiator,
    idempotencyKey?: string,
  ): Promise<Replayable<RunScheduleResult>> {
    return this.once(
      // Run takes no body: every run of the schedule with the key is the same request.
      { operation: 'runSchedule', resourceId: id, initiator, idempotencyKey, request: {} },
      async (scope) => {
        const schedule = await this.require(id);
        if (schedule.steps.length === 0) {
          throw new BadRequestError(`Schedule '${schedule.name}' has no steps to run.`);
        }
        return this.launchManual(schedule, { initiator, scope, steps: snapshotSteps(schedule.steps) });
      },
    );
  }

  /**
   * Retries a Failed or Cancelled execution: a new execution of the original's snapshot (its steps
   * as they were, not the schedule's current ones), started at `fromStepIndex` or by default at the
   * first stage in which a step did not end Completed or Completed with Warning. The steps of
   * earlier stages are carried over as they ended (`carriedOver: true`) and never run again. It is
   * launched as a manual run of the schedule (overlap policy, idempotency key, CancelOther), and the
   * original names it as `retriedByExecutionId` in the same transaction.
   *
   * A schedule deleted since: the retry still runs, under the policy the original was queued with
   * (`overlapPolicy`), decided on the schedule's remaining active executions (other retries). With
   * no schedule item there is nothing to record the run on, so nothing withdraws it, and nothing
   * decides such runs one at a time: two retries of a deleted Skip schedule sent at the same instant
   * may both start.
   */
  async retry(
    id: string,
    initiator: Initiator,
    fromStepIndex?: number,
    idempotencyKey?: string,
  ): Promise<Replayable<RunScheduleResult>> {
    return this.once(
      { operation: 'retryExecution', resourceId: id, initiator, idempotencyKey, request: { fromStepIndex } },
      async (scope) => {
        const original = await this.deps.executions.get(id);
        if (!original) throw new NotFoundError('Execution', id);
        if (!RETRYABLE_EXECUTION_STATUSES.includes(original.status)) {
          throw new ConflictError(
            `Execution '${id}' is ${original.status}: only a ${RETRYABLE_EXECUTION_STATUSES.join(' or ')} execution can be retried.`,
            { status: original.status },
          );
        }
        const originalSteps = await this.deps.executions.getSteps(id);
        const start = retryStart(originalSteps, fromStepIndex);
        const steps = retrySteps(originalSteps, start);
        const schedule = (await this.deps.schedules.get(original.scheduleId)) ?? scheduleOf(original, steps);
        return this.launchManual(schedule, {
          initiator,
          scope,
          steps,
          fields: {
            scheduleName: original.scheduleName,
            totalSteps: original.totalSteps,
            currentStepIndex: start,
            retryOfExecutionId: original.id,
          },
        });
      },
    );
  }

  /**
   * A request that starts an execution, made at most once per idempotency key: with a key the caller
   * already used for this operation on this resource, the first response is replayed, or a 409 given
   * when `request` (what it asks beyond the resource) differs from the first's (core/idempotency.ts). The key is read again on every attempt (`retrying`), before the overlap
   * policy is applied, so a repeat is not refused because of the run it repeats.
   */
  private once(
    request: {
      operation: string;
      resourceId: string;
      initiator: Initiator;
      idempotencyKey: string | undefined;
      request: Readonly<Record<string, unknown>>;
    },
    attempt: (scope: IdempotencyScope | undefined) => Promise<RunScheduleResult>,
  ): Promise<Replayable<RunScheduleResult>> {
    const { operation, resourceId, initiator, idempotencyKey } = request;
    const scope: IdempotencyScope | undefined =
      idempotencyKey !== undefined && initiator.id !== null
        ? {
            operation,
            principal: { type: initiator.type, id: initiator.id },
            resourceId,
            key: idempotencyKey,
            requestHash: requestHash(request.request),
          }
        : undefined;
    return this.retrying(async (): Promise<Replayable<RunScheduleResult>> => {
      const earlier =
        scope && (await this.deps.idempotency.find<RunScheduleResult>(scope, claimTime(this.clock)));
      // Parsed again: the stored record's fields come back in no order, the contract's answer in its own.
      if (scope && earlier) return { ...RunScheduleResult.parse(replayOf(earlier, scope)), replayed: true };
      return attempt(scope);
    });
  }

  /** A run someone asked for (run, retry): 409 when the overlap policy refuses it, 202 otherwise. */
  private launchManual(
    schedule: ScheduleRecord & { deleted?: true },
    run: Pick<Launch<RunScheduleResult>, 'initiator' | 'scope' | 'steps' | 'fields'>,
  ): Promise<RunScheduleResult> {
    const { scope } = run;
    const queued = (
      execution: Execution,
      decision: OverlapDecision,
      active: Execution[],
    ): RunScheduleResult => ({
      executionId: execution.id,
      status: execution.status,
      message:
        decision === OverlapDecision.Start && active.length > 0
          ? `Execution queued behind ${active.length} active execution(s) (overlap policy ${schedule.overlapPolicy}).`
          : 'Execution queued.',
    });
    return this.launch(schedule, {
      ...run,
      scheduledFor: null,
      answersWithActive: true,
      refused: async (active) => {
        throw new ConflictError(
          `Schedule '${schedule.name}' already has an active execution (overlap policy ${schedule.overlapPolicy}).`,
          { activeExecutionId: active[0]?.id, activeExecutionIds: active.map((e) => e.id) },
        );
      },
      record: (execution, decision, active) => ({
        update: schedule.deleted
          ? null
          : {
              version: schedule.version,
              exclusive: runsOneAtATime(schedule.overlapPolicy),
              lastRunTime: execution.queuedAt,
            },
        claim: scope && claimOf(scope, queued(execution, decision, active), this.clock),
      }),
      launched: async ({ execution, decision, active, cancelled }) => {
        const result: RunScheduleResult = cancelled.some((e) => e.id === execution.id)
          ? {
              executionId: execution.id,
              status: ExecutionStatus.Cancelled,
              message: `Execution queued, then cancelled: a newer run of the schedule started at the same time (overlap policy CancelOther).`,
            }
          : cancelled.length > 0
            ? {
                ...queued(execution, decision, active),
                message: `Execution queued; cancelled the active execution(s) ${cancelled.map((e) => e.id).join(', ')} (overlap policy CancelOther).`,
              }
            : queued(execution, decision, active);
        // The claim was written with what was known then; a replay should say what this answer says.
        if (scope && cancelled.length > 0) await this.deps.idempotency.settle(scope, result);
        return result;
      },
    });
  }

  /**
   * Fires a cron schedule whose `nextRunTime` has come: at most one execution per fire time, however
   * many dispatchers call this at once. The fire is claimed by the same version-conditional write that
   * moves `nextRunTime` on (and, when it runs, creates the execution), so a second caller finds the
   * schedule no longer due. `read` is the schedule as the dispatcher read it in a batch: it serves the
   * first attempt only, since the write's version condition refuses it if it has changed meanwhile,
   * and every retry reads again.
   */
  async fireDue(id: string, read?: ScheduleRecord): Promise<FireResult> {
    let known = read;
    return this.retrying(async () => {
      const schedule = known ?? (await this.deps.schedules.get(id));
      known = undefined;
      const now = this.clock.now();
      if (!schedule?.nextRunTime || !schedule.cronExpression || new Date(schedule.nextRunTime) > now) {
        return { scheduleId: id, outcome: FireOutcome.NotDue, fireTime: null, missed: 0 };
      }
      const plan = planFire(
        {
          cronExpression: schedule.cronExpression,
          timeZone: schedule.timeZone,
          catchupWindowSeconds: schedule.catchupWindowSeconds,
        },
        new Date(schedule.nextRunTime),
        now,
      );
      const fire = {
        nextRunTime: plan.nextRunTime?.toISOString() ?? null,
        missedCount: schedule.missedCount + plan.missed,
      };
      const result = { scheduleId: id, fireTime: plan.fireTime?.toISOString() ?? null, missed: plan.missed };
      if (!plan.fireTime) {
        await this.deps.schedules.replace({ ...schedule, ...fire, version: schedule.version + 1 }, schedule);
        return { ...result, outcome: FireOutcome.Missed };
      }
      const skip = async (): Promise<FireResult> => {
        await this.deps.schedules.replace(
          { ...schedule, ...fire, skippedCount: schedule.skippedCount + 1, version: schedule.version + 1 },
          schedule,
        );
        return { ...result, outcome: FireOutcome.Skipped };
      };
      if (schedule.steps.length === 0) return skip();
      const fireTime = plan.fireTime.toISOString();
      return this.launch(schedule, {
        initiator: cronInitiator(schedule.cronExpression, schedule.timeZone),
        scheduledFor: fireTime,
        steps: snapshotSteps(schedule.steps),
        answersWithActive: false,
        refused: skip,
        // Exclusive whatever the policy: the write claims the fire time, which only one may do.
        record: () => ({
          update: { version: schedule.version, exclusive: true, lastRunTime: fireTime, fire },
        }),
        launched: async ({ execution }) => ({
          ...result,
          outcome: FireOutcome.Started,
          executionId: execution.id,
          queuedAt: execution.queuedAt,
        }),
      });
    });
  }

  /** The next `count` fire times of a cron schedule (as it would fire if enabled now). */
  async nextRuns(id: string, count: number): Promise<NextRuns> {
    const schedule = await this.require(id);
    if (schedule.triggerType !== TriggerType.Cron || !schedule.cronExpression) {
      throw new ConflictError(`Schedule '${schedule.name}' is Manual: it has no cron fire times.`);
    }
    return {
      scheduleId: schedule.id,
      cronExpression: schedule.cronExpression,
      timeZone: schedule.timeZone,
      isEnabled: schedule.isEnabled,
      nextRuns: nextFireTimes(schedule.cronExpression, schedule.timeZone, this.clock.now(), count).map((t) =>
        t.toISOString(),
      ),
    };
  }

  /**
   * One run of a schedule, manual or cron: decided under its overlap policy on the active executions,
   * recorded (with its write on the schedule and, for a run with an idempotency key, the key's
   * claim), withdrawn when recorded side by side on a schedule that changed meanwhile, then for
   * CancelOther every run it supersedes cancelled, and last the state machine started unless the run
   * was itself superseded. `refused` answers a run the policy refuses, before anything is written;
   * `launched` answers one recorded, before its state machine is started.
   */
  private async launch<R>(schedule: ScheduleRecord, run: Launch<R>): Promise<R> {
    // A policy that never refuses decides nothing on the active executions (CancelOther reads them
    // again once the run is recorded), so they are read only when the decision or the answer needs
    // them: a cron fire of AllowAll or CancelOther saves its Query.
    const active =
      runsOneAtATime(schedule.overlapPolicy) || run.answersWithActive
        ? await this.activeExecutions(schedule)
        : [];
    const decision = decideOverlap(schedule.overlapPolicy, active.length);
    if (decision === OverlapDecision.Refuse) return run.refused(active);
    const execution = { ...this.newExecution(schedule, run.initiator, run.scheduledFor), ...run.fields };
    const { claim, update } = run.record(execution, decision, active);
    const named = await this.deps.executions.create(execution, run.steps, update, claim);
    if (!named) await this.withdraw(execution, run.scope);
    const cancelled =
      decision === OverlapDecision.StartAndSupersede
        ? await this.supersede(schedule, execution, run.initiator)
        : [];
    const answer = await run.launched({ execution, decision, active, cancelled });
    if (!cancelled.some((e) => e.id === execution.id)) await this.startWorkflow(execution.id);
    return answer;
  }

  /**
   * Starts the state machine for a recorded execution. If that fails the execution stays Queued and
   * the reconciler starts it within a minute (StartExecution is idempotent by name), so the run is
   * still accepted: nothing is lost, it is only later.
   */
  private async startWorkflow(executionId: string): Promise<void> {
    try {
      await this.deps.workflow.start(executionId);
    } catch (error) {
      this.deps.onStartFailure?.(executionId, error);
    }
  }

  /**
   * A run recorded side by side whose schedule, by the time it was named on it, was deleted or had
   * moved to a policy that decides runs one at a time (Skip, BufferOne: a run decided under those may
   * already have counted this one out). It is cancelled before it starts, and the request decides
   * again on what the schedule is now: 404 when it is gone, the new policy otherwise. Its key's
   * claim is released after the cancel: a crash between leaves the key replaying the cancelled run,
   * never a second run for one key.
   */
  private async withdraw(execution: Execution, scope: IdempotencyScope | undefined): Promise<never> {
    await this.deps.executions.transition(execution, ExecutionStatus.Queued, {
      status: ExecutionStatus.Cancelled,
      completedAt: this.clock.now().toISOString(),
      errorMessage:
        'Withdrawn before it started: the schedule was deleted or its overlap policy changed while the run was recorded.',
    });
    // The key claimed it in the same transaction; freed, so the request's next attempt runs afresh.
    if (scope) await this.deps.idempotency.release(scope, execution.id);
    throw new StaleVersionError('The schedule changed while the run was recorded.');
  }

  /**
   * CancelOther, once the run is recorded and before it is started: every active execution of the
   * schedule but the newest is cancelled, possibly the run's own when a newer one was recorded at
   * the same time (see `superseded`). Reads the schedule again for its newest execution, which the
   * index may not show yet. One that finished meanwhile needs no cancelling.
   */
  private async supersede(
    schedule: ScheduleRecord,
    execution: Execution,
    initiator: Initiator,
  ): Promise<Execution[]> {
    const current = (await this.deps.schedules.get(schedule.id)) ?? schedule;
    const active = new Map((await this.activeExecutions(current)).map((e) => [e.id, e]));
    if (!active.has(execution.id)) active.set(execution.id, execution);
    const losers = superseded([...active.values()]);
    for (const loser of losers) await this.deps.canceller.cancelIfActive(loser.id, initiator);
    return losers;
  }

  /**
   * Active executions of the schedule. The index behind `listActive` is eventually consistent, so the
   * newest execution (named on the schedule, which every run rewrites) is also read consistently: two
   * racing runs cannot both see "nothing active".
   */
  private async activeExecutions(schedule: ScheduleRecord): Promise<Execution[]> {
    const [indexed, newest] = await Promise.all([
      this.deps.executions.listActive(schedule.id),
      schedule.lastExecutionId ? this.deps.executions.get(schedule.lastExecutionId) : undefined,
    ]);
    const byId = new Map(indexed.map((e) => [e.id, e]));
    if (newest) byId.set(newest.id, newest);
    return [...byId.values()].filter((e) => isActiveExecutionStatus(e.status));
  }

  private newExecution(
    schedule: ScheduleRecord,
    initiator: Initiator,
    scheduledFor: string | null,
  ): Execution {
    return {
      id: this.newId(),
      scheduleId: schedule.id,
      scheduleName: schedule.name,
      status: ExecutionStatus.Queued,
      currentStepIndex: 0,
      totalSteps: countStages(schedule.steps),
      queuedAt: this.clock.now().toISOString(),
      startedAt: null,
      completedAt: null,
      initiatedByType: initiator.type,
      initiatedById: initiator.id,
      initiatedByName: initiator.name,
      errorMessage: null,
      overlapPolicy: schedule.overlapPolicy,
      scheduledFor,
      cancelledById: null,
      cancelledByName: null,
      retryOfExecutionId: null,
      retriedByExecutionId: null,
    };
  }

  private fromInput(input: ScheduleInput, previousSteps: ScheduleStep[] = []) {
    const knownIds = new Set(previousSteps.map((s) => s.id));
    const steps = assignStageIndexes(input.steps).map((step) => ({
      ...step,
      // A step keeps its id only when it names one of this schedule's steps; anything else is new.
      id: step.id && knownIds.has(step.id) ? step.id : this.newId(),
    })) as ScheduleStep[];
    const fields = {
      name: input.name,
      description: input.description ?? null,
      triggerType: input.triggerType,
      cronExpression: input.cronExpression ?? null,
      timeZone: input.timeZone,
      isEnabled: input.isEnabled,
      overlapPolicy: input.overlapPolicy,
      catchupWindowSeconds: input.catchupWindowSeconds,
      stepCount: steps.length,
      steps,
    };
    return { ...fields, nextRunTime: this.nextRunTime(fields) };
  }

  /** When the schedule fires next: only enabled Cron schedules fire. */
  private nextRunTime(s: Pick<ScheduleRecord, 'isEnabled' | 'triggerType' | 'cronExpression' | 'timeZone'>) {
    if (!s.isEnabled || s.triggerType !== TriggerType.Cron || !s.cronExpression) return null;
    return nextFireTimes(s.cronExpression, s.timeZone, this.clock.now(), 1)[0]?.toISOString() ?? null;
  }

  private async update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<Schedule> {
    const saved = await this.retrying(async () => {
      const current = await this.require(id);
      const next = {
        ...change(current),
        id,
        version: current.version + 1,
        lastUpdated: this.clock.now().toISOString(),
      };
      await this.deps.schedules.replace(next, current);
      return next;
    });
    const [schedule] = await this.withLastExecutionStatus([saved]);
    return schedule as Schedule;
  }

  private async require(id: string): Promise<ScheduleRecord> {
    const schedule = await this.deps.schedules.get(id);
    if (!schedule) throw new NotFoundError('Schedule', id);
    return schedule;
  }

  private async withLastExecutionStatus(records: ScheduleRecord[]): Promise<Schedule[]> {
    const ids = records.flatMap((r) => (r.lastExecutionId ? [r.lastExecutionId] : []));
    const executions =
      ids.length > 0 ? await this.deps.executions.getMany(ids) : new Map<string, Execution>();
    return records.map(({ version: _version, ...record }) => ({
      ...record,
      lastExecutionStatus: record.lastExecutionId
        ? (executions.get(record.lastExecutionId)?.status ?? null)
        : null,
    }));
  }

  private async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof StaleVersionError)) throw error;
        if (n >= MAX_ATTEMPTS) {
          throw new ConflictError(
            'The schedule kept changing while this request ran; try again.',
            undefined,
            {
              cause: error,
            },
          );
        }
      }
    }
  }
}

/** An execution's step rows: each schedule step snapshotted, Pending, nothing run yet. */
export function snapshotSteps(steps: readonly ScheduleStep[]): ExecutionStepRecord[] {
  return steps.map((step, ordinal) => ({
    ordinal,
    definition: step,
    stepId: step.id,
    stepIndex: step.stepIndex,
    name: step.name,
    stepType: step.stepType,
    executionMode: step.executionMode,
    connectedSystemId: step.stepType === StepType.RunProfile ? step.connectedSystemId : null,
    continueOnFailure: step.continueOnFailure,
    timeoutSeconds: step.timeoutSeconds,
    workerPool: step.workerPool,
    status: StepStatus.Pending,
    taskId: null,
    startedAt: null,
    completedAt: null,
    errorMessage: null,
    activityId: null,
    activityStatus: null,
  }));
}

/** The step statuses a stage may end with and not be run again by a retry (by default). */
const DONE_STEP_STATUSES: readonly StepStatus[] = [StepStatus.Completed, StepStatus.CompletedWithWarning];

/**
 * The stage a retry starts at: `fromStepIndex` when given (400 naming it when the snapshot has no
 * such stage), else the first stage in which a step did not end Completed or Completed with Warning.
 */
export function retryStart(steps: readonly ExecutionStepRecord[], fromStepIndex?: number): number {
  const stages = [...new Set(steps.map((step) => step.stepIndex))].sort((a, b) => a - b);
  if (fromStepIndex !== undefined) {
    if (!stages.includes(fromStepIndex)) {
      throw new ValidationError({
        fromStepIndex: [
          `Must be a stage of the execution: ${stages.length > 0 ? `0 to ${stages.length - 1}` : 'it has none'}`,
        ],
      });
    }
    return fromStepIndex;
  }
  const unfinished = steps.find((step) => !DONE_STEP_STATUSES.includes(step.status));
  return unfinished?.stepIndex ?? stages[0] ?? 0;
}

/**
 * A retry's step rows: those of stages before `start` copied from the original as they ended
 * (status, times, error, activity, output) and carried over; the rest snapshotted afresh, Pending.
 * A carried-over step keeps no taskId: the task was the original's.
 */
export function retrySteps(original: readonly ExecutionStepRecord[], start: number): ExecutionStepRecord[] {
  const fresh = snapshotSteps(original.map((step) => step.definition));
  return original.map((step, i) =>
    step.stepIndex < start
      ? { ...step, taskId: null, carriedOver: true }
      : { ...(fresh[i] as ExecutionStepRecord), ordinal: step.ordinal, carriedOver: false },
  );
}

/**
 * What a retry is launched on when its schedule has been deleted: the original's snapshot, under
 * the policy it was queued with, recorded on no schedule item (`deleted`).
 */
function scheduleOf(
  original: Execution,
  steps: readonly ExecutionStepRecord[],
): ScheduleRecord & { deleted: true } {
  return {
    id: original.scheduleId,
    name: original.scheduleName,
    description: null,
    triggerType: TriggerType.Manual,
    cronExpression: null,
    timeZone: 'UTC',
    isEnabled: false,
    overlapPolicy: original.overlapPolicy,
    catchupWindowSeconds: 0,
    nextRunTime: null,
    ...NEVER_RUN,
    stepCount: steps.length,
    created: original.queuedAt,
    lastUpdated: original.queuedAt,
    steps: steps.map((step) => step.definition),
    version: 0,
    deleted: true,
  };
}

/** The API's view of a stored schedule, fields in the contract's order (the version stays inside). */
function present(record: ScheduleRecord, lastExecutionStatus: ExecutionStatus | null): Schedule {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    triggerType: record.triggerType,
    cronExpression: record.cronExpression,
    timeZone: record.timeZone,
    isEnabled: record.isEnabled,
    overlapPolicy: record.overlapPolicy,
    catchupWindowSeconds: record.catchupWindowSeconds,
    nextRunTime: record.nextRunTime,
    lastRunTime: record.lastRunTime,
    skippedCount: record.skippedCount,
    missedCount: record.missedCount,
    stepCount: record.stepCount,
    created: record.created,
    lastUpdated: record.lastUpdated,
    lastExecutionId: record.lastExecutionId,
    lastExecutionStatus,
    steps: record.steps.map(
      ({ id, stepIndex, ...definition }) => ({ id, stepIndex, ...definition }) as ScheduleStep,
    ),
  };
}

const byNullableTime = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a.localeCompare(b);

/** Sort orders of `GET /schedules`; ties fall back to id so pages never shuffle. */
const SCHEDULE_ORDER: Record<ScheduleSortBy, (a: ScheduleRecord, b: ScheduleRecord) => number> = {
  name: (a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }),
  enabled: (a, b) => Number(a.isEnabled) - Number(b.isEnabled),
  lastRunTime: (a, b) => byNullableTime(a.lastRunTime, b.lastRunTime),
  nextRunTime: (a, b) => byNullableTime(a.nextRunTime, b.nextRunTime),
  created: (a, b) => a.created.localeCompare(b.created),
};
