import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import {
  type GatewayResponseDefinition,
  type GatewayResponseType,
  gatewayBodyTemplate,
  gatewayResponse,
  gatewayStatus,
} from '../core/api/gateway-responses.js';
import { API_BASE_PATH, type HandlerGroup, ROUTES, type Route } from '../core/api/routes.js';
import type { ConsoleSite } from './console-site.js';
import { readBody } from './http.js';

/**
 * A local stand-in for API Gateway (REST API, Lambda proxy integration): it matches the same route
 * table CDK deploys, runs the REQUEST authorizer as API Gateway would (no caching), builds v1 proxy
 * events, invokes the real handlers in-process and answers with the same gateway responses.
 */

type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

export interface LocalApiOptions {
  handlers: Record<HandlerGroup, LambdaHandler<APIGatewayProxyEvent, APIGatewayProxyResult>>;
  authorizer: LambdaHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>;
  stage?: string;
  /** Serves every path outside {@link API_BASE_PATH} (the operator console); absent: API Gateway's 403 there. */
  site?: ConsoleSite;
}

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const ACCOUNT = '000000000000';
const API_ID = 'local';

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
  /** Static segments win over `{param}` ones, as in API Gateway (`/active` before `/{id}`). */
  parameterCount: number;
}

const COMPILED: CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${API_BASE_PATH}${source}$`), names, parameterCount: names.length };
}).sort((a, b) => a.parameterCount - b.parameterCount);

/** The route and its decoded path parameters; 'bad-escape' for a path that is not valid percent-encoding. */
function match(method: string, path: string) {
  for (const compiled of COMPILED) {
    if (compiled.route.method !== method) continue;
    const found = compiled.pattern.exec(path);
    if (!found) continue;
    try {
      const pathParameters = Object.fromEntries(
        compiled.names.map((name, i) => [name, decodeURIComponent(found[i + 1] ?? '')]),
      );
      return { route: compiled.route, pathParameters };
    } catch {
      return 'bad-escape';
    }
  }
  return undefined;
}

/** `$context.requestTime`'s format: `29/Nov/2026:02:03:04 +0000`. */
function clfTime(date: Date): string {
  const month = date.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${month}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

function gatewayAnswer(type: GatewayResponseType, requestTime: Date) {
  const definition: GatewayResponseDefinition = gatewayResponse(type);
  const body = gatewayBodyTemplate(definition).replace('$context.requestTime', clfTime(requestTime));
  return {
    status: gatewayStatus(definition),
    headers: { 'Content-Type': 'application/json', ...definition.headers },
    body,
  };
}

function sendGatewayResponse(res: ServerResponse, type: GatewayResponseType, requestTime: Date): void {
  const { status, headers, body } = gatewayAnswer(type, requestTime);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * The 413 for a body over the limit, sent at once. The connection closes only once the client has
 * finished sending (the rest is read and dropped): closing a socket with unread data resets it, and
 * the client would lose the answer.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, requestTime: Date): void {
  const { status, headers, body } = gatewayAnswer('REQUEST_TOO_LARGE', requestTime);
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.write(body);
  req.resume();
  if (req.complete) res.end();
  else req.once('end', () => res.end());
}

/** Node's HTTP parser refused the request (malformed, headers over its limit): the error body, then close. */
function refuseUnparsable(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const type = error.code === 'HPE_HEADER_OVERFLOW' ? 'REQUEST_TOO_LARGE' : 'DEFAULT_4XX';
  const { status, headers, body } = gatewayAnswer(type, new Date());
  const head = Object.entries({ ...headers, 'Content-Length': Buffer.byteLength(body), Connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
}

/**
 * The function an in-process invocation runs as, for as long as it runs (its AWS SDK calls
 * included): each function has its own IAM role in AWS, and the e2e tests check every call a
 * function makes against its grants (test/helpers/sdk-calls.ts). Nothing in the service reads it.
 */
export const invokedFunction = new AsyncLocalStorage<string>();

/** Runs a handler in-process as Lambda would invoke `functionName`. */
export function invoke<E, R>(
  functionName: string,
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
  requestId?: string,
): Promise<R> {
  return invokedFunction.run(functionName, () => handler(event, lambdaContext(functionName, requestId)));
}

/** A Lambda context for in-process invocations. */
function lambdaContext(functionName: string, requestId: string = randomUUID()): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * API Gateway's `multiValue*` and single-value maps. The names are the client's, so they are
 * gathered in a Map (on a plain object `constructor` finds Object.prototype's) and handed over as
 * own properties, as the JSON event a Lambda function receives has them.
 */
function multiValue(entries: Iterable<[string, string]>) {
  const multi = new Map<string, string[]>();
  for (const [key, value] of entries) multi.set(key, [...(multi.get(key) ?? []), value]);
  return {
    multi: Object.fromEntries(multi),
    single: Object.fromEntries(
      [...multi].map(([key, values]): [string, string] => [key, values.at(-1) ?? '']),
    ),
  };
}

export function createLocalApi(options: LocalApiOptions): Server {
  const stage = options.stage ?? 'prod';

  const server = createServer(async (req, res) => {
    const requestTime = new Date();
    const requestId = randomUUID();
    try {
      const url = URL.parse(req.url ?? '/', 'http://localhost');
      if (!url) return sendGatewayResponse(res, 'DEFAULT_4XX', requestTime);
      const method = req.method ?? 'GET';
      const inApi = url.pathname === API_BASE_PATH || url.pathname.startsWith(`${API_BASE_PATH}/`);
      if (options.site && !inApi) return await options.site(req, res, url.pathname);
      const found = match(method, url.pathname);
      if (!found) return sendGatewayResponse(res, 'MISSING_AUTHENTICATION_TOKEN', requestTime);
      if (found === 'bad-escape') return sendGatewayResponse(res, 'DEFAULT_4XX', requestTime);
      // Nothing past the limit is buffered; the stream is left open for refuseTooLarge to drain.
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (raw === 'too-large') return refuseTooLarge(req, res, requestTime);

      const headers = multiValue(
        Object.entries(req.headersDistinct).flatMap(([k, vs]) =>
          (vs ?? []).map((v): [string, string] => [k, v]),
        ),
      );
      const query = multiValue(url.searchParams.entries());
      const hasQuery = url.searchParams.size > 0;
      const resource = `${API_BASE_PATH}${found.route.path}`;
      const { route, pathParameters } = found;
      const identity = {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? null,
      };

      let authorizer: Record<string, unknown> | null = null;
      if ('role' in route) {
        const event: APIGatewayRequestAuthorizerEvent = {
          type: 'REQUEST',
          methodArn: `arn:aws:execute-api:local:${ACCOUNT}:${API_ID}/${stage}/${method}${resource}`,
          resource,
          path: url.pathname,
          httpMethod: method,
          headers: headers.single,
          multiValueHeaders: headers.multi,
          pathParameters,
          queryStringParameters: hasQuery ? query.single : null,
          multiValueQueryStringParameters: hasQuery ? query.multi : null,
          stageVariables: null,
          requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
        };
        let result: APIGatewayAuthorizerResult;
        try {
          result = await invoke('authorizer', options.authorizer, event);
        } catch (error) {
          const unauthorized = error instanceof Error && error.message === 'Unauthorized';
          return sendGatewayResponse(res, unauthorized ? 'UNAUTHORIZED' : 'AUTHORIZER_FAILURE', requestTime);
        }
        const allowed = result.policyDocument.Statement.some((s) => 'Effect' in s && s.Effect === 'Allow');
        if (!allowed) return sendGatewayResponse(res, 'ACCESS_DENIED', requestTime);
        authorizer = { ...result.context, principalId: result.principalId, integrationLatency: 0 };
      }

      const event: APIGatewayProxyEvent = {
        resource,
        path: url.pathname,
        httpMethod: method,
        headers: headers.single,
        multiValueHeaders: headers.multi,
        queryStringParameters: hasQuery ? query.single : null,
        multiValueQueryStringParameters: hasQuery ? query.multi : null,
        pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
        stageVariables: null,
        body: raw.length > 0 ? raw.toString('utf8') : null,
        isBase64Encoded: false,
        requestContext: {
          accountId: ACCOUNT,
          apiId: API_ID,
          authorizer,
          httpMethod: method,
          identity: identity as APIGatewayProxyEvent['requestContext']['identity'],
          path: `/${stage}${url.pathname}`,
          protocol: `HTTP/${req.httpVersion}`,
          requestId,
          requestTimeEpoch: requestTime.getTime(),
          resourceId: route.operationId,
          resourcePath: resource,
          stage,
        },
      };
      let result: APIGatewayProxyResult;
      try {
        result = await invoke(route.group, options.handlers[route.group], event, requestId);
      } catch {
        // A handler that throws is a failed integration: API Gateway answers 5xx without details.
        return sendGatewayResponse(res, 'DEFAULT_5XX', requestTime);
      }
      const responseHeaders: Record<string, string | string[]> = {
        ...(result.headers as Record<string, string>),
      };
      for (const [key, values] of Object.entries(result.multiValueHeaders ?? {})) {
        responseHeaders[key] = values.map(String);
      }
      responseHeaders['x-amzn-RequestId'] = requestId;
      res.writeHead(result.statusCode, responseHeaders);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    } catch {
      if (!res.headersSent) sendGatewayResponse(res, 'DEFAULT_5XX', requestTime);
      else res.destroy();
    }
  });
  server.on('clientError', refuseUnparsable);
  return server;
}
