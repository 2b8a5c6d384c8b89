import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Initiator } from '../model.js';
import type { PageEnvelope } from '../paging.js';
import { envelope, MAX_PAGE_OFFSET, type PageTokens } from '../paging.js';
import type {
  Clock,
  ExecutionStepRecord,
  ExecutionStore,
  WorkerTask,
  WorkerTaskStore,
  Workflow,
} from '../ports.js';
import { systemClock } from '../ports.js';
import {
  type Execution,
  ExecutionDetail,
  ExecutionStep,
  type ListExecutionsQuery,
} from '../schemas/execution.js';
import { stepOutput } from '../step-output.js';
import { canMove, EXECUTION_MOVES, type ExecutionMoveName } from '../transitions.js';
import type { WakeUps } from './wake-ups.js';

export interface ExecutionServiceDeps {
  executions: ExecutionStore;
  /** Where a step's run insight is while it runs (its task); read once per GET, in one batch. */
  tasks: Pick<WorkerTaskStore, 'getMany'>;
  workflow: Workflow;
  /** Signs the `nextToken`s this list hands out, and checks the ones that come back. */
  pageTokens: PageTokens;
  wakeUps: WakeUps;
  clock?: Clock;
}

export class ExecutionService {
  private readonly clock: Clock;

  constructor(private readonly deps: ExecutionServiceDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async list(query: ListExecutionsQuery): Promise<PageEnvelope<Execution>> {
    const { scheduleId, status, initiatedByType, from, to, sortBy, sortDescending, pageSize } = query;
    const filter = { scheduleId, statuses: status, initiatedByType, from, to };
    const shape = {
      scheduleId: scheduleId ?? null,
      status: status ?? null,
      initiatedByType: initiatedByType ?? null,
      from: from ?? null,
      to: to ?? null,
      sortBy,
      sortDescending,
      pageSize,
    };
    let page: number;
    let cursor: Record<string, unknown> | undefined;
    if (query.nextToken !== undefined) {
      if (query.page !== undefined) {
        throw new ValidationError({ nextToken: ['Send either page or nextToken, not both'] });
      }
      ({ page, key: cursor } = await this.deps.pageTokens.read(query.nextToken, shape));
    } else {
      page = query.page ?? 1;
      if ((page - 1) * pageSize > MAX_PAGE_OFFSET) {
        // The count alone says whether so deep a page holds anything: past the end is an empty page.
        const totalCount = await this.deps.executions.count(filter);
        if ((page - 1) * pageSize >= totalCount) return envelope([], totalCount, page, pageSize);
        throw new ValidationError({
          page: [`Pages beyond item ${MAX_PAGE_OFFSET} are reached with nextToken, not a page number`],
        });
      }
    }
    const result = await this.deps.executions.page({
      ...filter,
      sortBy,
      descending: sortDescending,
      pageSize,
      offset: cursor ? 0 : (page - 1) * pageSize,
      cursor,
    });
    const nextToken = result.cursor
      ? await this.deps.pageTokens.issue(shape, page + 1, result.cursor)
      : undefined;
    return envelope(result.items, result.totalCount, page, pageSize, nextToken);
  }

  async get(id: string): Promise<ExecutionDetail> {
    // The execution first, then its steps: an execution that has ended was written in the same
    // transaction as its steps' final statuses, so steps read after it are never older than it says.
    const execution = await this.deps.executions.get(id);
    if (!execution) throw new NotFoundError('Execution', id);
    const steps = await this.deps.executions.getSteps(id);
    // Steps not ended by their worker keep their insight on the task: running, timed out, cancelled.
    const unsettled = steps.filter((step) => step.taskId && step.lastHeartbeatAt === undefined);
    const tasks = await this.deps.tasks.getMany(unsettled.map((step) => step.taskId as string));
    return inFieldOrder(ExecutionDetail.shape, {
      ...execution,
      steps: steps.map((step) =>
        inFieldOrder(ExecutionStep.shape, withInsight(step, tasks.get(step.taskId ?? ''))),
      ),
    });
  }

  listActive(): Promise<Execution[]> {
    return this.deps.executions.listActive();
  }

  /** Cancels the execution if it is still active; undefined when it had already finished. */
  async cancelIfActive(id: string, by: Initiator): Promise<Execution | undefined> {
    try {
      return await this.cancelActive(id, by);
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  /** Cancels an execution that is still active; 409 once it has finished. */
  async cancelActive(id: string, by: Initiator): Promise<Execution> {
    for (;;) {
      const execution = await this.deps.executions.get(id);
      if (!execution) throw new NotFoundError('Execution', id);
      if (!canMove(EXECUTION_MOVES.cancel, execution.status)) {
        throw new ConflictError(`Execution '${id}' has already finished (${execution.status}).`, {
          status: execution.status,
        });
      }
      const cancelled = await this.deps.executions.cancel(execution, execution.status, {
        completedAt: this.clock.now().toISOString(),
        cancelledById: by.id,
        cancelledByName: by.name,
      });
      // Undefined: its status moved between the read and the write; look again. Statuses only move
      // forward, so this ends within a few rounds: cancelled, or finished and refused above.
      if (cancelled) {
        // The record is final first; stopping the state machine only saves it the wait. Running
        // steps learn of the cancel from their next heartbeat. A parked one is stopped with it.
        await this.deps.workflow.stop(id, `Cancelled by ${by.name ?? 'the system'}.`);
        await this.deps.wakeUps.afterEnd(cancelled);
        return cancelled;
      }
    }
  }

  /** InProgress → Paused: running steps finish, no new stage starts until resumed. */
  pause(id: string): Promise<Execution> {
    return this.move(id, 'pause');
  }

  /** Paused → InProgress: the state machine parked on the pause is woken and starts the next stage. */
  async resume(id: string): Promise<Execution> {
    const resumed = await this.move(id, 'resume');
    await this.deps.wakeUps.wake(id);
    return resumed;
  }

  /** A move the table allows from one status only, to one status; 409 from any other. */
  private async move(id: string, verb: Extract<ExecutionMoveName, 'pause' | 'resume'>): Promise<Execution> {
    const { from, to } = EXECUTION_MOVES[verb];
    for (;;) {
      const execution = await this.deps.executions.get(id);
      if (!execution) throw new NotFoundError('Execution', id);
      if (!canMove(EXECUTION_MOVES[verb], execution.status)) {
        throw new ConflictError(
          `Cannot ${verb} execution '${id}': it is ${execution.status}, not ${from.join(' or ')}.`,
          { status: execution.status },
        );
      }
      const moved = await this.deps.executions.transition(execution, execution.status, { status: to });
      if (moved) return moved;
    }
  }
}

/** The step as shown: its row, and its run insight from the row or else from its task (null when neither has it). */
function withInsight(step: ExecutionStepRecord, task: WorkerTask | undefined): ExecutionStep {
  const { ordinal: _ordinal, definition: _definition, ...shown } = step;
  return {
    ...shown,
    output: step.output !== undefined ? step.output : stepOutput(task?.outcome?.output ?? task?.output),
    progressMessage: step.progressMessage ?? task?.heartbeatMessage ?? null,
    lastHeartbeatAt: step.lastHeartbeatAt ?? task?.lastHeartbeatAt ?? null,
    workerId: step.workerId ?? task?.workerId ?? null,
  };
}

/**
 * The object with its keys in the schema's order (the contract's: the seed page's fields, then the
 * additive ones), whatever order the store gave them in; keys the schema does not name follow.
 */
function inFieldOrder<T extends object>(shape: Record<string, unknown>, value: T): T {
  const ordered: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(shape)) if (key in source) ordered[key] = source[key];
  for (const key of Object.keys(source)) if (!(key in ordered)) ordered[key] = source[key];
  return ordered as T;
}
