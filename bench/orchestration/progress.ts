import type { Orchestrator } from '../../core/services/orchestrator.js';
import type { ApiCall } from '../api.js';
import type { Invocation, LambdaMeter } from '../lambdas.js';
import type { BenchStack } from '../stack.js';

/** What a phase runs on: the stack, an API caller, the Worker key and the meters. */
export interface PhaseContext {
  stack: BenchStack;
  call: ApiCall;
  workerKey: string;
  meter: LambdaMeter;
  progress: Progress;
}

/**
 * Observing the state machine through the orchestrator's invocations (enqueues), and its decisions
 * (the end): an execution's end is decided by Advance or, after a stage of one step, by the step's
 * completion (WorkerService.complete), so it is watched at the decision, in the same process. A
 * completion that hands its token on queues the next step itself (Orchestrator.handOn), with no
 * invocation: watched there too.
 */
export class Progress {
  readonly enqueuedAt = new Map<string, number>();
  readonly finishedAt = new Map<string, number>();
  private readonly waiting = new Map<string, () => void>();
  private allDone?: { ids: Set<string>; resolve: () => void; armed: boolean };

  constructor(meter: LambdaMeter, orchestrator: Pick<Orchestrator, 'advance' | 'decideAfter'>) {
    meter.onInvocation = (invocation) => this.observe(invocation);
    const advance = orchestrator.advance.bind(orchestrator);
    orchestrator.advance = async (executionId) => {
      const move = await advance(executionId);
      if (move.action === 'finished') this.finish(executionId);
      return move;
    };
    const decideAfter = orchestrator.decideAfter.bind(orchestrator);
    orchestrator.decideAfter = async (task) => {
      const move = await decideAfter(task);
      // Handed on from a stage of one step to the next stage, of one step too: the next ordinal.
      if (move === 'handed-on')
        this.enqueuedAt.set(`${task.executionId}:${task.ordinal + 1}`, performance.now());
      else if (move.action === 'finished') this.finish(task.executionId);
      return move;
    };
  }

  private observe(invocation: Invocation) {
    if (invocation.fn !== 'orchestrator' || !invocation.ok) return;
    const executionId = String(invocation.event.executionId);
    if (invocation.kind === 'enqueueStep') {
      this.enqueuedAt.set(`${executionId}:${invocation.event.ordinal}`, invocation.endedAt);
    }
  }

  private finish(executionId: string) {
    if (this.finishedAt.has(executionId)) return;
    this.finishedAt.set(executionId, performance.now());
    this.waiting.get(executionId)?.();
    this.recheck();
  }

  finished(executionId: string, timeoutMs = 30_000): Promise<void> {
    if (this.finishedAt.has(executionId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Execution ${executionId} did not finish`)), timeoutMs);
      this.waiting.set(executionId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Resolves once every execution in `ids` has finished; `ids` fills up while runs are accepted, so
   * nothing resolves before `arm()` says the set is complete.
   */
  all(ids: Set<string>): { done: Promise<void>; arm: () => void } {
    let resolve = () => {};
    const done = new Promise<void>((ok) => {
      resolve = ok;
    });
    this.allDone = { ids, resolve, armed: false };
    return {
      done,
      arm: () => {
        if (this.allDone) this.allDone.armed = true;
        this.recheck();
      },
    };
  }

  private recheck() {
    const all = this.allDone;
    if (all?.armed && [...all.ids].every((id) => this.finishedAt.has(id))) all.resolve();
  }
}
