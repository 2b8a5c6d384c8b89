import type { QueueSignals, WorkerTask } from '../ports.js';

/** Who queues a task wakes a waiting claim of its pool (the orchestrator on enqueue, a claim on release). */

/** What reports a signal that could not be sent, received or dropped (with its task when it has one). */
export type SignalFailure = (error: unknown, task?: Pick<WorkerTask, 'pool' | 'taskId'>) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** No wake-ups: a waiting claim sleeps out its wait (it found its tasks in the table, or none). */
export const NO_SIGNALS: QueueSignals = {
  // Every task is one whose signal is gone: claims look at the table for all of them.
  lifetimeMs: 0,
  queued: async () => undefined,
  waiting: async () => [],
  next: async (_pools, waitMs) => {
    await sleep(waitMs);
    return [];
  },
  done: async () => undefined,
};

/**
 * Sends the wake-up for a task just queued. A failure is reported, not thrown: the task is in the
 * table already, so a lost signal costs a waiting claim the rest of its wait, never the task (the next claim looks), and
 * failing the enqueue for it would only make the state machine retry what succeeded.
 */
export async function signalQueued(
  signals: QueueSignals,
  task: Pick<WorkerTask, 'pool' | 'taskId'>,
  onFailure: SignalFailure | undefined,
): Promise<void> {
  try {
    await signals.queued(task.pool, task.taskId);
  } catch (error) {
    onFailure?.(error, task);
  }
}
