import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { readBody } from './http.js';

/**
 * A local stand-in for AWS Step Functions (Standard workflows): a small HTTP server speaking the
 * Step Functions JSON 1.0 protocol, so the handlers use the real `@aws-sdk/client-sfn` against it,
 * and `aws-local-stepfunctions` running the project's ASL file unchanged.
 *
 * What this layer adds on top of the engine: task tokens (`$$.Task.Token`), the callback pattern
 * (`lambda:invoke.waitForTaskToken` + SendTaskSuccess/Failure/Heartbeat), heartbeat timeouts, the
 * execution registry (Start/Stop/DescribeExecution) and in-process Lambda functions.
 *
 * Executions live in memory only: a restart loses the running ones (and their tokens). That is fine
 * locally because the service's reconciler restarts executions from their DynamoDB state.
 *
 * Deviations from AWS (the cheap-to-mirror parts are mirrored; these are not):
 * - Only Task resources that are Lambda function ARNs, `arn:aws:states:::lambda:invoke` and
 *   `arn:aws:states:::lambda:invoke.waitForTaskToken` are supported (checked at start-up).
 * - A Lambda that throws fails the state with Error = the error's `name` (Lambda's errorType) and
 *   Cause = its `message`; AWS puts a JSON document `{errorType, errorMessage, trace}` in Cause.
 * - A heartbeat timeout fails the state with `States.HeartbeatTimeout` only; in AWS a retrier or
 *   catcher on `States.Timeout` matches it too, here only `States.HeartbeatTimeout`,
 *   `States.TaskFailed` and `States.ALL` do. Its Cause is a sentence; the engine's own
 *   `States.Timeout` has Cause "States.Timeout".
 * - A Task with no TimeoutSeconds(Path) waits at most ~24.8 days (the largest Node timer) where AWS
 *   waits up to the execution's one-year limit; the engine's own default would be 60 s.
 * - The engine evaluates TimeoutSecondsPath against the effective input (after Parameters), AWS
 *   against the state input; the Task states are rewritten in memory (not in the file) to keep AWS
 *   semantics, see `rewriteTask`.
 * - Tokens of Map iterations that the engine abandons (another iteration failed) stay valid until
 *   the execution ends; in AWS they die with the iteration.
 * - `$$.State.*` is not filled, `$$.Execution.Input` inside a Map iteration is the iteration's input
 *   (engine behaviour); no execution history, redrive, versions, aliases or tags.
 */

/** An in-process Lambda function: receives the JSON payload, returns the JSON result. */
export type LocalLambda = (payload: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  /** Path of the ASL (JSON) file. */
  definitionPath: string;
  /** Values for `${Name}` placeholders in the file, as CDK's `definitionSubstitutions` would. */
  substitutions: Record<string, string>;
  /** The Lambda functions Task states may invoke, by function ARN. */
  lambdas: Record<string, LocalLambda>;
  /** The state machine's name; `schedule-execution` when absent. */
  stateMachineName?: string;
  /** TCP port on 127.0.0.1; a free one when 0 or absent. */
  port?: number;
  /**
   * For tests only: the pause before each retry in milliseconds, by state name, instead of what
   * the `Retry` fields say (the engine's `retryIntervalOverrides`).
   */
  retryIntervalOverridesMs?: Record<string, number>;
}

export interface LocalStepFunctions {
  /** Base URL for `new SFNClient({ endpoint })`. */
  readonly endpoint: string;
  /** The one state machine this server runs. */
  readonly stateMachineArn: string;
  /** Aborts the running executions and closes the server. */
  stop(): Promise<void>;
}

const REGION = 'local';
const ACCOUNT = '000000000000';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/;
/** Largest delay a Node timer accepts (2^31-1 ms); longer ones fire after 1 ms. */
const MAX_TIMER_SECONDS = 2_147_483;
/** Keys of the Parameters wrapper that `rewriteTask` puts around each Task state's Parameters. */
const WRAP_PARAMETERS = 'localSfnParameters';
const WRAP_HEARTBEAT = 'localSfnHeartbeatSeconds';
const WRAP_TIMEOUT = 'localSfnTimeoutSeconds';
/** First bytes of every token this server issues, so a malformed token can be told from an unknown one. */
const TOKEN_MAGIC = Buffer.from('LOCALSFN');
const TOKEN_RANDOM_BYTES = 32;
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
type TaskKind = 'lambda' | 'invoke' | 'callback';

/** What a Task state does, read from the definition before it is rewritten. */
interface TaskPlan {
  kind: TaskKind;
  /** The function ARN (kind `lambda`). */
  resource: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
}

interface Execution {
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
}

interface CallbackTask {
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

/** A Step Functions API error; `type` is the shape name the SDK maps to its exception class. */
class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly namespace = 'com.amazonaws.sfn',
  ) {
    super(message);
    this.name = type;
  }
}

