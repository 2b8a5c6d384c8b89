import { readFile } from 'node:fs/promises';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Json } from './json.js';

/**
 * The ASL file as the local engine runs it: read, `${Name}` placeholders substituted, validated as
 * written, then every Task state planned (what it invokes, its fixed timeouts) and rewritten in
 * memory, never in the file, so the engine keeps AWS's semantics where it would not (see
 * `rewriteTask`).
 */

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/;
/** Largest delay a Node timer accepts (2^31-1 ms); longer ones fire after 1 ms. */
export const MAX_TIMER_SECONDS = 2_147_483;
/** Keys of the Parameters wrapper that `rewriteTask` puts around each Task state's Parameters. */
export const WRAP_PARAMETERS = 'localSfnParameters';
export const WRAP_HEARTBEAT = 'localSfnHeartbeatSeconds';
export const WRAP_TIMEOUT = 'localSfnTimeoutSeconds';

export type TaskKind = 'lambda' | 'invoke' | 'callback';

/** What a Task state does, read from the definition before it is rewritten. */
export interface TaskPlan {
  kind: TaskKind;
  /** The function ARN (kind `lambda`). */
  resource: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
}

/** The state machine the engine runs, and the plan of each Task state in it, by state name. */
export interface PreparedStateMachine {
  machine: StateMachine;
  plans: ReadonlyMap<string, TaskPlan>;
}

type State = Json & { Type?: string };

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

/** Reads the ASL file, substitutes it, validates it and prepares its Task states for the engine. */
export async function prepareStateMachine(
  definitionPath: string,
  substitutions: Record<string, string>,
): Promise<PreparedStateMachine> {
  const definition = JSON.parse(
    substitute(await readFile(definitionPath, 'utf8'), substitutions),
  ) as StateMachineDefinition;
  // Validates the definition as written (after substitution); the rewritten one runs unvalidated.
  new StateMachine(definition);
  const plans = new Map<string, TaskPlan>();
  const prepared = { ...definition, States: prepareStates(definition.States as Json, plans) };
  const machine = new StateMachine(prepared as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  return { machine, plans };
}
