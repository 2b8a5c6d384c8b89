import type { z } from 'zod';
import type { ConsoleConfig } from '../../core/api/console-config.js';
import type { OperationId, Route } from '../../core/api/routes.js';
import type { ErrorBody } from '../../core/errors.js';

/**
 * The console's one door to the service: the public API, called as a curl user would, with the
 * signed-in credential. Requests and responses are typed from the route table's own zod schemas
 * (types only: zod stays out of the bundle), and {@link OPERATIONS} is checked against that table,
 * so the console and the API cannot drift.
 */

type RouteOf<Op extends OperationId> = Extract<Route, { operationId: Op }>;
type Field<R, K extends string, Side extends 'in' | 'out'> = R extends { [P in K]: infer S extends z.ZodType }
  ? Side extends 'in'
    ? z.input<S>
    : z.output<S>
  : undefined;

/** What an operation returns (undefined for 204s). */
export type ResponseOf<Op extends OperationId> = Field<RouteOf<Op>, 'response', 'out'>;
export type BodyOf<Op extends OperationId> = Field<RouteOf<Op>, 'body', 'in'>;
export type QueryOf<Op extends OperationId> = Field<RouteOf<Op>, 'query', 'in'>;

/** The operations the console uses, as [method, path] of the route table (tsc checks each pair). */
const OPERATIONS = {
  listSchedules: ['GET', '/schedules'],
  createSchedule: ['POST', '/schedules'],
  getSchedule: ['GET', '/schedules/{id}'],
  replaceSchedule: ['PUT', '/schedules/{id}'],
  deleteSchedule: ['DELETE', '/schedules/{id}'],
  enableSchedule: ['POST', '/schedules/{id}/enable'],
  disableSchedule: ['POST', '/schedules/{id}/disable'],
  runSchedule: ['POST', '/schedules/{id}/run'],
  getNextRuns: ['GET', '/schedules/{id}/next-runs'],
  listExecutions: ['GET', '/schedule-executions'],
  listActiveExecutions: ['GET', '/schedule-executions/active'],
  getExecution: ['GET', '/schedule-executions/{id}'],
  cancelExecution: ['POST', '/schedule-executions/{id}/cancel'],
  pauseExecution: ['POST', '/schedule-executions/{id}/pause'],
  resumeExecution: ['POST', '/schedule-executions/{id}/resume'],
  retryExecution: ['POST', '/schedule-executions/{id}/retry'],
  listWorkers: ['GET', '/workers'],
  createApiKey: ['POST', '/api-keys'],
  listApiKeys: ['GET', '/api-keys'],
  deleteApiKey: ['DELETE', '/api-keys/{id}'],
} as const satisfies { [Op in OperationId]?: readonly [RouteOf<Op>['method'], RouteOf<Op>['path']] };

export type ConsoleOperation = keyof typeof OPERATIONS;

/** How the console proves who it is: an API key, or the OIDC issuer's token. */
export type Credential = { kind: 'apiKey'; value: string } | { kind: 'bearer'; value: string };

/** A 4xx/5xx from the API (or a network failure), carrying the contract's error body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
    options?: ErrorOptions,
  ) {
    super(
      body?.message ??
        (status === 0
          ? 'The service could not be reached: it may be down or restarting, or this network is offline.'
          : `The service answered ${status}`),
      options,
    );
  }
  /** field → messages, for forms. */
  get validationErrors(): Record<string, string[]> {
    return this.body?.validationErrors ?? {};
  }
}

interface Connection {
  apiBase: string;
  credential: Credential;
  /** Called on a 401: the credential is no longer good (revoked key, expired token). */
  onUnauthorised: () => void;
}

let connection: Connection | undefined;

export const connect = (config: ConsoleConfig, credential: Credential, onUnauthorised: () => void) => {
  connection = { apiBase: config.apiBase, credential, onUnauthorised };
};
export const disconnect = () => {
  connection = undefined;
};

export interface CallOptions<Op extends ConsoleOperation> {
  id?: string;
  query?: QueryOf<Op>;
  body?: BodyOf<Op>;
}

export async function call<Op extends ConsoleOperation>(
  operation: Op,
  options: CallOptions<Op> = {},
): Promise<ResponseOf<Op>> {
  if (!connection) throw new ApiError(401, undefined);
  const { apiBase, credential, onUnauthorised } = connection;
  const [method, template] = OPERATIONS[operation];
  const path = template.replace('{id}', encodeURIComponent(options.id ?? ''));
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && value !== '') query.set(key, String(value));
  }
  const headers: Record<string, string> =
    credential.kind === 'apiKey'
      ? { 'X-Api-Key': credential.value }
      : { Authorization: `Bearer ${credential.value}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${apiBase}${path}${query.size > 0 ? `?${query}` : ''}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (error) {
    throw new ApiError(0, undefined, { cause: error });
  }
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) {
    if (response.status === 401) onUnauthorised();
    throw new ApiError(response.status, isErrorBody(parsed) ? parsed : undefined);
  }
  return parsed as ResponseOf<Op>;
}

/** Checks a credential before keeping it: the cheapest Administrator call. */
export const probe = () => call('listSchedules', { query: { pageSize: '1' } });

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isErrorBody = (value: unknown): value is ErrorBody =>
  typeof value === 'object' && value !== null && typeof (value as ErrorBody).message === 'string';
