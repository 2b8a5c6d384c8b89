import { randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../local/step-functions/index.js';
import { eventually } from '../helpers/eventually.js';

const ORCHESTRATOR_ARN = 'arn:aws:lambda:local:000000000000:function:orchestrator';
const WORKER_ARN = 'arn:aws:lambda:local:000000000000:function:worker';

type Payload = Record<string, any>;
type Advance = (call: number) => unknown;

/**
 * The orchestrator Lambda as the state machine sees it: `advance` answers from a script per
 * execution id, every other action is recorded and answered with `{}`.
 */
class FakeOrchestrator {
  readonly calls: Payload[] = [];
  private readonly scripts = new Map<string, Advance>();
  /** Thrown by `enqueueStep`, by execution id. */
  readonly enqueueErrors = new Map<string, Error>();

  script(executionId: string, advance: Advance): void {
    this.scripts.set(executionId, advance);
  }

  callsOf(executionId: string, action: string): Payload[] {
    return this.calls.filter((call) => call.executionId === executionId && call.action === action);
  }

  readonly handler = async (payload: unknown): Promise<unknown> => {
    const call = payload as Payload;
    this.calls.push(call);
    if (call.action === 'advance') {
      const script = this.scripts.get(call.executionId);
      if (!script) throw new Error(`no script for ${call.executionId}`);
      return script(this.callsOf(call.executionId, 'advance').length - 1);
    }
    const enqueueError = this.enqueueErrors.get(call.executionId);
    if (call.action === 'enqueueStep' && enqueueError) throw enqueueError;
    return {};
  };
}

/** Polling interval: the timings under test are 1 s, so 20 ms keeps assertions tight. */
const POLL_MS = 20;
const ended = (description: DescribeExecutionCommandOutput) => description.status !== 'RUNNING';

// The Map item the orchestrator's `run` answer gives each step (NextMove).
const step = (ordinal: number, backstopSeconds = 30, heartbeatSeconds = 5) => ({
  ordinal,
  pool: 'default',
  backstopSeconds,
  heartbeatSeconds,
});
const run = (...steps: ReturnType<typeof step>[]) => ({ action: 'run', stageIndex: 0, steps });
const finished = { action: 'finished', status: 'Succeeded' };

describe('startLocalStepFunctions with the product state machine', () => {
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  const orchestrator = new FakeOrchestrator();

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      definitionPath: 'statemachines/execution.asl.json',
      substitutions: { OrchestratorFunctionArn: ORCHESTRATOR_ARN },
      lambdas: { [ORCHESTRATOR_ARN]: orchestrator.handler },
      // The file's retries pause 1 s doubling over 4 attempts (15 s); 10 ms keeps the suite fast.
      retryIntervalOverridesMs: { Advance: 10, StepFailed: 10, Crash: 10 },
    });
    client = new SFNClient({
      endpoint: sfn.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await sfn?.stop();
  });

  const executionArn = (executionId: string) =>
    `${sfn.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionId}`;

  async function start(advance: Advance): Promise<string> {
    const executionId = randomUUID();
    orchestrator.script(executionId, advance);
    const result = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: executionId,
        input: JSON.stringify({ executionId }),
      }),
    );
    expect(result.executionArn).toBe(executionArn(executionId));
    return executionId;
  }

  const describeExecution = (executionId: string) =>
    client.send(new DescribeExecutionCommand({ executionArn: executionArn(executionId) }));

  const statusOf = async (executionId: string) => (await describeExecution(executionId)).status;

  const finalState = (executionId: string) =>
    eventually(() => describeExecution(executionId), ended, 5_000, POLL_MS);

  const enqueued = (executionId: string, count: number) =>
    eventually(
      async () => orchestrator.callsOf(executionId, 'enqueueStep'),
      (calls) => calls.length >= count,
      5_000,
      POLL_MS,
    );

  const stepFailures = (executionId: string) =>
    eventually(
      async () => orchestrator.callsOf(executionId, 'stepFailed'),
      (calls) => calls.length > 0,
      5_000,
      POLL_MS,
    );

  const succeed = (taskToken: string, output: unknown = {}) =>
    client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));

  /** The error a promise rejects with. */
  const rejectionOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  it('enqueues the steps of a stage concurrently and succeeds once every task token succeeds', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0), step(1)) : finished));

    // Act
    const calls = await enqueued(executionId, 2);
    const enqueuedBeforeAnySuccess = orchestrator.callsOf(executionId, 'enqueueStep').length;
    for (const call of calls) await succeed(call.taskToken, { ok: true });
    const description = await finalState(executionId);

    // Assert
    expect(enqueuedBeforeAnySuccess).toBe(2);
    expect(calls.map((call) => call.ordinal).sort()).toEqual([0, 1]);
    for (const call of calls) {
      expect(call).toEqual({
        action: 'enqueueStep',
        executionId,
        ordinal: call.ordinal,
        pool: 'default',
        taskToken: expect.any(String),
      });
      expect(call.taskToken).toMatch(/^[A-Za-z0-9+/]{100,}={0,2}$/);
    }
    expect(calls[0]?.taskToken).not.toBe(calls[1]?.taskToken);
    expect(description.status).toBe('SUCCEEDED');
    expect(JSON.parse(description.output ?? 'null')).toEqual({ executionId, next: finished });
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(2);
    expect(orchestrator.callsOf(executionId, 'stepFailed')).toHaveLength(0);
  });

  it("follows the decision a single step's completion carries, without Advance", async () => {
    // Arrange: only the first Advance answers; the next moves come with the completions.
    const executionId = await start((call) => (call === 0 ? run(step(0)) : finished));
    const [first] = await enqueued(executionId, 1);

    // Act: step 0's completion decides a stage of one step, step 1's a stage of two, then the end.
    await succeed(first?.taskToken, { ...run(step(1)), stageIndex: 1 });
    const [, second] = await enqueued(executionId, 2);
    await succeed(second?.taskToken, { ...run(step(2), step(3)), stageIndex: 2 });
    const inMap = (await enqueued(executionId, 4)).slice(2);
    for (const call of inMap) await succeed(call.taskToken, finished);
    const description = await finalState(executionId);

    // Assert: RunSingleStep says its completion may decide, RunStep does not; a Map's outputs are
    // dropped, so after the stage Advance decides (the `finished` the Map items sent is not read).
    // It passes on its timeout, which the completions check before handing the token on.
    // Both pass on the step's pool, so the task is queued without reading the step.
    expect(first).toMatchObject({ ordinal: 0, pool: 'default', decidesNext: true, backstopSeconds: 30 });
    expect(second).toMatchObject({ ordinal: 1, pool: 'default', decidesNext: true, backstopSeconds: 30 });
    expect(inMap.map((call) => [call.ordinal, call.pool, call.decidesNext])).toEqual([
      [2, 'default', undefined],
      [3, 'default', undefined],
    ]);
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(2);
    expect(description.status).toBe('SUCCEEDED');
  });

  it.each([
    ['skipped', { skipped: true }],
    ['timed out', { timedOut: true }],
    ['completed without a decision', { activityStatus: 'Succeeded' }],
    ['empty', {}],
  ])('sends a single step answered %s to Advance, never to Finished', async (_name, output) => {
    // Arrange
    const executionId = await start((call) => (call < 2 ? run(step(call)) : finished));
    const [call] = await enqueued(executionId, 1);

    // Act
    await succeed(call?.taskToken, output);
    const [, next] = await enqueued(executionId, 2);

    // Assert: Advance decided again, and its answer ran.
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(2);
    expect(next?.ordinal).toBe(1);
    await succeed(next?.taskToken);
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(3);
  });

  it('reports a SendTaskFailure to stepFailed with its error and cause', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(3)) : finished));
    const [call] = await enqueued(executionId, 1);

    // Act
    await client.send(
      new SendTaskFailureCommand({ taskToken: call?.taskToken, error: 'StepFailed', cause: 'exit code 2' }),
    );
    const [failure] = await stepFailures(executionId);

    // Assert
    expect(failure).toEqual({
      action: 'stepFailed',
      executionId,
      ordinal: 3,
      error: { Error: 'StepFailed', Cause: 'exit code 2' },
      // RunSingleStep's token may have been handed on to a later step: stepFailed finds which.
      handedOn: true,
    });
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
  });

  it('fails a step with States.HeartbeatTimeout when no heartbeat comes, and retires its token', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0, 30, 1)) : finished));
    const [call] = await enqueued(executionId, 1);
    const enqueuedAt = Date.now();

    // Act
    const [failure] = await stepFailures(executionId);
    const lateSuccess = await rejectionOf(succeed(call?.taskToken));

    // Assert
    expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(900);
    expect(failure?.error).toMatchObject({ Error: 'States.HeartbeatTimeout' });
    expect(lateSuccess instanceof TaskTimedOut || lateSuccess instanceof TaskDoesNotExist).toBe(true);
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
  });

  it('keeps a task alive past its heartbeat interval while heartbeats arrive', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0, 30, 1)) : finished));
    const [call] = await enqueued(executionId, 1);
    const taskToken = call?.taskToken as string;

    // Act
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      await client.send(new SendTaskHeartbeatCommand({ taskToken }));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const failuresMeanwhile = orchestrator.callsOf(executionId, 'stepFailed').length;
    await succeed(taskToken);

    // Assert
    expect(failuresMeanwhile).toBe(0);
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
    expect(orchestrator.callsOf(executionId, 'stepFailed')).toHaveLength(0);
  });

  it('fails a step with States.Timeout after its backstopSeconds, and retires its token', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0, 1, 5)) : finished));
    const [call] = await enqueued(executionId, 1);

    // Act
    const [failure] = await stepFailures(executionId);
    const lateSuccess = await rejectionOf(succeed(call?.taskToken));

    // Assert
    expect(failure?.error).toMatchObject({ Error: 'States.Timeout' });
    expect(lateSuccess instanceof TaskTimedOut || lateSuccess instanceof TaskDoesNotExist).toBe(true);
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
  });

  it('fails a step with the error the enqueueing Lambda throws', async () => {
    // Arrange
    class QueueFull extends Error {
      override readonly name = 'QueueFull';
    }
    const executionId = randomUUID();
    orchestrator.enqueueErrors.set(executionId, new QueueFull('no room'));
    orchestrator.script(executionId, (call) => (call === 0 ? run(step(0)) : finished));

    // Act
    await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: executionId,
        input: JSON.stringify({ executionId }),
      }),
    );
    const [failure] = await stepFailures(executionId);

    // Assert
    expect(failure?.error).toEqual({ Error: 'QueueFull', Cause: 'no room' });
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
  });

  it('aborts on StopExecution: status ABORTED with the given error and cause, tokens dead', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0)) : finished));
    const [call] = await enqueued(executionId, 1);
    const taskToken = call?.taskToken as string;

    // Act
    const stopped = await client.send(
      new StopExecutionCommand({
        executionArn: executionArn(executionId),
        error: 'Cancelled',
        cause: 'by test',
      }),
    );
    const description = await describeExecution(executionId);
    const lateSuccess = await rejectionOf(succeed(taskToken));
    const lateHeartbeat = await rejectionOf(client.send(new SendTaskHeartbeatCommand({ taskToken })));

    // Assert
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(description).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'by test' });
    expect(description.stopDate).toBeInstanceOf(Date);
    expect(lateSuccess instanceof TaskTimedOut || lateSuccess instanceof TaskDoesNotExist).toBe(true);
    expect(lateHeartbeat instanceof TaskTimedOut || lateHeartbeat instanceof TaskDoesNotExist).toBe(true);
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(1);
    expect(orchestrator.callsOf(executionId, 'stepFailed')).toHaveLength(0);
  });

  it('treats StartExecution with the same name and input as the same execution, other input as a conflict', async () => {
    // Arrange
    const executionId = await start(() => run(step(0)));
    await enqueued(executionId, 1);
    const again = (input: unknown) =>
      client.send(
        new StartExecutionCommand({
          stateMachineArn: sfn.stateMachineArn,
          name: executionId,
          input: JSON.stringify(input),
        }),
      );
    const first = await describeExecution(executionId);

    // Act
    const same = await again({ executionId });
    const otherInput = await rejectionOf(again({ executionId, extra: 1 }));
    await client.send(new StopExecutionCommand({ executionArn: executionArn(executionId) }));
    const afterStop = await rejectionOf(again({ executionId }));

    // Assert
    expect(same).toMatchObject({ executionArn: executionArn(executionId), startDate: first.startDate });
    expect(otherInput).toBeInstanceOf(ExecutionAlreadyExists);
    expect(afterStop).toBeInstanceOf(ExecutionAlreadyExists);
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(1);
  });

  it('answers unknown executions, tokens and operations with the AWS errors', async () => {
    // Arrange
    const executionId = await start((call) => (call === 0 ? run(step(0)) : finished));
    const [call] = await enqueued(executionId, 1);
    const token = call?.taskToken as string;
    // Another character in the random part: well-formed, but never issued.
    const unknownToken = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);

    // Act
    const unknownExecution = await rejectionOf(describeExecution(randomUUID()));
    const malformed = await rejectionOf(succeed('not-a-token'));
    const unknown = await rejectionOf(succeed(unknownToken));
    const unknownOperation = await fetch(sfn.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AWSStepFunctions.ListThings',
      },
      body: '{}',
    });
    await succeed(token);

    // Assert
    expect(unknownExecution).toBeInstanceOf(ExecutionDoesNotExist);
    expect(malformed).toBeInstanceOf(InvalidToken);
    expect(unknown).toBeInstanceOf(TaskDoesNotExist);
    expect(unknownOperation.status).toBe(400);
    expect(((await unknownOperation.json()) as { __type: string }).__type).toMatch(
      /#UnknownOperationException$/,
    );
    expect((await finalState(executionId)).status).toBe('SUCCEEDED');
  });

  it('parks on a wait answer until its token is sent, then advances at once', async () => {
    // Arrange: the fallback is far away (10 min), so only the wake-up can end the park.
    const executionId = await start((call) => (call === 0 ? { action: 'wait', waitSeconds: 600 } : finished));
    const [park] = await eventually(
      async () => orchestrator.callsOf(executionId, 'park'),
      (calls) => calls.length > 0,
      5_000,
      POLL_MS,
    );
    expect(park).toEqual({ action: 'park', executionId, taskToken: expect.any(String) });
    await new Promise((r) => setTimeout(r, 200));
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(1);
    const wokenAt = Date.now();

    // Act
    await succeed(park?.taskToken, { woken: true });
    const description = await finalState(executionId);

    // Assert
    expect(description.status).toBe('SUCCEEDED');
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(2);
    expect(Date.now() - wokenAt).toBeLessThan(1_000);
    expect(await rejectionOf(succeed(park?.taskToken))).toBeInstanceOf(TaskTimedOut);
  });

  it('looks again (Advance) once per park timeout while nothing wakes it: a bounded loop', async () => {
    // Arrange: a 1 s fallback stands for the default hour; three timeouts, then finished.
    const timeouts = 3;
    const executionId = await start((call) =>
      call < timeouts ? { action: 'wait', waitSeconds: 1 } : finished,
    );
    const startedAt = Date.now();

    // Act
    const description = await eventually(() => describeExecution(executionId), ended, 10_000, POLL_MS);

    // Assert: one Park and one Advance per timeout (~13 history events in AWS), nothing in between.
    const elapsed = Date.now() - startedAt;
    expect(description.status).toBe('SUCCEEDED');
    expect(orchestrator.callsOf(executionId, 'park')).toHaveLength(timeouts);
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(timeouts + 1);
    expect(elapsed).toBeGreaterThanOrEqual(timeouts * 1000 - 50);
    expect(elapsed).toBeLessThan(timeouts * 1000 + 1_500);
  });

  it('crashes and fails the execution when advance keeps throwing', async () => {
    // Arrange
    const executionId = await start(() => {
      throw new Error('table unreachable');
    });

    // Act
    const description = await finalState(executionId);

    // Assert
    expect(orchestrator.callsOf(executionId, 'advance')).toHaveLength(5); // first try + 4 retries
    expect(orchestrator.callsOf(executionId, 'crash')).toEqual([
      { action: 'crash', executionId, error: { Error: 'Error', Cause: 'table unreachable' } },
    ]);
    expect(description).toMatchObject({
      status: 'FAILED',
      error: 'ExecutionFailed',
      cause: 'The execution ended on an unexpected error; its record says why.',
    });
    expect(await statusOf(executionId)).toBe('FAILED');
  });
});

