import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type TaskEnd, WorkerAgent } from '../../../worker/agent.js';
import type { ClaimRequest, HeartbeatReport, WorkerApiClient } from '../../../worker/api-client.js';
import { parseWorkerConfig } from '../../../worker/config.js';
import { silentLogger } from '../../../worker/log.js';
import type { StepOutcome } from '../../../worker/runners/types.js';
import { eventually } from '../../helpers/eventually.js';

/** An in-memory worker API: tasks to hand out, and a record of every call. */
class FakeApi {
  queue: unknown[] = [];
  claims: ClaimRequest[] = [];
  heartbeats: { taskId: string; message: string | undefined; output?: string | undefined }[] = [];
  completes: { taskId: string; outcome: StepOutcome }[] = [];
  cancel = new Set<string>();

  async claim(request: ClaimRequest): Promise<unknown[]> {
    this.claims.push(request);
    const tasks = this.queue.splice(0, request.maxTasks);
    if (tasks.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    return tasks;
  }

  async heartbeat(taskId: string, beat: HeartbeatReport | undefined) {
    this.heartbeats.push({ taskId, message: beat?.message, output: beat?.output });
    return { cancellationRequested: this.cancel.has(taskId) };
  }

  async complete(taskId: string, outcome: StepOutcome) {
    this.completes.push({ taskId, outcome });
    return { accepted: true, stepStatus: 'whatever' };
  }

  backoff(): number {
    return 10;
  }

  /** Waits (up to `ms`) until one outcome has been sent. */
  oneCompleted(ms = 10_000) {
    return eventually(
      async () => this.completes.length,
      (n) => n === 1,
      ms,
    );
  }
}

const task = (
  script: string,
  extra: { timeoutSeconds?: number; heartbeatIntervalSeconds?: number } = {},
) => ({
  taskId: randomUUID(),
  executionId: randomUUID(),
  scheduleName: 'Unit',
  step: {
    id: randomUUID(),
    stepIndex: 0,
    name: script,
    stepType: 'Executable',
    executionMode: 'Sequential',
    continueOnFailure: false,
    timeoutSeconds: extra.timeoutSeconds ?? 60,
    workerPool: 'default',
    executablePath: '/bin/sh',
    arguments: `-c "${script}"`,
  },
  timeoutSeconds: extra.timeoutSeconds ?? 60,
  heartbeatIntervalSeconds: extra.heartbeatIntervalSeconds ?? 60,
});

function agentWith(api: FakeApi, config: Record<string, unknown> = {}) {
  const ends: TaskEnd[] = [];
  const agent = new WorkerAgent({
    config: parseWorkerConfig({
      apiUrl: 'https://unused/api/v1',
      workerId: 'unit-worker',
      pollWaitSeconds: 0,
      killGraceSeconds: 1,
      ...config,
    }),
    apiKey: 'k',
    client: api as unknown as WorkerApiClient,
    logger: silentLogger,
    onTaskEnd: (end) => ends.push(end),
  });
  agent.start();
  return { agent, ends };
}

describe('WorkerAgent', () => {
  it('enforces the step timeout itself', async () => {
    const api = new FakeApi();
    const { agent, ends } = agentWith(api);
    api.queue.push(task('sleep 30', { timeoutSeconds: 1 }));

    await eventually(
      async () => ends.length,
      (n) => n === 1,
      10_000,
    );
    await agent.stop({ graceSeconds: 0 });

    expect(api.completes[0]?.outcome).toEqual({
      activityStatus: 'FailedWithError',
      errorMessage: "timed out after 1 s; the step's processes were stopped",
    });
    expect(ends[0]?.stopReason).toBe('timeout');
  });

  it('stops a step when a heartbeat answers cancellationRequested, and sends progress with heartbeats', async () => {
    const api = new FakeApi();
    const { agent } = agentWith(api);
    const cancelled = task('echo step one; sleep 30', { heartbeatIntervalSeconds: 1 });
    api.cancel.add(cancelled.taskId);
    api.queue.push(cancelled);

    await api.oneCompleted();
    await agent.stop({ graceSeconds: 0 });

    expect(api.heartbeats[0]).toEqual({
      taskId: cancelled.taskId,
      message: 'step one',
      output: 'step one\n',
    });
    expect(api.completes[0]?.outcome).toMatchObject({ activityStatus: 'Cancelled', output: 'step one' });
  });

  it('sends the lines printed so far with a heartbeat when they changed, not again otherwise', async () => {
    const api = new FakeApi();
    const { agent } = agentWith(api);
    const printing = task('echo one; echo two; sleep 2.5; echo three', { heartbeatIntervalSeconds: 1 });
    api.queue.push(printing);

    await api.oneCompleted();
    await agent.stop({ graceSeconds: 0 });

    const outputs = api.heartbeats.map((beat) => beat.output);
    expect(outputs[0]).toBe('one\ntwo\n');
    expect(outputs.slice(1).every((output) => output === undefined)).toBe(true);
    expect(api.heartbeats.at(-1)?.message).toBe('two');
    expect(api.completes[0]?.outcome).toMatchObject({
      activityStatus: 'Complete',
      output: 'one\ntwo\nthree',
    });
  });

  it('never runs more steps than its concurrency', async () => {
    const api = new FakeApi();
    const { agent } = agentWith(api, { concurrency: 2 });
    api.queue.push(...Array.from({ length: 5 }, () => task('sleep 0.2')));
    let most = 0;

    await eventually(
      async () => {
        most = Math.max(most, agent.runningTasks);
        return api.completes.length;
      },
      (n) => n === 5,
      10_000,
      10,
    );
    await agent.stop();

    expect(most).toBe(2);
    expect(api.claims.every((claim) => claim.maxTasks >= 1 && claim.maxTasks <= 2)).toBe(true);
  });

  it('fails a task it cannot read instead of leaving it to time out', async () => {
    const api = new FakeApi();
    const { agent } = agentWith(api);
    const taskId = randomUUID();
    api.queue.push({ ...task('true'), taskId, step: { stepType: 'Teleport', name: 'beam me up' } });

    await api.oneCompleted(5000);
    await agent.stop();

    expect(api.completes[0]).toMatchObject({
      taskId,
      outcome: {
        activityStatus: 'FailedWithError',
        errorMessage: expect.stringMatching(/^Worker unit-worker cannot read this task \(step\.stepType: /),
      },
    });
  });

  it('claims nothing after stop()', async () => {
    const api = new FakeApi();
    const { agent } = agentWith(api);
    await eventually(
      async () => api.claims.length,
      (n) => n > 0,
    );

    await agent.stop();
    const claimsAtStop = api.claims.length;
    api.queue.push(task('true'));
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(api.claims.length).toBe(claimsAtStop);
    expect(api.completes).toEqual([]);
  });
});
