import { z } from 'zod';
import type { ValueOf } from '../enum.js';
import { Role } from '../model.js';
import { CreateApiKeyInput, CreatedApiKey, ListApiKeysQuery, PagedApiKeys } from '../schemas/api-key.js';
import { IDEMPOTENT_REPLAYED, IdempotencyHeaders, IdParams } from '../schemas/common.js';
import {
  ActiveExecutions,
  Execution,
  ExecutionDetail,
  ListExecutionsQuery,
  PagedExecutions,
  RetryExecutionInput,
} from '../schemas/execution.js';
import {
  ListSchedulesQuery,
  NextRuns,
  NextRunsQuery,
  PagedSchedules,
  RunScheduleResult,
  Schedule,
  ScheduleInput,
} from '../schemas/schedule.js';
import {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  CompleteResult,
  HeartbeatInput,
  HeartbeatResult,
  TaskParams,
  WorkerList,
} from '../schemas/worker.js';

/**
 * The API, route by route: method, path, which Lambda serves it, who may call it and the schemas of
 * its input and output. CDK builds API Gateway from this table, the local gateway routes by it,
 * the handlers validate with its schemas and the OpenAPI document is generated from it.
 */

export const API_BASE_PATH = '/api/v1';

/** Each group is one Lambda function. */
export const HandlerGroup = {
  schedules: 'schedules',
  executions: 'executions',
  apiKeys: 'api-keys',
  meta: 'meta',
  /**
   * The claim (long poll) alone: a function of its own, so its memory and reserved concurrency are
   * sized for claims held open for up to 20 s, and they never starve heartbeats and completes.
   */
  claims: 'claims',
  worker: 'worker',
} as const;
export type HandlerGroup = ValueOf<typeof HandlerGroup>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDefinition {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** Path below {@link API_BASE_PATH}, with `{name}` path parameters as API Gateway writes them. */
  readonly path: string;
  readonly group: HandlerGroup;
  /** The role a caller needs; absent for public routes (no authorizer). */
  readonly role?: Role;
  /** Why else a caller with the role gets 403 FORBIDDEN, for the OpenAPI document. */
  readonly forbidden?: string;
  readonly summary: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  /** Request headers the route reads (beside the credentials), by their documented names. */
  readonly headers?: z.ZodObject;
  readonly status: number;
  readonly response?: z.ZodType;
  /** Headers the success response may carry: name → what it means. */
  readonly responseHeaders?: Readonly<Record<string, string>>;
}

const admin = Role.Administrator;
const worker = Role.Worker;
const CLAIMANT_ONLY = 'the task was claimed with another credential, or as another workerId';
/** What run and retry share: an Idempotency-Key, and 202 with the queued run (or the replay of one). */
const QUEUES_A_RUN = {
  headers: IdempotencyHeaders,
  status: 202,
  response: RunScheduleResult,
  responseHeaders: {
    [IDEMPOTENT_REPLAYED]:
      '`true` when the response is the replay of an earlier request with the same Idempotency-Key',
  },
} as const;

