import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  type StateMachine,
} from 'aws-local-stepfunctions';
import {
  MAX_TIMER_SECONDS,
  type PreparedStateMachine,
  type TaskPlan,
  WRAP_HEARTBEAT,
  WRAP_PARAMETERS,
  WRAP_TIMEOUT,
} from './asl.js';
import { isObject, type Json, jsonCopy } from './json.js';

/**
 * The executions of the one state machine, on `aws-local-stepfunctions`. What this layer adds on
 * top of the engine: task tokens (`$$.Task.Token`), the callback pattern
 * (`lambda:invoke.waitForTaskToken` + SendTaskSuccess/Failure/Heartbeat), heartbeat timeouts, the
 * execution registry (Start/Stop/DescribeExecution) and in-process Lambda functions.
 *
 * Executions live in memory only: a restart loses the running ones (and their tokens). That is fine
 * locally because the service's reconciler restarts executions from their DynamoDB state.
 */

/** An in-process Lambda function: receives the JSON payload, returns the JSON result. */
export type LocalLambda = (payload: unknown) => Promise<unknown>;

export interface RuntimeOptions extends PreparedStateMachine {
  stateMachineName: string;
  /** The Lambda functions Task states may invoke, by function ARN. */
  lambdas: Record<string, LocalLambda>;
  /** The engine's `retryIntervalOverrides`: the pause before each retry in ms, by state name. */
  retryIntervalOverridesMs?: Record<string, number>;
}

const REGION = 'local';
const ACCOUNT = '000000000000';
/** First bytes of every token this runtime issues, so a malformed token can be told from an unknown one. */
const TOKEN_MAGIC = Buffer.from('LOCALSFN');
const TOKEN_RANDOM_BYTES = 32;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface Execution {
  arn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  abort: () => void;
  /** Callback tasks still waiting for SendTaskSuccess/Failure. */
  waiting: Set<CallbackTask>;
  /** The names of the states entered, in order (a Map's items' too): what Standard bills as transitions. */
  statesEntered: string[];
}

export interface CallbackTask {
  token: string;
  execution: Execution;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  heartbeatMs?: number;
  heartbeatTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
  /** Set once the task no longer accepts callbacks. */
  closed: boolean;
}

export interface Runtime {
  readonly stateMachineArn: string;
  /** The ARN an execution of this name has. */
  executionArn(name: string): string;
  execution(executionArn: string): Execution | undefined;
  /** Starts an execution; the caller has checked that none of that name exists. */
  start(name: string, input: string, parsedInput: unknown): Execution;
  /** Aborts a running execution (nothing when it has ended). */
  stop(execution: Execution, error?: string, cause?: string): void;
  /** Aborts every running execution. */
  stopAll(error: string, cause: string): void;
  /**
   * The task behind a token this runtime issued. Every token stays, after its task closes, so late
   * callbacks get TaskTimedOut rather than TaskDoesNotExist.
   */
  task(token: string): CallbackTask | undefined;
  succeed(task: CallbackTask, output: unknown): void;
  fail(task: CallbackTask, error: string, cause: string): void;
  heartbeat(task: CallbackTask): void;
}

/** A state failure with an ASL error name, as Retry and Catch see it (`name` → Error, `message` → Cause). */
class StateFailure extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }

  /** Read by the engine: as in AWS, no retrier or catcher (not even States.ALL) handles States.Runtime. */
  get isRetryable(): boolean {
    return this.name !== 'States.Runtime';
  }

  get isCatchable(): boolean {
    return this.isRetryable;
  }
}

/** Deep-replaces the context's token placeholder with the real token. */
function withToken(value: unknown, placeholder: string, token: string): unknown {
  if (typeof value === 'string') return value.replaceAll(placeholder, token);
  if (Array.isArray(value)) return value.map((item) => withToken(item, placeholder, token));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withToken(v, placeholder, token)]));
  }
  return value;
}