type Json = Record<string, unknown>;
type State = Json & { Type?: string };

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** JSON in, JSON out, as a Lambda invocation serializes both ways (also isolates the caller's objects). */
const jsonCopy = (value: unknown): unknown =>
  value === undefined ? null : JSON.parse(JSON.stringify(value));

const epochSeconds = (date: Date) => date.getTime() / 1000;

/** Replaces `${Name}` placeholders in the file text, JSON-escaped, and rejects any left unresolved. */
function substitute(text: string, substitutions: Record<string, string>): string {
  let result = text;
  for (const [name, value] of Object.entries(substitutions)) {
    result = result.replaceAll(`\${${name}}`, JSON.stringify(value).slice(1, -1));
  }
  const missing = [...new Set(result.match(/\$\{[A-Za-z0-9_]+\}/g) ?? [])];
  if (missing.length > 0) throw new Error(`No substitution for ${missing.join(', ')} in the state machine.`);
  return result;
}

function planTask(stateName: string, state: State): TaskPlan {
  const resource = String(state.Resource);
  const kind: TaskKind | undefined =
    resource === LAMBDA_INVOKE_CALLBACK
      ? 'callback'
      : resource === LAMBDA_INVOKE
        ? 'invoke'
        : LAMBDA_ARN.test(resource)
          ? 'lambda'
          : undefined;
  if (!kind) throw new Error(`Task state ${stateName}: resource ${resource} is not supported locally.`);
  return {
    kind,
    resource,
    heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
    timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
  };
}

/**
 * The engine hands a Task override only the effective input (after Parameters) and evaluates
 * TimeoutSecondsPath against it too, while AWS resolves TimeoutSecondsPath and HeartbeatSecondsPath
 * against the state input. So each Task's Parameters are wrapped, in memory, to carry the resolved
 * paths next to the real Parameters: `{ localSfnParameters: <Parameters>, "localSfnTimeoutSeconds.$":
 * <TimeoutSecondsPath>, ... }`, and TimeoutSecondsPath is pointed at the wrapper. The override unwraps
 * it; ResultPath still works on the raw state input, so the wrapper never reaches the state data.
 */
function rewriteTask(state: State): State {
  const wrapper: Json = {};
  if (state.Parameters === undefined) wrapper[`${WRAP_PARAMETERS}.$`] = '$';
  else wrapper[WRAP_PARAMETERS] = state.Parameters;
  const rewritten: State = { ...state, Parameters: wrapper };
  if (typeof state.HeartbeatSecondsPath === 'string') {
    wrapper[`${WRAP_HEARTBEAT}.$`] = state.HeartbeatSecondsPath;
  }
  if (typeof state.TimeoutSecondsPath === 'string') {
    wrapper[`${WRAP_TIMEOUT}.$`] = state.TimeoutSecondsPath;
    rewritten.TimeoutSecondsPath = `$.${WRAP_TIMEOUT}`;
  } else if (!state.TimeoutSeconds) {
    // The engine would time a Task out after 60 s by default; AWS has no such default.
    rewritten.TimeoutSeconds = MAX_TIMER_SECONDS;
  }
  return rewritten;
}

/** Rewrites every Task state (also inside Map and Parallel) and records its plan by state name. */
function prepareStates(states: Json, plans: Map<string, TaskPlan>): Json {
  const prepared: Json = {};
  for (const [name, value] of Object.entries(states)) {
    const state = value as State;
    if (state.Type === 'Task') {
      plans.set(name, planTask(name, state));
      prepared[name] = rewriteTask(state);
    } else if (state.Type === 'Map') {
      const key = state.ItemProcessor ? 'ItemProcessor' : 'Iterator';
      const processor = state[key] as Json;
      prepared[name] = {
        ...state,
        [key]: { ...processor, States: prepareStates(processor.States as Json, plans) },
      };
    } else if (state.Type === 'Parallel') {
      const branches = (state.Branches as Json[]).map((branch) => ({
        ...branch,
        States: prepareStates(branch.States as Json, plans),
      }));
      prepared[name] = { ...state, Branches: branches };
    } else {
      prepared[name] = state;
    }
  }
  return prepared;
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
 * Tokens look like AWS's (long, standard base64) and carry a fixed prefix, so a token this server
 * could never have issued is InvalidToken while a well-formed unknown one is TaskDoesNotExist.
 */
function newToken(executionArn: string): string {
  return Buffer.concat([TOKEN_MAGIC, randomBytes(TOKEN_RANDOM_BYTES), Buffer.from(executionArn)]).toString(
    'base64',
  );
}

function isWellFormedToken(token: string): boolean {
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

function stringField(body: Json, field: string, required: true): string;
function stringField(body: Json, field: string, required?: false): string | undefined;
function stringField(body: Json, field: string, required = false): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (!required) return undefined;
    throw new ApiError(
      'ValidationException',
      `Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (typeof value !== 'string') throw new ApiError('SerializationException', `${field} must be a string.`);
  return value;
}

async function readJsonObject(request: IncomingMessage): Promise<Json> {
  const text = (await readBody(request)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) return body;
  } catch {
    // answered below
  }
  throw new ApiError('SerializationException', 'The request body is not a JSON object.');
}

/** Starts the server; resolves once it listens. */
export async function startLocalStepFunctions(o: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const stateMachineName = o.stateMachineName ?? 'schedule-execution';
  const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName}`;
  const executionArnPrefix = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:`;
  const tokenPlaceholder = `localSfnTaskToken-${randomUUID()}`;

  const definition = JSON.parse(
    substitute(await readFile(o.definitionPath, 'utf8'), o.substitutions),
  ) as StateMachineDefinition;
  // Validates the definition as written (after substitution); the rewritten one runs unvalidated.
  new StateMachine(definition);
  const plans = new Map<string, TaskPlan>();
  const prepared = { ...definition, States: prepareStates(definition.States as Json, plans) };
  const machine = new StateMachine(prepared as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });

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

  function startExecution(body: Json): Json {
    const arn = stringField(body, 'stateMachineArn', true);
    if (arn !== stateMachineArn) {
      if (!arn.startsWith('arn:')) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
      throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
    const name = stringField(body, 'name') ?? randomUUID();
    if (!EXECUTION_NAME.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = stringField(body, 'input') ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(input);
    } catch {
      throw new ApiError('InvalidExecutionInput', `Invalid Execution Input: '${input}'`);
    }
    const executionArn = executionArnPrefix + name;
    const existing = executions.get(executionArn);
    if (existing) {
      // AWS: same name and input while RUNNING is the same execution; otherwise (other input, or
      // closed) ExecutionAlreadyExists.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const execution: Execution = {
      arn: executionArn,
      name,
      input,
      status: 'RUNNING',
      startDate: new Date(),
      abort: () => {},
      waiting: new Set(),
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
    // Drain the event log, which otherwise grows for the execution's whole life.
    void (async () => {
      for await (const _ of run.eventLogs);
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
    return { executionArn, startDate: epochSeconds(execution.startDate) };
  }

  function findExecution(body: Json): Execution {
    const arn = stringField(body, 'executionArn', true);
    const execution = executions.get(arn);
    if (execution) return execution;
    if (!/^arn:aws[a-z-]*:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    }
    throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
  }

  function stopExecution(execution: Execution, error?: string, cause?: string): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, { status: 'ABORTED', stopDate: new Date(), error, cause });
    execution.abort();
    closeWaitingTasks(execution);
  }

  function describeExecution(execution: Execution): Json {
    const has = (value: unknown) => value !== undefined;
    return {
      executionArn: execution.arn,
      stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: epochSeconds(execution.startDate),
      ...(execution.stopDate && { stopDate: epochSeconds(execution.stopDate) }),
      input: execution.input,
      inputDetails: { included: true },
      ...(has(execution.output) && { output: execution.output, outputDetails: { included: true } }),
      ...(has(execution.error) && { error: execution.error }),
      ...(has(execution.cause) && { cause: execution.cause }),
    };
  }

  /** The open task behind a token, or the error AWS gives for it. */
  function openTask(body: Json): CallbackTask {
    const token = stringField(body, 'taskToken', true);
    if (!isWellFormedToken(token)) throw new ApiError('InvalidToken', "Invalid Token: 'Invalid token'");
    const task = tokens.get(token);
    if (!task) throw new ApiError('TaskDoesNotExist', 'Task Does Not Exist');
    if (task.closed) {
      throw new ApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    return task;
  }

  const operations: Record<string, (body: Json) => Json> = {
    StartExecution: startExecution,
    StopExecution: (body) => {
      const execution = findExecution(body);
      stopExecution(execution, stringField(body, 'error'), stringField(body, 'cause'));
      return { stopDate: epochSeconds(execution.stopDate ?? new Date()) };
    },
    DescribeExecution: (body) => describeExecution(findExecution(body)),
    SendTaskSuccess: (body) => {
      const task = openTask(body);
      const output = stringField(body, 'output', true);
      let parsed: unknown;
      try {
        parsed = JSON.parse(output);
      } catch {
        throw new ApiError('InvalidOutput', `Invalid Output: '${output}'`);
      }
      closeTask(task);
      task.resolve(parsed);
      return {};
    },
    SendTaskFailure: (body) => {
      const task = openTask(body);
      const error = stringField(body, 'error') ?? '';
      const cause = stringField(body, 'cause') ?? '';
      closeTask(task);
      task.reject(new StateFailure(error, cause));
      return {};
    },
    SendTaskHeartbeat: (body) => {
      armHeartbeat(openTask(body));
      return {};
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: Json) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': randomUUID(),
      });
      response.end(JSON.stringify(body));
    };
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.')
        ? operations[target.slice('AWSStepFunctions.'.length)]
        : undefined;
      if (request.method !== 'POST' || !operation) {
        throw new ApiError(
          'UnknownOperationException',
          `Unknown operation ${target || '(no X-Amz-Target)'}`,
          'com.amazon.coral.service',
        );
      }
      send(200, operation(await readJsonObject(request)));
    } catch (error) {
      if (error instanceof ApiError) {
        send(400, { __type: `${error.namespace}#${error.type}`, message: error.message });
      } else {
        send(500, {
          __type: 'com.amazon.coral.service#InternalFailure',
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stateMachineArn,
    async stop() {
      for (const execution of executions.values()) {
        stopExecution(execution, 'States.Runtime', 'The local Step Functions server stopped.');
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
