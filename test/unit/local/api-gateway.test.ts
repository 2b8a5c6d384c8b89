import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HandlerGroup } from '../../../core/api/routes.js';
import { ErrorBodySchema } from '../../../core/schemas/common.js';
import { createLocalApi } from '../../../local/api-gateway.js';
import { type RawResponse, rawSender } from '../../helpers/fuzz-requests.js';

/**
 * The local API Gateway's own answers at the edges, with stand-in handlers on a loopback port: a
 * body over 10 MB, bytes that are not HTTP, names that shadow Object.prototype's members.
 */

const TEN_MB = 10 * 1024 * 1024;
const KEY = 'sek_good';

let events: APIGatewayProxyEvent[];
const echo = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  events.push(event);
  return { statusCode: 200, body: JSON.stringify({ bodyLength: event.body?.length ?? 0 }) };
};
const handlers = Object.fromEntries(
  (['schedules', 'executions', 'api-keys', 'meta', 'claims', 'worker'] as const).map((group) => [
    group,
    echo,
  ]),
) as Record<HandlerGroup, typeof echo>;

const server = createLocalApi({
  handlers,
  authorizer: async (event) => {
    if (event.headers?.['x-api-key'] !== KEY) throw new Error('Unauthorized');
    return {
      principalId: 'key-1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }],
      },
      context: { principalType: 'ApiKey', principalName: 'test', roles: 'Administrator' },
    };
  },
});
let port: number;
let sender: ReturnType<typeof rawSender>;

beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
  sender = rawSender(`http://127.0.0.1:${port}/api/v1`);
});

afterAll(async () => {
  sender.close();
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

beforeEach(() => {
  events = [];
});

const post = (body: Buffer) =>
  sender.send({
    method: 'POST',
    path: '/api/v1/schedules',
    headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
    body,
  });

function expectErrorBody(response: RawResponse, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = ErrorBodySchema.parse(JSON.parse(response.text));
  expect(body.code).toBe(code);
}

describe('local API Gateway payload limit', () => {
  it('hands a body of exactly 10 MB to the handler', async () => {
    const response = await post(Buffer.alloc(TEN_MB, 'a'));

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({ bodyLength: TEN_MB });
  });

  it.each([
    { what: '10 MB + 1 byte', size: TEN_MB + 1 },
    { what: '12 MB', size: 12 * 1024 * 1024 },
    { what: '64 MB', size: 64 * 1024 * 1024 },
  ])('answers 413 with the error body to $what, without calling the handler', async ({ size }) => {
    const response = await post(Buffer.alloc(size, 'a'));

    expectErrorBody(response, 413, 'BAD_REQUEST');
    expect(events).toHaveLength(0);
  });

  it('lets fetch read the 413 for a 12 MB body (no connection reset mid-upload)', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/schedules`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' },
      body: Buffer.alloc(12 * 1024 * 1024, 'a'),
    });

    expect(response.status).toBe(413);
    expect(ErrorBodySchema.parse(await response.json()).code).toBe('BAD_REQUEST');
  });
});

describe('local API Gateway with hostile names and bytes', () => {
  it('passes query parameters and headers named constructor and __proto__ as own keys', async () => {
    const response = await sender.send({
      method: 'GET',
      path: '/api/v1/health?constructor=a&constructor=b&__proto__=c',
      headers: { constructor: 'h', __proto__: 'p' } as Record<string, string>,
    });

    expect(response.status).toBe(200);
    const [event] = events;
    expect(Object.hasOwn(event?.multiValueQueryStringParameters ?? {}, 'constructor')).toBe(true);
    expect(event?.multiValueQueryStringParameters?.constructor).toEqual(['a', 'b']);
    expect(event?.queryStringParameters?.constructor).toBe('b');
    expect(Object.hasOwn(event?.queryStringParameters ?? {}, '__proto__')).toBe(true);
    expect(event?.headers.constructor).toBe('h');
  });

  it('answers 400 with the error body to a path parameter that is not valid percent-encoding', async () => {
    const response = await sender.send({
      method: 'GET',
      path: '/api/v1/schedules/%E0%A4%A',
      headers: { 'X-Api-Key': KEY },
    });

    expectErrorBody(response, 400, 'BAD_REQUEST');
    expect(events).toHaveLength(0);
  });

  it('answers 413 with the error body to headers over the HTTP parser limit', async () => {
    const response = await sender.send({
      method: 'GET',
      path: '/api/v1/health',
      headers: { 'X-Big': 'x'.repeat(20_000) },
    });

    expectErrorBody(response, 413, 'BAD_REQUEST');
  });

  it('answers 400 with the error body to bytes that are not an HTTP request', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });

    const [head = '', body = ''] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(ErrorBodySchema.parse(JSON.parse(body)).code).toBe('BAD_REQUEST');
  });
});
