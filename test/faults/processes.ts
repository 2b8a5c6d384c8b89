import { readFileSync } from 'node:fs';
import type { ExecutionStatus, StepStatus } from '../../core/model.js';
import { isActiveExecutionStatus } from '../../core/transitions.js';
import { freePort } from '../../local/dynamodb-local.js';
import { eventually } from '../helpers/eventually.js';
import { processTree } from '../helpers/listeners.js';
import { type ApiClient, apiClient } from '../helpers/local-api.js';
import type { Started } from '../helpers/npm-start.js';

/** What the fault tests share: finding a step's process, running schedules, watching executions end. */

/**
 * The environment of an `npm start` for a fault test, on a free port, and an admin client of its API:
 * no cron, 1 s state-machine waits, a step's heartbeat due within `heartbeatSeconds`; `env` on top.
 */
export async function faultStack(name: string, heartbeatSeconds: number, env: Record<string, string>) {
  const port = await freePort();
  const adminApiKey = `${name}-admin`;
  const apiUrl = `http://localhost:${port}/api/v1`;
  return {
    apiUrl,
    api: apiClient({ apiUrl, adminApiKey }),
    env: {
      PORT: String(port),
      LOCAL_ADMIN_API_KEY: adminApiKey,
      LOCAL_CRON: 'false',
      ORCHESTRATOR_WAIT_SECONDS: '1',
      STEP_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatSeconds),
      ...env,
    },
  };
}

/** Whether a process of the tree runs exactly this command line (e.g. a step's `/bin/sleep 5`). */
export function treeRuns(started: Started, commandLine: string): boolean {
  return processTree(started.child.pid as number).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === commandLine;
    } catch {
      return false; // exited meanwhile
    }
  });
}

export interface StepView {
  name: string;
  stepIndex: number;
  status: StepStatus;
  continueOnFailure: boolean;
  errorMessage: string | null;
}

export interface ExecutionView {
  id: string;
  status: ExecutionStatus;
  errorMessage: string | null;
  completedAt: string | null;
  steps: StepView[];
}

export const getExecution = async (api: ApiClient, id: string): Promise<ExecutionView> => {
  const response = await api.get<ExecutionView>(`/schedule-executions/${id}`);
  if (response.status !== 200) throw new Error(`GET execution ${id} answered ${response.status}`);
  return response.body;
};

/** Polls until every execution is out of the active statuses; resolves with them as they ended, in order. */
export const waitUntilEnded = async <const Ids extends readonly string[]>(
  api: ApiClient,
  ids: Ids,
  ms: number,
) =>
  (await eventually(
    () => Promise.all(ids.map((id) => getExecution(api, id))),
    (executions) => executions.every((e) => !isActiveExecutionStatus(e.status)),
    ms,
    250,
  )) as { [K in keyof Ids]: ExecutionView };

/** Polls until the execution's first step is Processing with `commandLine` running in `started`'s tree. */
export const untilMidStep = (api: ApiClient, id: string, started: Started, commandLine: string) =>
  eventually(
    async () => ({
      step: (await getExecution(api, id)).steps[0]?.status,
      running: treeRuns(started, commandLine),
    }),
    ({ step, running }) => step === 'Processing' && running,
    20_000,
  );

/** A manual schedule of one `Executable` step: `/bin/sleep <seconds>`. */
export const sleepSchedule = (name: string, seconds: number, extra: Record<string, unknown> = {}) => ({
  name,
  triggerType: 'Manual',
  steps: [
    {
      name: `sleep ${seconds}`,
      stepType: 'Executable',
      executablePath: '/bin/sleep',
      arguments: `${seconds}`,
    },
  ],
  ...extra,
});

/** Runs the schedule and returns the execution id; the run must be accepted (202). */
export async function run(api: ApiClient, scheduleId: string): Promise<string> {
  const response = await api.post<{ executionId: string; status: string }>(`/schedules/${scheduleId}/run`);
  if (response.status !== 202)
    throw new Error(`run answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.executionId;
}

export const seconds = (ms: number) => (ms / 1000).toFixed(1);
