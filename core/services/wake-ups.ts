import type { ExecutionStore, Workflow } from '../ports.js';
import type { Execution } from '../schemas/execution.js';

/**
 * While an execution must wait (Paused, or Queued behind an older run under BufferOne), its state
 * machine is parked on a task token kept on the execution (`Orchestrator.park`) instead of polling,
 * so a wait of any length costs a bounded number of state transitions. Whatever ends a wait sends
 * that token, and the state machine decides again (Advance). A wake-up is only a hint: the
 * decision is re-made from DynamoDB, so a spent token (answered false) or a second wake-up is
 * harmless, and a lost one costs the park's timeout (ORCHESTRATOR_WAIT_SECONDS), not a stuck run.
 */
export class WakeUps {
  constructor(private readonly deps: { executions: ExecutionStore; workflow: Workflow }) {}

  /** Wakes the execution's state machine if it is parked (resume, or a wait that ended). */
  async wake(executionId: string): Promise<void> {
    const token = await this.deps.executions.parkToken(executionId);
    if (token) await this.deps.workflow.sendTaskSuccess(token, { woken: true });
  }

  /** An execution ended: the runs of its schedule buffered behind it look again at once. */
  async afterEnd(ended: Pick<Execution, 'scheduleId'>): Promise<void> {
    for (const executionId of await this.deps.executions.queuedIds(ended.scheduleId)) {
      await this.wake(executionId);
    }
  }
}
