import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import type { ConnectedSystemConfig } from '../config.js';
import { ActivityResult, describeIssues, failed, resultOutcome, stoppedOutcome } from '../outcome.js';
import {
  describeSpawnError,
  directoryProblem,
  type ProcessRunnerOptions,
  runStepProcess,
} from './process-step.js';
import type { RunContext, StepOutcome, StepRunner } from './types.js';

export type RunProfileStep = Extract<ScheduleStep, { stepType: typeof StepType.RunProfile }>;

/** Largest HTTP adapter answer read. */
const MAX_RESPONSE_BYTES = 256 * 1024;

export interface RunProfileRunnerOptions extends ProcessRunnerOptions {
  /** Adapters by connected system id. */
  connectedSystems: Readonly<Record<string, ConnectedSystemConfig>>;
  /** Where `tokenEnv` values are read: the worker's full environment (step processes never get them). */
  secrets: NodeJS.ProcessEnv;
}

/**
 * Runs a `RunProfile` step through the adapter configured for its connected system:
 *
 * - **command**: the argv template with `{connectedSystemId}`, `{runProfileName}`, `{executionId}`
 *   and `{taskId}` filled in, run like an `Executable` (no shell, same outcome convention: a final
 *   JSON line reports `activityStatus`, `activityId` and `message`);
 * - **http**: `POST` (or `PUT`) of `{ connectedSystemId, runProfileName, executionId, taskId }` as JSON,
 *   answered when the run profile has ended with `{ activityStatus, activityId?, message? }`. The
 *   request stays open while it runs (no client timeout but the step's); on cancel or timeout the
 *   worker closes it, which the endpoint should take as "stop".
 *
 * A connected system with no adapter on this worker fails the step naming it.
 */
export class RunProfileRunner implements StepRunner<RunProfileStep> {
  constructor(private readonly options: RunProfileRunnerOptions) {}

  async run(step: RunProfileStep, context: RunContext): Promise<StepOutcome> {
    const id = String(step.connectedSystemId);
    const system = Object.hasOwn(this.options.connectedSystems, id)
      ? this.options.connectedSystems[id]
      : undefined;
    if (!system) {
      const configured = Object.entries(this.options.connectedSystems).map(([key, s]) => label(key, s));
      return failed(
        `Connected system ${id} is not configured on worker ${this.options.workerId} ` +
          `(run profile "${step.runProfileName}"); configured: ${configured.length ? configured.join(', ') : '(none)'}`,
      );
    }
    return 'command' in system
      ? this.runCommand(step, system, context, label(id, system))
      : this.callHttp(step, system.http, context, label(id, system));
  }

  private async runCommand(
    step: RunProfileStep,
    system: Extract<ConnectedSystemConfig, { command: string[] }>,
    context: RunContext,
    name: string,
  ): Promise<StepOutcome> {
    const values: Record<string, string> = {
      connectedSystemId: String(step.connectedSystemId),
      runProfileName: step.runProfileName,
      executionId: context.executionId ?? '',
      taskId: context.taskId,
    };
    const [command = '', ...args] = system.command.map((part) =>
      part.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole),
    );
    const problem = await directoryProblem(system.workingDirectory, this.options.workerId);
    if (problem) return failed(`Adapter for connected system ${name}: ${problem}`);
    return runStepProcess(
      {
        command,
        args,
        cwd: system.workingDirectory,
        describeSpawnError: (error) =>
          describeSpawnError(
            error,
            `Adapter command for connected system ${name}`,
            command,
            this.options.workerId,
          ),
      },
      step,
      context,
      this.options,
    );
  }

  private async callHttp(
    step: RunProfileStep,
    http: Extract<ConnectedSystemConfig, { http: unknown }>['http'],
    context: RunContext,
    name: string,
  ): Promise<StepOutcome> {
    const url = new URL(http.url);
    const where = `${url.origin}${url.pathname}`;
    let token: string | undefined;
    if (http.tokenEnv) {
      token = this.options.secrets[http.tokenEnv];
      if (!token) {
        return failed(
          `Adapter for connected system ${name}: environment variable ${http.tokenEnv} (its token) is not set on worker ${this.options.workerId}`,
        );
      }
    }
    const body = JSON.stringify({
      connectedSystemId: step.connectedSystemId,
      runProfileName: step.runProfileName,
      executionId: context.executionId ?? null,
      taskId: context.taskId,
    });
    let response: { status: number; text: string };
    try {
      response = await sendJson(url, http.method, body, token, context.signal);
    } catch (error) {
      if (context.signal.aborted) {
        return stoppedOutcome(
          context.reason(),
          step.timeoutSeconds,
          {},
          'the request to the adapter was closed',
        );
      }
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return failed(`Adapter for connected system ${name} at ${where} could not be reached: ${reason}`);
    }
    const text = response.text.trim();
    if (response.status < 200 || response.status > 299) {
      return failed(
        `Adapter for connected system ${name} at ${where} answered HTTP ${response.status}` +
          `${text ? `: ${text.slice(0, 1000)}` : ''}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return failed(
        `Adapter for connected system ${name} at ${where} answered with something that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    const result = ActivityResult.safeParse(json);
    if (!result.success) {
      return failed(
        `Adapter for connected system ${name} at ${where} answered with an invalid result (${describeIssues(result.error)})`,
      );
    }
    return { ...resultOutcome(result.data, `reported by the adapter at ${where}`), output: text };
  }
}

const label = (id: string, system: ConnectedSystemConfig) => (system.name ? `${id} (${system.name})` : id);

/**
 * One JSON request with no client-side time limit but `signal` (fetch would give up after 300 s without
 * response headers, and a run profile can take hours).
 */
function sendJson(
  url: URL,
  method: string,
  body: string,
  token: string | undefined,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
