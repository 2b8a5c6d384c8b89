import { closeServer, listenOnLoopback } from '../http.js';
import { prepareStateMachine } from './asl.js';
import { stepFunctionsOperations } from './operations.js';
import { createRuntime, type LocalLambda } from './runtime.js';
import { createJsonProtocolServer } from './server.js';

export type { LocalLambda } from './runtime.js';

/**
 * A local stand-in for AWS Step Functions (Standard workflows): a small HTTP server speaking the
 * Step Functions JSON 1.0 protocol, so the handlers use the real `@aws-sdk/client-sfn` against it,
 * and `aws-local-stepfunctions` running the project's ASL file unchanged.
 *
 * The parts: asl.ts reads the file and prepares its Task states for the engine; runtime.ts runs the
 * executions (task tokens, callbacks, heartbeats, in-process Lambdas); operations.ts is the API's
 * actions and their errors; server.ts the JSON protocol over HTTP.
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
 *   semantics, see `rewriteTask` in asl.ts.
 * - Tokens of Map iterations that the engine abandons (another iteration failed) stay valid until
 *   the execution ends; in AWS they die with the iteration.
 * - `$$.State.*` is not filled, `$$.Execution.Input` inside a Map iteration is the iteration's input
 *   (engine behaviour); no execution history, redrive, versions, aliases or tags.
 */

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
  /**
   * The states an execution of this name entered so far, in order (a Map's items' too; none when
   * there is no such execution): what Step Functions Standard bills as state transitions.
   */
  statesEntered(name: string): readonly string[];
  /** Aborts the running executions and closes the server. */
  stop(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startLocalStepFunctions(o: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const prepared = await prepareStateMachine(o.definitionPath, o.substitutions);
  const runtime = createRuntime({
    ...prepared,
    stateMachineName: o.stateMachineName ?? 'schedule-execution',
    lambdas: o.lambdas,
    retryIntervalOverridesMs: o.retryIntervalOverridesMs,
  });
  const server = createJsonProtocolServer(stepFunctionsOperations(runtime));
  const port = await listenOnLoopback(server, o.port);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stateMachineArn: runtime.stateMachineArn,
    statesEntered: (name) => runtime.execution(runtime.executionArn(name))?.statesEntered ?? [],
    async stop() {
      runtime.stopAll('States.Runtime', 'The local Step Functions server stopped.');
      await closeServer(server);
    },
  };
}