export const ROUTES = [
  {
    operationId: 'listSchedules',
    method: 'GET',
    path: '/schedules',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'List schedules (paginated, searchable, sortable)',
    query: ListSchedulesQuery,
    status: 200,
    response: PagedSchedules,
  },
  {
    operationId: 'createSchedule',
    method: 'POST',
    path: '/schedules',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Create a schedule',
    body: ScheduleInput,
    status: 201,
    response: Schedule,
  },
  {
    operationId: 'getSchedule',
    method: 'GET',
    path: '/schedules/{id}',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Get a schedule with its steps',
    params: IdParams,
    status: 200,
    response: Schedule,
  },
  {
    operationId: 'replaceSchedule',
    method: 'PUT',
    path: '/schedules/{id}',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Replace a schedule (all fields and steps)',
    params: IdParams,
    body: ScheduleInput,
    status: 200,
    response: Schedule,
  },
  {
    operationId: 'deleteSchedule',
    method: 'DELETE',
    path: '/schedules/{id}',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Delete a schedule (409 while it has an active execution; its executions stay readable)',
    params: IdParams,
    status: 204,
  },
  {
    operationId: 'enableSchedule',
    method: 'POST',
    path: '/schedules/{id}/enable',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Enable a schedule',
    params: IdParams,
    status: 200,
    response: Schedule,
  },
  {
    operationId: 'disableSchedule',
    method: 'POST',
    path: '/schedules/{id}/disable',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Disable a schedule',
    params: IdParams,
    status: 200,
    response: Schedule,
  },
  {
    operationId: 'runSchedule',
    method: 'POST',
    path: '/schedules/{id}/run',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'Queue an execution of the schedule now (obeys the overlap policy; idempotent with a key)',
    params: IdParams,
    ...QUEUES_A_RUN,
  },
  {
    operationId: 'getNextRuns',
    method: 'GET',
    path: '/schedules/{id}/next-runs',
    group: HandlerGroup.schedules,
    role: admin,
    summary: 'The next fire times of a cron schedule, in UTC (409 for a Manual schedule)',
    params: IdParams,
    query: NextRunsQuery,
    status: 200,
    response: NextRuns,
  },
  {
    operationId: 'listExecutions',
    method: 'GET',
    path: '/schedule-executions',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'List executions (paginated; page number or nextToken)',
    query: ListExecutionsQuery,
    status: 200,
    response: PagedExecutions,
  },
  {
    operationId: 'listActiveExecutions',
    method: 'GET',
    path: '/schedule-executions/active',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'Queued, InProgress and Paused executions, oldest first (not paginated)',
    status: 200,
    response: ActiveExecutions,
  },
  {
    operationId: 'getExecution',
    method: 'GET',
    path: '/schedule-executions/{id}',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'Get an execution with per-step progress',
    params: IdParams,
    status: 200,
    response: ExecutionDetail,
  },
  {
    operationId: 'cancelExecution',
    method: 'POST',
    path: '/schedule-executions/{id}/cancel',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'Cancel a queued or running execution (409 once finished)',
    params: IdParams,
    status: 200,
    response: Execution,
  },
  {
    operationId: 'pauseExecution',
    method: 'POST',
    path: '/schedule-executions/{id}/pause',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'Pause a running execution: running steps finish, no new stage starts until resumed',
    params: IdParams,
    status: 200,
    response: Execution,
  },
  {
    operationId: 'resumeExecution',
    method: 'POST',
    path: '/schedule-executions/{id}/resume',
    group: HandlerGroup.executions,
    role: admin,
    summary: 'Resume a paused execution',
    params: IdParams,
    status: 200,
    response: Execution,
  },
  {
    operationId: 'retryExecution',
    method: 'POST',
    path: '/schedule-executions/{id}/retry',
    group: HandlerGroup.executions,
    role: admin,
    summary:
      'Retry a Failed or Cancelled execution from a stage (earlier stages carried over; obeys the overlap policy; idempotent with a key)',
    params: IdParams,
    body: RetryExecutionInput,
    ...QUEUES_A_RUN,
  },
  {
    operationId: 'claimTasks',
    method: 'POST',
    path: '/worker/tasks/claim',
    group: HandlerGroup.claims,
    role: worker,
    forbidden: 'the API key may not serve one of the pools named (its `pools`)',
    summary: 'Claim queued tasks of the given pools (long poll up to waitSeconds)',
    body: ClaimInput,
    status: 200,
    response: ClaimResult,
  },
  {
    operationId: 'heartbeatTask',
    method: 'POST',
    path: '/worker/tasks/{taskId}/heartbeat',
    group: HandlerGroup.worker,
    role: worker,
    forbidden: CLAIMANT_ONLY,
    summary: 'Report a claimed task alive; the answer says whether to stop it',
    params: TaskParams,
    body: HeartbeatInput,
    status: 200,
    response: HeartbeatResult,
  },
  {
    operationId: 'completeTask',
    method: 'POST',
    path: '/worker/tasks/{taskId}/complete',
    group: HandlerGroup.worker,
    role: worker,
    forbidden: CLAIMANT_ONLY,
    summary: 'Report the outcome of a claimed task (idempotent)',
    params: TaskParams,
    body: CompleteInput,
    status: 200,
    response: CompleteResult,
  },
  {
    operationId: 'listWorkers',
    method: 'GET',
    path: '/workers',
    group: HandlerGroup.worker,
    role: admin,
    summary:
      'Workers heard from within the last day: pools, Online or Offline, last seen, the tasks they hold (not paginated)',
    status: 200,
    response: WorkerList,
  },
  {
    operationId: 'createApiKey',
    method: 'POST',
    path: '/api-keys',
    group: HandlerGroup.apiKeys,
    role: admin,
    summary: 'Create an API key (the key is shown once, in this response)',
    body: CreateApiKeyInput,
    status: 201,
    response: CreatedApiKey,
  },
  {
    operationId: 'listApiKeys',
    method: 'GET',
    path: '/api-keys',
    group: HandlerGroup.apiKeys,
    role: admin,
    summary: 'List API keys (never their secrets)',
    query: ListApiKeysQuery,
    status: 200,
    response: PagedApiKeys,
  },
  {
    operationId: 'deleteApiKey',
    method: 'DELETE',
    path: '/api-keys/{id}',
    group: HandlerGroup.apiKeys,
    role: admin,
    summary: 'Revoke an API key, at once',
    params: IdParams,
    status: 204,
  },
  {
    operationId: 'health',
    method: 'GET',
    path: '/health',
    group: HandlerGroup.meta,
    summary: 'Liveness',
    status: 200,
    response: z.object({ status: z.literal('ok') }).meta({ id: 'Health' }),
  },
  {
    operationId: 'openApi',
    method: 'GET',
    path: '/openapi.json',
    group: HandlerGroup.meta,
    summary: 'This API as an OpenAPI 3.1 document',
    status: 200,
  },
] as const satisfies readonly RouteDefinition[];

export type Route = (typeof ROUTES)[number];
export type OperationId = Route['operationId'];

export const findRoute = (method: string, path: string): Route | undefined =>
  ROUTES.find((route) => route.method === method && route.path === path);
