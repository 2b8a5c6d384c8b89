import { isActiveExecutionStatus } from '../model.js';
import type { Clock, ExecutionStore, WorkerTaskStore, Workflow } from '../ports.js';
import { systemClock } from '../ports.js';
import type { Orchestrator } from './orchestrator.js';

export interface ReconcilerDeps {
  executions: ExecutionStore;
  tasks: WorkerTaskStore;
  workflow: Workflow;
  orchestrator: Orchestrator;
  clock?: Clock;
}

export interface ReconcileReport {
  /** Active (Queued, InProgress, Paused) executions looked at: all of them. */
  checked: number;
  restarted: string[];
  failed: string[];
  heartbeated: number;
  /** Seconds the oldest task still waiting for a worker has waited; 0 when none waits. */
  oldestUnclaimedTaskAgeSeconds: number;
}

/** An execution younger than this may still be starting; leave it alone. */
export const RECONCILE_GRACE_MS = 30_000;
const ENDED = new Set(['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED']);

/**
 * Runs every minute so that nothing stays active forever: an execution whose state machine never
 * started is started (idempotently), one whose state machine ended without finishing the record is
 * failed with the reason. It also keeps unclaimed worker tasks alive: the state machine's heartbeat
 * deadline is for running steps, not for steps still waiting for a worker.
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
      heartbeated: 0,
      oldestUnclaimedTaskAgeSeconds: 0,
    };
    const now = this.clock.now().getTime();
    for (const execution of await this.deps.executions.listActive()) {
      report.checked += 1;
      if (now - Date.parse(execution.queuedAt) < RECONCILE_GRACE_MS) continue;
      const run = await this.deps.workflow.describe(execution.id);
      if (!run) {
        try {
          await this.deps.workflow.start(execution.id);
          report.restarted.push(execution.id);
        } catch (error) {
          await this.deps.orchestrator.crash(execution.id, {
            Error: 'StateMachineNotStarted',
            Cause: error instanceof Error ? error.message : String(error),
          });
          report.failed.push(execution.id);
        }
        continue;
      }
      if (ENDED.has(run.status)) {
        const current = await this.deps.executions.get(execution.id);
        if (current && isActiveExecutionStatus(current.status)) {
          await this.deps.orchestrator.crash(execution.id, {
            Error: `StateMachine${run.status}`,
            Cause: [run.error, run.cause].filter(Boolean).join(': ') || 'the state machine ended early',
          });
          report.failed.push(execution.id);
        }
      }
    }
    for (const task of await this.deps.tasks.allQueued()) {
      if (await this.deps.workflow.sendTaskHeartbeat(task.taskToken)) report.heartbeated += 1;
      const waited = Math.max(0, (now - Date.parse(task.createdAt)) / 1000);
      report.oldestUnclaimedTaskAgeSeconds = Math.max(
        report.oldestUnclaimedTaskAgeSeconds,
        Math.round(waited),
      );
    }
    return report;
  }
}
