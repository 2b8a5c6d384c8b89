import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { API_BASE_PATH, type HandlerGroup, ROUTES, type Route } from '../core/api/routes.js';
import {
  ApiError,
  BadRequestError,
  ErrorCode,
  ForbiddenError,
  toErrorBody,
  UnauthorisedError,
} from '../core/errors.js';
import type { Principal } from '../core/model.js';
import { parseOrThrow } from '../core/schemas/validation.js';
import { fromAuthorizerContext } from './auth-context.js';
import { logger } from './logger.js';
import { withPowertools } from './middleware.js';

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a route implementation receives: validated input and the authenticated caller. */
export interface RouteInput<R extends Route> {
  params: Output<R extends { params: infer P } ? P : undefined>;
  query: Output<R extends { query: infer Q } ? Q : undefined>;
  body: Output<R extends { body: infer B } ? B : undefined>;
  headers: Output<R extends { headers: infer H } ? H : undefined>;
  principal: R extends { role: string } ? Principal : undefined;
}

/** What it returns; the status code is the route's. */
export interface Reply {
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandlers<G extends HandlerGroup> = {
  [R in Extract<Route, { group: G }> as R['operationId']]: (input: RouteInput<R>) => Promise<Reply>;
};

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

/** AWS SDK errors that mean "DynamoDB is shedding load": the caller should retry shortly. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
]);

function errorResponse(error: unknown): APIGatewayProxyResult {
  const throttled = error instanceof Error && THROTTLING.has(error.name);
  const mapped = throttled
    ? new ApiError(ErrorCode.SERVICE_UNAVAILABLE, 'The service is busy; retry shortly.', { cause: error })
    : error;
  const { statusCode, body } = toErrorBody(mapped);
  if (statusCode >= 500) logger.error('Request failed', { error });
  else logger.info('Request refused', { statusCode, code: body.code, message: body.message });
  return {
    statusCode,
    headers: { ...JSON_HEADERS, ...(throttled ? { 'Retry-After': '1' } : {}) },
    body: JSON.stringify(body),
  };
}

function parseBody(event: APIGatewayProxyEvent): unknown {
  if (event.body == null || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BadRequestError('The request body is not valid JSON.', { cause });
  }
}

/** Each name's single value; a name given more than once is ambiguous, so a VALIDATION_ERROR. */
function once(values: Record<string, readonly string[]>, what: string): Record<string, string> {
  const repeated = Object.keys(values).filter((name) => (values[name]?.length ?? 0) > 1);
  if (repeated.length > 0) {
    throw new ApiError(ErrorCode.VALIDATION_ERROR, 'The request is not valid.', {
      validationErrors: Object.fromEntries(repeated.map((name) => [name, [`Give this ${what} once`]])),
    });
  }
  return Object.fromEntries(
    Object.entries(values).flatMap(([name, [value]]) => (value === undefined ? [] : [[name, value]])),
  );
}

function queryOf(event: APIGatewayProxyEvent): Record<string, string> {
  const multi = event.multiValueQueryStringParameters ?? {};
  return once(
    Object.fromEntries(
      Object.entries(event.queryStringParameters ?? {}).map(([name, value]) => [
        name,
        multi[name] ?? [value ?? ''],
      ]),
    ),
    'parameter',
  );
}

/**
 * The headers the route declares, under their declared names: HTTP header names are
 * case-insensitive, and API Gateway passes them as the client spelled them.
 */
function headersOf(event: APIGatewayProxyEvent, schema: z.ZodObject): Record<string, string> {
  const declared = new Map(Object.keys(schema.shape).map((name) => [name.toLowerCase(), name]));
  const values = new Map<string, string[]>();
  for (const [name, given] of Object.entries(event.multiValueHeaders ?? {})) {
    const as = declared.get(name.toLowerCase());
    if (as) values.set(as, [...(values.get(as) ?? []), ...(given ?? [])]);
  }
  return once(Object.fromEntries(values), 'header');
}

/** Validates everything the route declares and checks the caller's role, in that order of trust. */
function routeInput(route: Route, event: APIGatewayProxyEvent): RouteInput<Route> {
  let principal: Principal | undefined;
  if ('role' in route) {
    principal = fromAuthorizerContext(event.requestContext.authorizer);
    // API Gateway runs the authorizer first; a request without a principal did not come through it.
    if (!principal) throw new UnauthorisedError();
    if (!principal.roles.includes(route.role)) {
      throw new ForbiddenError(`This operation needs the ${route.role} role.`);
    }
  }
  return {
    params: 'params' in route ? parseOrThrow(route.params, event.pathParameters ?? {}, 'path') : undefined,
    query: 'query' in route ? parseOrThrow(route.query, queryOf(event), 'query') : undefined,
    body: 'body' in route ? parseOrThrow(route.body, parseBody(event), 'body') : undefined,
    headers:
      'headers' in route
        ? parseOrThrow(route.headers, headersOf(event, route.headers), 'headers')
        : undefined,
    principal,
  } as RouteInput<Route>;
}

/**
 * One Lambda handler for a group of routes: finds the route API Gateway matched, validates its
 * input, calls the implementation and shapes the reply or the error as the contract says.
 */
export function createHttpHandler<G extends HandlerGroup>(group: G, handlers: NoInfer<RouteHandlers<G>>) {
  const routes = ROUTES.filter((route) => route.group === group);
  const implementations = handlers as unknown as Record<string, (input: RouteInput<Route>) => Promise<Reply>>;
  const handle = async (event: APIGatewayProxyEvent, _context: Context): Promise<APIGatewayProxyResult> => {
    try {
      const path = event.resource.startsWith(API_BASE_PATH) ? event.resource.slice(API_BASE_PATH.length) : '';
      const route = routes.find((r) => r.method === event.httpMethod && r.path === path);
      const implementation = route && implementations[route.operationId];
      if (!route || !implementation) {
        throw new ApiError(ErrorCode.NOT_FOUND, `No route ${event.httpMethod} ${event.resource}.`);
      }
      const reply = await implementation(routeInput(route, event));
      return {
        statusCode: route.status,
        headers: { ...JSON_HEADERS, ...reply.headers },
        body: reply.body === undefined ? '' : JSON.stringify(reply.body),
      };
    } catch (error) {
      return errorResponse(error);
    }
  };
  return withPowertools(handle);
}
