import type { Clock, ExecutionStore, WorkerTaskStore, Workflow } from '../ports.js';
import { systemClock } from '../ports.js';
import { isActiveExecutionStatus } from '../transitions.js';
import type { Orchestrator } from './orchestrator.js';

export interface ReconcilerDeps {
  executions: ExecutionStore;
  tasks: WorkerTaskStore;
  workflow: Workflow;
  orchestrator: Orchestrator;
  clock?: Clock;
}

/** Something one run could not do; the next run (a minute later) tries it again. */
export interface ReconcileFailure {
  /** One execution, one waiting task's heartbeat, or reading one of the two lists. */
  subject: 'execution' | 'task' | 'active executions' | 'queued tasks';
  /** The execution or task id; absent for a list. */
  id?: string;
  /** The error's name and message. */
  error: string;
}

export interface ReconcileReport {
  /** Active (Queued, InProgress, Paused) executions looked at: all of them. */
  checked: number;
  restarted: string[];
  failed: string[];
  /** Parked state machines whose wake-up was lost, woken (see Orchestrator.wakeIfWaitEnded). */
  woken: string[];
  heartbeated: number;
  /** Tasks whose step failed as never claimed within the queue limit (instead of a heartbeat). */
  neverClaimed: string[];
  /** Seconds the oldest task still waiting for a worker has waited; 0 when none waits. */
  oldestUnclaimedTaskAgeSeconds: number;
  /** Each item that failed, in the order met; the others were still handled. */
  failures: ReconcileFailure[];
}

/** An execution younger than this may still be starting; leave it alone. */
export const RECONCILE_GRACE_MS = 30_000;
const ENDED = new Set(['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED']);

/**
 * Runs every minute so that nothing stays active forever: an execution whose state machine never
 * started is started (idempotently), one whose state machine ended without finishing the record is
 * failed with the reason, one parked past the end of its wait (a lost wake-up) is woken. It also keeps unclaimed worker tasks alive: the state machine's heartbeat
 * deadline is for running steps, not for steps still waiting for a worker; one that has waited
 * past the queue limit fails instead, as never claimed.
 *
 * Each item is handled on its own: one throttled or failing call is reported in `failures` and the
 * run goes on. The heartbeats come first, since a waiting step whose heartbeat is missed twice fails,
 * while an execution left unreconciled only waits for the next run.
 */
export class Reconciler {
  private readonly clock: Clock;

  constructor(private readonly deps: ReconcilerDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      checked: 0,
      restarted: [],
      failed: [],
      woken: [],
      heartbeated: 0,
      neverClaimed: [],
      oldestUnclaimedTaskAgeSeconds: 0,
      failures: [],
    };
    const now = this.clock.now().getTime();
    await this.heartbeatUnclaimedTasks(report, now);
    await this.reconcileExecutions(report, now);
    return report;
  }

  private async heartbeatUnclaimedTasks(report: ReconcileReport, now: number): Promise<void> {
    const queued = await attempt(report, { subject: 'queued tasks' }, () => this.deps.tasks.allQueued());
    for (const task of queued ?? []) {
      const waited = Math.max(0, (now - Date.parse(task.createdAt)) / 1000);
      report.oldestUnclaimedTaskAgeSeconds = Math.max(
        report.oldestUnclaimedTaskAgeSeconds,
        Math.round(waited),
      );
      const item = { subject: 'task', id: task.taskId } as const;
      if (await attempt(report, item, () => this.deps.orchestrator.timeOutIfOverdue(task))) {
        report.neverClaimed.push(task.taskId);
        continue;
      }
      const beaten = await attempt(report, item, () => this.deps.workflow.sendTaskHeartbeat(task.taskToken));
      if (beaten) report.heartbeated += 1;
    }
  }

  private async reconcileExecutions(report: ReconcileReport, now: number): Promise<void> {
    const active = await attempt(report, { subject: 'active executions' }, () =>
      this.deps.executions.listActive(),
    );
    for (const execution of active ?? []) {
      report.checked += 1;
      if (now - Date.parse(execution.queuedAt) < RECONCILE_GRACE_MS) continue;
      await attempt(report, { subject: 'execution', id: execution.id }, () =>
        this.reconcile(execution.id, report),
      );
    }
  }

  private async reconcile(executionId: string, report: ReconcileReport): Promise<void> {
    const run = await this.deps.workflow.describe(executionId);
    if (!run) {
      try {
        await this.deps.workflow.start(executionId);
        report.restarted.push(executionId);
      } catch (error) {
        await this.deps.orchestrator.crash(executionId, {
          Error: 'StateMachineNotStarted',
          Cause: error instanceof Error ? error.message : String(error),
        });
        report.failed.push(executionId);
      }
      return;
    }
    if (ENDED.has(run.status)) {
      const current = await this.deps.executions.get(executionId);
      if (current && isActiveExecutionStatus(current.status)) {
        await this.deps.orchestrator.crash(executionId, {
          Error: `StateMachine${run.status}`,
          Cause: [run.error, run.cause].filter(Boolean).join(': ') || 'the state machine ended early',
        });
        report.failed.push(executionId);
      }
      return;
    }
    if (await this.deps.orchestrator.wakeIfWaitEnded(executionId)) report.woken.push(executionId);
  }
}

/** Runs `work`; on an error, records it in the report as a failure of `item` and answers undefined. */
async function attempt<T>(
  report: ReconcileReport,
  item: Omit<ReconcileFailure, 'error'>,
  work: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    report.failures.push({
      ...item,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return undefined;
  }
}