/** A positive whole number of seconds, or undefined when absent; anything else is a runtime error. */
function seconds(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new StateFailure(
      'States.Runtime',
      `${what} must be a positive integer, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/**
 * Tokens look like AWS's (long, standard base64) and carry a fixed prefix, so a token this runtime
 * could never have issued is InvalidToken while a well-formed unknown one is TaskDoesNotExist.
 */
function newToken(executionArn: string): string {
  return Buffer.concat([TOKEN_MAGIC, randomBytes(TOKEN_RANDOM_BYTES), Buffer.from(executionArn)]).toString(
    'base64',
  );
}

export function isWellFormedToken(token: string): boolean {
  const bytes = Buffer.from(token, 'base64');
  return (
    bytes.toString('base64') === token &&
    bytes.length > TOKEN_MAGIC.length + TOKEN_RANDOM_BYTES &&
    bytes.subarray(0, TOKEN_MAGIC.length).equals(TOKEN_MAGIC)
  );
}

function toStateFailure(error: unknown): StateFailure {
  if (error instanceof Error) return new StateFailure(error.name || 'Error', error.message);
  return new StateFailure('Error', String(error));
}

export function createRuntime(o: RuntimeOptions): Runtime {
  const { machine, plans, stateMachineName } = o;
  const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName}`;
  const executionArnPrefix = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:`;
  const tokenPlaceholder = `localSfnTaskToken-${randomUUID()}`;

  const executions = new Map<string, Execution>();
  /** Every token issued, kept after it closes so late callbacks get TaskTimedOut rather than TaskDoesNotExist. */
  const tokens = new Map<string, CallbackTask>();

  function lambda(nameOrArn: unknown): LocalLambda {
    const key = String(nameOrArn);
    const exact = o.lambdas[key];
    if (exact) return exact;
    // Also accept a bare function name or a qualified ARN, as Lambda does.
    const functionName = key.startsWith('arn:') ? key.split(':')[6] : key;
    const match = Object.entries(o.lambdas).find(([arn]) => arn.split(':')[6] === functionName);
    if (match) return match[1];
    throw new StateFailure('Lambda.ResourceNotFoundException', `Function not found: ${key}`);
  }

  function closeTask(task: CallbackTask): boolean {
    if (task.closed) return false;
    task.closed = true;
    clearTimeout(task.heartbeatTimer);
    clearTimeout(task.expiryTimer);
    task.execution.waiting.delete(task);
    return true;
  }

  function armHeartbeat(task: CallbackTask): void {
    if (task.heartbeatMs === undefined) return;
    clearTimeout(task.heartbeatTimer);
    const heartbeatSeconds = task.heartbeatMs / 1000;
    task.heartbeatTimer = setTimeout(() => {
      if (closeTask(task)) {
        task.reject(
          new StateFailure(
            'States.HeartbeatTimeout',
            `No heartbeat from the task for ${heartbeatSeconds} seconds.`,
          ),
        );
      }
    }, task.heartbeatMs);
  }

  /** Ends every callback still waiting in the execution; the engine is told so its own timers clear. */
  function closeWaitingTasks(execution: Execution): void {
    for (const task of [...execution.waiting]) {
      if (closeTask(task)) task.reject(new StateFailure('States.Runtime', 'The execution has ended.'));
    }
  }

  function assertRunning(execution: Execution): void {
    // The engine may still retry or finish a state after an abort; nothing new may start then.
    if (execution.status !== 'RUNNING') throw new StateFailure('States.Runtime', 'The execution has ended.');
  }

  function invokeLambdaTask(execution: Execution, plan: TaskPlan, input: Json): Promise<unknown> {
    assertRunning(execution);
    const fn = lambda(plan.kind === 'lambda' ? plan.resource : (input.FunctionName as unknown));
    const payload = plan.kind === 'lambda' ? input : input.Payload;
    return Promise.resolve()
      .then(() => fn(jsonCopy(payload)))
      .then(
        (result) =>
          plan.kind === 'lambda'
            ? jsonCopy(result)
            : { ExecutedVersion: '$LATEST', Payload: jsonCopy(result), StatusCode: 200 },
        (error: unknown) => {
          throw toStateFailure(error);
        },
      );
  }

  function callbackTask(execution: Execution, plan: TaskPlan, wrapper: Json, input: Json): Promise<unknown> {
    assertRunning(execution);
    const heartbeatSeconds =
      seconds(wrapper[WRAP_HEARTBEAT], 'HeartbeatSecondsPath') ?? plan.heartbeatSeconds;
    const timeoutSeconds = seconds(wrapper[WRAP_TIMEOUT], 'TimeoutSecondsPath') ?? plan.timeoutSeconds;
    const fn = lambda(input.FunctionName);
    const token = newToken(execution.arn);
    const task = { token, execution, closed: false } as CallbackTask;
    const promise = new Promise<unknown>((resolve, reject) => Object.assign(task, { resolve, reject }));
    tokens.set(token, task);
    execution.waiting.add(task);
    if (heartbeatSeconds !== undefined) {
      task.heartbeatMs = Math.min(heartbeatSeconds, MAX_TIMER_SECONDS) * 1000;
      armHeartbeat(task);
    }
    // The engine fails the state with States.Timeout at the same moment (its timer starts right
    // after this returns); this timer only retires the token, so the engine's error is the one seen.
    task.expiryTimer = setTimeout(
      () => closeTask(task),
      Math.min(timeoutSeconds ?? MAX_TIMER_SECONDS, MAX_TIMER_SECONDS) * 1000,
    );
    // Like the Lambda integration: the task waits for the token, but fails if the function throws.
    Promise.resolve()
      .then(() => fn(jsonCopy(withToken(input.Payload, tokenPlaceholder, token))))
      .catch((error: unknown) => {
        if (closeTask(task)) task.reject(toStateFailure(error));
      });
    return promise;
  }

  function handlersFor(execution: Execution): Record<string, (input: unknown) => Promise<unknown>> {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, plan] of plans) {
      handlers[stateName] = (input) => {
        let result: Promise<unknown>;
        try {
          const wrapper = input as Json;
          const parameters = wrapper[WRAP_PARAMETERS];
          if (plan.kind !== 'lambda' && !isObject(parameters)) {
            throw new StateFailure('States.Runtime', `${stateName}: Parameters must be an object.`);
          }
          result =
            plan.kind === 'callback'
              ? callbackTask(execution, plan, wrapper, parameters as Json)
              : invokeLambdaTask(execution, plan, parameters as Json);
        } catch (error) {
          result = Promise.reject(error);
        }
        // The engine awaits this promise unless the state failed before (e.g. a bad
        // TimeoutSecondsPath); never let that turn into an unhandled rejection.
        result.catch(() => {});
        return result;
      };
    }
    return handlers;
  }

  function finish(execution: Execution, status: ExecutionStatus, fields: Partial<Execution> = {}): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, fields, { status, stopDate: new Date() });
    closeWaitingTasks(execution);
  }

  function start(name: string, input: string, parsedInput: unknown): Execution {
    const executionArn = executionArnPrefix + name;
    const execution: Execution = {
      arn: executionArn,
      name,
      input,
      status: 'RUNNING',
      startDate: new Date(),
      abort: () => {},
      waiting: new Set(),
      statesEntered: [],
    };
    executions.set(executionArn, execution);
    const runOptions: RunOptions = {
      overrides: {
        taskResourceLocalHandlers: handlersFor(execution) as NonNullable<
          RunOptions['overrides']
        >['taskResourceLocalHandlers'],
        retryIntervalOverrides: o.retryIntervalOverridesMs,
      },
      noThrowOnAbort: true,
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/local-step-functions`,
          StartTime: execution.startDate.toISOString(),
        },
        StateMachine: { Id: stateMachineArn, Name: stateMachineName },
        // The engine does not fill the token; the callback override swaps this placeholder for a real one.
        Task: { Token: tokenPlaceholder },
      },
    };
    const run = machine.run(parsedInput as Parameters<StateMachine['run']>[0], runOptions);
    execution.abort = run.abort;
    // Drain the event log, which otherwise grows for the execution's whole life; keep the names of
    // the states entered.
    void (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered') execution.statesEntered.push(event.state.name);
      }
    })().catch(() => {});
    run.result.then(
      (output) => finish(execution, 'SUCCEEDED', { output: JSON.stringify(output ?? null) }),
      (error: unknown) => {
        // AWS leaves error and cause out of a TIMED_OUT execution's description.
        if (error instanceof ExecutionTimeoutError) finish(execution, 'TIMED_OUT');
        else if (error instanceof ExecutionError && error.cause instanceof Error) {
          finish(execution, 'FAILED', { error: error.cause.name, cause: error.cause.message });
        } else {
          finish(execution, 'FAILED', {
            error: 'States.Runtime',
            cause: error instanceof Error ? error.message : String(error),
          });
        }
      },
    );
    return execution;
  }

  function stop(execution: Execution, error?: string, cause?: string): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, { status: 'ABORTED', stopDate: new Date(), error, cause });
    execution.abort();
    closeWaitingTasks(execution);
  }

  return {
    stateMachineArn,
    executionArn: (name) => executionArnPrefix + name,
    execution: (executionArn) => executions.get(executionArn),
    start,
    stop,
    stopAll(error, cause) {
      for (const execution of executions.values()) stop(execution, error, cause);
    },
    task: (token) => tokens.get(token),
    succeed(task, output) {
      closeTask(task);
      task.resolve(output);
    },
    fail(task, error, cause) {
      closeTask(task);
      task.reject(new StateFailure(error, cause));
    },
    heartbeat: armHeartbeat,
  };
}
