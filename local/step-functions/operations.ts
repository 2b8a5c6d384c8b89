import { randomUUID } from 'node:crypto';
import { epochSeconds, type Json } from './json.js';
import { type CallbackTask, type Execution, isWellFormedToken, type Runtime } from './runtime.js';
import { ApiError, type Operations } from './server.js';

/**
 * The Step Functions API actions served locally (Start/Stop/DescribeExecution and
 * SendTaskSuccess/Failure/Heartbeat): request fields checked, and answered, as AWS does, with the
 * same error names for the same mistakes, in the same order.
 */

const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/;

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

/** The JSON a string field holds, or the API error `type` (message `<what>: '<text>'`) when it is not JSON. */
function parseJson(text: string, type: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(type, `${what}: '${text}'`);
  }
}

export function stepFunctionsOperations(runtime: Runtime): Operations {
  const { stateMachineArn } = runtime;

  function startExecution(body: Json): Json {
    const arn = stringField(body, 'stateMachineArn', true);
    if (arn !== stateMachineArn) {
      if (!arn.startsWith('arn:')) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
      throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
    const name = stringField(body, 'name') ?? randomUUID();
    if (!EXECUTION_NAME.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = stringField(body, 'input') ?? '{}';
    const parsedInput = parseJson(input, 'InvalidExecutionInput', 'Invalid Execution Input');
    const executionArn = runtime.executionArn(name);
    const existing = runtime.execution(executionArn);
    if (existing) {
      // AWS: same name and input while RUNNING is the same execution; otherwise (other input, or
      // closed) ExecutionAlreadyExists.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution = runtime.start(name, input, parsedInput);
    return { executionArn, startDate: epochSeconds(execution.startDate) };
  }

  function findExecution(body: Json): Execution {
    const arn = stringField(body, 'executionArn', true);
    const execution = runtime.execution(arn);
    if (execution) return execution;
    if (!EXECUTION_ARN.test(arn)) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
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
    const task = runtime.task(token);
    if (!task) throw new ApiError('TaskDoesNotExist', 'Task Does Not Exist');
    if (task.closed) {
      throw new ApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    return task;
  }

  return {
    StartExecution: startExecution,
    StopExecution: (body) => {
      const execution = findExecution(body);
      runtime.stop(execution, stringField(body, 'error'), stringField(body, 'cause'));
      return { stopDate: epochSeconds(execution.stopDate ?? new Date()) };
    },
    DescribeExecution: (body) => describeExecution(findExecution(body)),
    SendTaskSuccess: (body) => {
      const task = openTask(body);
      const output = stringField(body, 'output', true);
      runtime.succeed(task, parseJson(output, 'InvalidOutput', 'Invalid Output'));
      return {};
    },
    SendTaskFailure: (body) => {
      const task = openTask(body);
      const error = stringField(body, 'error') ?? '';
      const cause = stringField(body, 'cause') ?? '';
      runtime.fail(task, error, cause);
      return {};
    },
    SendTaskHeartbeat: (body) => {
      runtime.heartbeat(openTask(body));
      return {};
    },
  };
}
