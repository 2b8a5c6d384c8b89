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

/** Observing the state machine through the orchestrator's invocations. */
export class Progress {
  readonly enqueuedAt = new Map<string, number>();
  readonly finishedAt = new Map<string, number>();
  private readonly waiting = new Map<string, () => void>();
  private allDone?: { ids: Set<string>; resolve: () => void; armed: boolean };

  constructor(meter: LambdaMeter) {
    meter.onInvocation = (invocation) => this.observe(invocation);
  }

  private observe(invocation: Invocation) {
    if (invocation.fn !== 'orchestrator' || !invocation.ok) return;
    const executionId = String(invocation.event.executionId);
    if (invocation.kind === 'enqueueStep') {
      this.enqueuedAt.set(`${executionId}:${invocation.event.ordinal}`, invocation.endedAt);
    }
    if (invocation.kind === 'advance' && invocation.result?.action === 'finished') {
      this.finishedAt.set(executionId, invocation.endedAt);
      this.waiting.get(executionId)?.();
      this.recheck();
    }
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
