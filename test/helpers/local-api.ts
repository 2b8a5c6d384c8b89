import { expect } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import { eventually } from './eventually.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small HTTP client for the local stack: JSON in, JSON out, the key (and other headers) of your choice. */
export function apiClient(
  stack: Pick<LocalStack, 'apiUrl' | 'adminApiKey'>,
  apiKey: string | null = stack.adminApiKey,
  headers: Record<string, string> = {},
) {
  const call = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
    raw?: string,
  ): Promise<ApiResponse<T>> => {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        ...(apiKey ? { 'X-Api-Key': apiKey } : {}),
        ...headers,
        ...(body !== undefined || raw !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
    raw: <T = any>(method: string, path: string, raw: string) => call<T>(method, path, undefined, raw),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/**
 * Starts an in-memory local stack on a free port. Stop it in afterAll. The wall-clock cron trigger is
 * off unless asked for, so enabled cron schedules in a test fire only when the test says so.
 */
export const startTestStack = (options: Partial<LocalStackOptions> = {}) =>
  startLocalStack({ port: 0, tablePrefix: 'e2e', cronTrigger: false, ...options });

/**
 * The settings of the worker scenarios, short to keep them quick: the state machine looks again
 * after 1 s when it waits, a claimed step without a heartbeat fails after 6 s, the reconciler runs
 * every second.
 */
export const QUICK_WORKER_STACK = {
  waitSeconds: 1,
  heartbeatTimeoutSeconds: 6,
  reconcileEveryMs: 1000,
} as const satisfies Partial<LocalStackOptions>;

/** A schedule body with one step of each type, the first two in one stage. */
export const sampleSchedule = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  description: 'Corporate LDAP delta cycle',
  triggerType: 'Manual',
  steps: [
    {
      name: 'Corporate LDAP - Delta Import',
      stepType: 'RunProfile',
      connectedSystemId: 1,
      runProfileName: 'Delta Import',
    },
    {
      name: 'HR - Delta Import',
      stepType: 'RunProfile',
      connectedSystemId: 2,
      runProfileName: 'Delta Import',
      executionMode: 'ParallelWithPrevious',
    },
    { name: 'Tidy up', stepType: 'PowerShell', scriptPath: '/opt/scripts/tidy.ps1', arguments: '-Days 7' },
    { name: 'Report', stepType: 'Executable', executablePath: '/usr/bin/env', arguments: 'echo done' },
    { name: 'Audit', stepType: 'SqlScript', sqlConnection: 'audit-db', sqlScriptPath: '/opt/sql/audit.sql' },
  ],
  ...extra,
});

/** A step of `runSchedule`: Executable `/bin/true` (the type does not matter to orchestration). */
export interface RunStepSpec {
  name?: string;
  mode?: 'Sequential' | 'ParallelWithPrevious';
  continueOnFailure?: boolean;
  timeoutSeconds?: number;
}

/** Creates a Manual schedule of the steps, all in `pool`, and runs it: the schedule's id and the execution's. */
export async function runSchedule(
  admin: ApiClient,
  name: string,
  pool: string,
  steps: RunStepSpec[],
  extra: Record<string, unknown> = {},
) {
  const schedule = await admin.post('/schedules', {
    name,
    triggerType: 'Manual',
    steps: steps.map((step, i) => ({
      name: step.name ?? `step ${i}`,
      stepType: 'Executable',
      executablePath: '/bin/true',
      executionMode: step.mode ?? 'Sequential',
      continueOnFailure: step.continueOnFailure ?? false,
      timeoutSeconds: step.timeoutSeconds ?? 60,
      workerPool: pool,
    })),
    ...extra,
  });
  expect(schedule.status).toBe(201);
  const started = await admin.post(`/schedules/${schedule.body.id}/run`);
  expect(started.status).toBe(202);
  return { scheduleId: schedule.body.id as string, executionId: started.body.executionId as string };
}

/** The execution as the API shows it. */
export const executionOf = async (admin: ApiClient, id: string) =>
  (await admin.get(`/schedule-executions/${id}`)).body;

/** The execution once it has ended (Completed, Failed or Cancelled). */
export const settled = (admin: ApiClient, id: string) =>
  eventually(
    () => executionOf(admin, id),
    (e) => ['Completed', 'Failed', 'Cancelled'].includes(e.status),
  );
