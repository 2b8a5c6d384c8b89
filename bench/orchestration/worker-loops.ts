import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from '../measure.js';
import { answeredStatus, BenchWorker, type ClaimedTask } from './worker.js';

/**
 * Phase (b)'s worker loops. They stand for workers on other machines, so they run in a child process
 * of their own (worker-process.ts): their HTTP clients' CPU is then not taken from the one event loop
 * that serves the API, the handlers and the local engines, and it is reported apart (the bench prints
 * each process's CPU per step). Each loop claims up to `maxTasks`, completes every task it got, and
 * records what it saw, which the throughput phase checks: no task claimed twice, no step handed out
 * twice, every completion accepted once.
 */

export interface LoopSettings {
  apiUrl: string;
  workerKey: string;
  pool: string;
  loops: number;
  maxTasks: number;
  waitSeconds: number;
}

export interface ClaimRecord {
  taskId: string;
  executionId: string;
  stepId: string;
  workerId: string;
}

export interface LoopsResult {
  claims: ClaimRecord[];
  /** Accepted completions by task id. */
  accepted: [string, number][];
  claimCalls: number;
  emptyClaims: number;
  claimErrors: number;
  completeRetries: number;
  problems: string[];
}

/** Runs the loops in this process until `stop()`, which answers what they saw. */
export function runLoops(settings: LoopSettings): { stop(): Promise<LoopsResult> } {
  const problems: string[] = [];
  const claims: ClaimRecord[] = [];
  const claimedTasks = new Set<string>();
  const claimedSteps = new Set<string>();
  const accepted = new Map<string, number>();
  const counters = { claimCalls: 0, emptyClaims: 0, claimErrors: 0, completeRetries: 0 };
  let stopping = false;
  const abort = new AbortController();

  const complete = async (worker: BenchWorker, task: ClaimedTask) => {
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      try {
        const answer = await worker.complete(task.taskId);
        if (answer.accepted) accepted.set(task.taskId, (accepted.get(task.taskId) ?? 0) + 1);
        else problems.push(`complete of task ${task.taskId} not accepted: ${JSON.stringify(answer)}`);
        return;
      } catch (error) {
        // Answered with an error: tried again; not reached at all: the loop ends, as before.
        status = answeredStatus(error);
        if (status === undefined) throw error;
      }
      if (attempt >= 5) {
        problems.push(`complete of task ${task.taskId} answered ${status} ${attempt} times`);
        return;
      }
      counters.completeRetries++;
      await sleep(100 * attempt);
    }
  };

  const loop = async (n: number) => {
    const worker = new BenchWorker(
      settings.apiUrl,
      settings.workerKey,
      `bench-worker-${String(n + 1).padStart(2, '0')}`,
    );
    while (!stopping) {
      let tasks: ClaimedTask[];
      try {
        counters.claimCalls++;
        tasks = await worker.claim(settings.pool, settings.maxTasks, settings.waitSeconds, abort.signal);
      } catch (error) {
        if (stopping) return;
        counters.claimErrors++;
        problems.push(`claim failed: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(200);
        continue;
      }
      if (tasks.length === 0) counters.emptyClaims++;
      for (const task of tasks) {
        if (claimedTasks.has(task.taskId)) problems.push(`task ${task.taskId} claimed twice`);
        const stepKey = `${task.executionId}:${task.step.id}`;
        if (claimedSteps.has(stepKey)) problems.push(`step ${stepKey} handed out twice`);
        claimedTasks.add(task.taskId);
        claimedSteps.add(stepKey);
        claims.push({
          taskId: task.taskId,
          executionId: task.executionId,
          stepId: task.step.id,
          workerId: worker.workerId,
        });
      }
      await Promise.all(tasks.map((task) => complete(worker, task)));
    }
  };

  const loops = Array.from({ length: settings.loops }, (_, n) => loop(n));
  return {
    async stop() {
      // Their pending long polls are abandoned (nothing is left to claim).
      stopping = true;
      abort.abort();
      await Promise.allSettled(loops);
      return { claims, accepted: [...accepted], ...counters, problems };
    },
  };
}

/** Messages between the throughput phase and worker-process.ts. */
export type ToLoops = { type: 'start'; settings: LoopSettings } | { type: 'stop' };
export type FromLoops = { type: 'loaded' } | { type: 'stopped'; result: LoopsResult };

const ENTRY = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/** The loops' child process, loaded and waiting for `start` (same Node, same tsx loader). */
export async function spawnLoops(): Promise<{
  pid: number | undefined;
  start(settings: LoopSettings): void;
  stop(): Promise<LoopsResult>;
}> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, ENTRY], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<FromLoops>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`the worker loops exited (${code})`));
      child.once('exit', exited);
      child.once('message', (message) => {
        child.off('exit', exited);
        resolve(message as FromLoops);
      });
    });
  const send = (message: ToLoops) => child.send(message);
  await next();
  return {
    pid: child.pid,
    start: (settings) => send({ type: 'start', settings }),
    async stop() {
      const answer = next();
      send({ type: 'stop' });
      const message = await answer;
      child.disconnect();
      if (message.type !== 'stopped') throw new Error(`the worker loops answered ${message.type}`);
      return message.result;
    },
  };
}