describe('startLocalStepFunctions with other integrations', () => {
  const servers: LocalStepFunctions[] = [];
  const clients: SFNClient[] = [];
  const workerCalls: Payload[] = [];

  type Served = Awaited<ReturnType<typeof startServer>>;
  const served = new Map<string, Promise<Served>>();

  /** One server per fixture, shared by the tests here (starting one validates the ASL, ~0.3 s). */
  function serve(definitionPath: string): Promise<Served> {
    let server = served.get(definitionPath);
    if (!server) {
      server = startServer(definitionPath);
      served.set(definitionPath, server);
    }
    return server;
  }

  async function startServer(definitionPath: string) {
    const sfn = await startLocalStepFunctions({
      definitionPath,
      substitutions: { WorkerFunctionArn: WORKER_ARN },
      lambdas: {
        [WORKER_ARN]: async (payload) => {
          const call = payload as Payload;
          workerCalls.push(call);
          if (call.mode === 'throw') throw new TypeError('worker broke');
          return { doubled: call.value * 2 };
        },
      },
      stateMachineName: 'fixture',
    });
    const client = new SFNClient({
      endpoint: sfn.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    servers.push(sfn);
    clients.push(client);
    const startAndFinish = async (input: unknown) => {
      const { executionArn } = await client.send(
        new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, input: JSON.stringify(input) }),
      );
      return eventually(
        () => client.send(new DescribeExecutionCommand({ executionArn })),
        ended,
        5_000,
        POLL_MS,
      );
    };
    return { sfn, client, startAndFinish };
  }

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await Promise.all(servers.map((sfn) => sfn.stop()));
  });

  it.each([
    {
      input: { mode: 'invoke', value: 21 },
      expected: {
        status: 'SUCCEEDED',
        output: JSON.stringify({
          mode: 'invoke',
          value: 21,
          result: { payload: { doubled: 42 }, statusCode: 200 },
        }),
      },
    },
    {
      input: { mode: 'throw' },
      expected: { status: 'FAILED', error: 'TypeError', cause: 'worker broke' },
    },
    {
      input: { mode: 'callback' },
      expected: { status: 'FAILED', error: 'States.HeartbeatTimeout' },
    },
    {
      input: { mode: 'other' },
      expected: { status: 'FAILED', error: 'UnknownMode', cause: 'No such mode.' },
    },
  ])('ends a $input.mode execution $expected.status', async ({ input, expected }) => {
    // Arrange
    const { startAndFinish } = await serve('test/fixtures/local-sfn-integrations.asl.json');

    // Act
    const description = await startAndFinish(input);

    // Assert
    expect(description).toMatchObject(expected);
  });

  it('gives a callback Lambda, named without its ARN, the token and the context', async () => {
    // Arrange
    const { client, sfn } = await serve('test/fixtures/local-sfn-integrations.asl.json');
    const name = randomUUID();
    await client.send(
      new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name, input: '{"mode":"callback"}' }),
    );

    // Act
    const call = await eventually(
      async () => workerCalls.find((c) => c.name === name),
      (found) => found !== undefined,
      5_000,
      POLL_MS,
    );
    await client.send(new SendTaskSuccessCommand({ taskToken: call?.token, output: '{"done":true}' }));
    const executionArn = `${sfn.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const description = await eventually(
      () => client.send(new DescribeExecutionCommand({ executionArn })),
      ended,
      5_000,
      POLL_MS,
    );

    // Assert
    expect(call?.token).toMatch(/^[A-Za-z0-9+/]{100,}={0,2}$/);
    expect(description).toMatchObject({ status: 'SUCCEEDED', output: '{"done":true}' });
  });

  it('times an execution out after the state machine TimeoutSeconds', async () => {
    // Arrange
    const { startAndFinish } = await serve('test/fixtures/local-sfn-timeout.asl.json');

    // Act
    const description = await startAndFinish({});

    // Assert
    expect(description.status).toBe('TIMED_OUT');
    expect(description.error).toBeUndefined();
  });
});
