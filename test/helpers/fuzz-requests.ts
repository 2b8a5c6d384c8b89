import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import fc from 'fast-check';
import { API_BASE_PATH, ROUTES } from '../../core/api/routes.js';

/**
 * Generators of hostile HTTP requests for the API's edges, sent byte for byte with node:http (fetch
 * would normalise `..`, refuse duplicate or odd headers and re-encode the path).
 */

export interface RawRequest {
  method: string;
  /** The request target as sent, below the host: `/api/v1/...?...`. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** The keys and ids the generators may use; the admin key's own id is never among them (no self-revoke). */
export interface FuzzContext {
  adminKey: string;
  workerKey: string;
  scheduleId: string;
  /** Revoked, or never issued: refused whatever the route. */
  badKey: string;
}

/** Sends a request exactly as given; one keep-alive connection at a time, as a client loop would. */
export function rawSender(apiUrl: string) {
  const base = new URL(apiUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (r: RawRequest): Promise<RawResponse> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: base.port, method: r.method, path: r.path, headers: r.headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  return { send, close: () => agent.destroy() };
}

/** Header values travel as bytes: UTF-8 text is sent as its bytes (node:http takes them as latin1). */
const asHeaderBytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** Percent-encodes the UTF-8 bytes of any string, lone surrogates too (encodeURIComponent throws on those). */
const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const huge = (n: number) => fc.constantFrom('a', 'é', '😀', '%', '\\').map((c) => c.repeat(n));

/** Strings a careless parser trips on, beside plain random ones. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    ...PROTOTYPE_NAMES,
    '',
    ' ',
    '..',
    '.',
    '/',
    '\u0000',
    '\ud800',
    '\udfff',
    'null',
    'NaN',
    '-1',
  ),
  fc.constantFrom(100, 5_000, 70_000).chain(huge),
);

/** A path segment as it appears on the wire: ids, junk, traversal, encoded slashes, bad escapes. */
const pathSegment = (ctx: FuzzContext) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constant(ctx.scheduleId) },
    { weight: 3, arbitrary: nastyString.filter((s) => s.length < 6_000).map(encode) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '..',
        '%2e%2e',
        '%2F',
        '..%2F..%2F',
        '%00',
        '%',
        '%E0%A4%A',
        '%C0%AF',
        '%FF',
        '%uD800',
        ';',
        'é',
        '__proto__',
        'constructor',
        '00000000-0000-4000-8000-000000000000%20',
        'a'.repeat(8_000),
      ),
    },
  );

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

const pathOf = (ctx: FuzzContext) =>
  fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .record({
          route: fc.constantFrom(...ROUTES),
          segments: fc.array(pathSegment(ctx), { minLength: 1, maxLength: 1 }),
          suffix: fc.oneof(
            { weight: 6, arbitrary: fc.constant('') },
            { weight: 1, arbitrary: fc.constantFrom('/', '/..', '//', '/%2e', '/extra') },
          ),
        })
        .map(({ route, segments, suffix }) => ({
          route,
          path: `${API_BASE_PATH}${route.path.replace(/\{\w+\}/g, () => segments[0] ?? '')}${suffix}`,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '/',
          '/api',
          '/api/v1',
          '/api/v2/schedules',
          `${API_BASE_PATH}/../api/v1/health`,
          '//api/v1',
        )
        .map((path) => ({ route: undefined, path })),
    },
  );

const QUERY_NAMES = [
  'page',
  'pageSize',
  'search',
  'sortBy',
  'sortDescending',
  'scheduleId',
  'status',
  'initiatedByType',
  'from',
  'to',
  'nextToken',
  'count',
  ...PROTOTYPE_NAMES,
];

/**
 * `nextToken`s shaped as the service's (`<base64url payload>.<base64url HMAC>`), with positions
 * DynamoDB would refuse as keys (empty, 2 KB, not a string) and signatures from a key of their own.
 */
const forgedToken = fc
  .record({
    q: fc.string({ maxLength: 16 }),
    p: fc.oneof(fc.integer(), fc.constant(2)),
    k: fc.oneof(
      fc.constantFrom({ m: '' }, { m: 'k'.repeat(2048) }, { m: 7 }, {}, { id: 'x', allPk: 'EXECUTION' }),
      fc.dictionary(
        fc.string({ maxLength: 8 }),
        nastyString.filter((s) => s.length <= 1_000),
      ),
    ),
  })
  .chain((payload) =>
    fc.string({ maxLength: 32 }).map((key) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
    }),
  );

const queryValue = fc.oneof(
  fc.constantFrom('1', '0', '-1', '1.5', '100', '101', '1e3', '999999999999', 'true', 'Queued,Failed', ''),
  nastyString.filter((s) => s.length <= 3_000),
  forgedToken,
);

/** `?a=1&a=2&__proto__=x`: known and unknown names, repeated, raw bad escapes now and then. */
const queryOf = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_NAMES), fc.string({ maxLength: 12 })),
      queryValue,
      fc.constantFrom('encoded', 'encoded', 'encoded', 'raw-escape', 'no-value'),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs.length === 0
      ? ''
      : `?${pairs
          .map(([name, value, form]) =>
            form === 'no-value'
              ? encode(name)
              : form === 'raw-escape'
                ? `${encode(name)}=${encode(value)}%E0%A`
                : `${encode(name)}=${encode(value)}`,
          )
          .join('&')}`,
  );

/** Credentials: the real keys, none, bad ones, odd encodings and duplicated headers. */
const credentialOf = (ctx: FuzzContext): fc.Arbitrary<Record<string, string | string[]>> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant({ 'X-Api-Key': ctx.adminKey }) },
    { weight: 3, arbitrary: fc.constant({ 'X-Api-Key': ctx.workerKey }) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 3,
      arbitrary: fc.constantFrom<Record<string, string | string[]>>(
        { 'X-Api-Key': ctx.badKey },
        { 'X-Api-Key': '' },
        { 'X-Api-Key': ' ' },
        { 'X-Api-Key': `sek_${'x'.repeat(10_240)}` },
        { 'X-Api-Key': asHeaderBytes('sek_clé-😀') },
        { 'X-Api-Key': [ctx.adminKey, ctx.adminKey] },
        { 'X-Api-Key': [ctx.adminKey, ctx.workerKey] },
        { 'X-Api-Key': [ctx.workerKey, ''] },
        { 'x-api-key': ctx.adminKey, 'X-API-KEY': ctx.workerKey },
        { 'X-Api-Key': ctx.adminKey, Authorization: 'Bearer abc.def.ghi' },
        { Authorization: 'Bearer' },
        { Authorization: 'Bearer ' },
        { Authorization: `Bearer ${'e'.repeat(10_000)}` },
        { Authorization: asHeaderBytes('Bearer é.😀.x') },
        { Authorization: ['Bearer a.b.c', 'Bearer d.e.f'] },
        { Authorization: 'Basic dXNlcjpwYXNz' },
        { Authorization: `${ctx.adminKey}` },
      ),
    },
  );

const HEADER_VALUES = fc.oneof(
  fc.constantFrom(
    '',
    'application/json',
    'application/json; charset=latin1',
    'text/plain',
    'multipart/form-data; boundary=x',
    '*/*',
    asHeaderBytes('clé 😀'),
    'x'.repeat(4_000),
  ),
  fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
);

/** Idempotency keys: valid ones (which replay), and ones too long, empty or not printable ASCII. */
const IDEMPOTENCY_KEYS = fc.oneof(
  fc.string({ minLength: 1, maxLength: 255 }).map((s) => s.replace(/[^\x21-\x7e]/g, 'k')),
  fc.constantFrom('fuzz-key', 'x'.repeat(256), '\t', 'a\tb', asHeaderBytes('clé')),
  HEADER_VALUES,
);

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'Content-Type',
    'Accept',
    'Accept-Encoding',
    'X-Forwarded-For',
    'X-Amzn-Trace-Id',
    'Origin',
    'Cookie',
    'X-Custom',
    '__proto__',
    'constructor',
  ),
  fc.oneof(
    HEADER_VALUES,
    fc.tuple(HEADER_VALUES, HEADER_VALUES).map(([a, b]) => [a, b]),
  ),
  { maxKeys: 3 },
);

/** An Idempotency-Key now and then, in either spelling, once or twice. */
const idempotencyHeader = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        name: fc.constantFrom('Idempotency-Key', 'idempotency-key'),
        value: fc.oneof(
          IDEMPOTENCY_KEYS,
          fc.tuple(IDEMPOTENCY_KEYS, IDEMPOTENCY_KEYS).map(([a, b]) => [a, b]),
        ),
      })
      .map(({ name, value }): Record<string, string | string[]> => ({ [name]: value })),
  },
);

/** Valid bodies, so that mutations of them get past the first checks and reach deeper code. */
const samples = (): Record<string, unknown> => ({
  createSchedule: {
    name: 'fuzz',
    triggerType: 'Cron',
    cronExpression: '0 3 * * 1-5',
    timeZone: 'Europe/London',
    steps: [
      { name: 'Import', stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Delta Import' },
      {
        name: 'Script',
        stepType: 'PowerShell',
        scriptPath: '/opt/a.ps1',
        executionMode: 'ParallelWithPrevious',
      },
    ],
  },
  claimTasks: { workerId: 'fuzz-worker', pools: ['fuzz-pool'], maxTasks: 1, waitSeconds: 0 },
  heartbeatTask: { message: 'working' },
  completeTask: { activityStatus: 'Complete', output: 'done' },
  createApiKey: { name: 'fuzz-key', roles: ['Worker'] },
});

/** Values of the wrong type, or of the right type at the wrong size. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 21, 1e308, -0, 2 ** 53, '', [], {}, [null], { a: 1 }),
  nastyString,
  fc.jsonValue({ maxDepth: 3 }),
);

function defineOwn(target: object, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every object and array inside `value`, the root first. */
function containers(value: unknown, found: object[] = []): object[] {
  if (value !== null && typeof value === 'object') {
    found.push(value);
    for (const child of Object.values(value)) containers(child, found);
  }
  return found;
}

/** A sample with one field replaced, removed, or joined by a prototype-named or unknown key. */
const mutated = (operationId: string) =>
  fc
    .record({
      at: fc.nat(),
      action: fc.constantFrom('replace', 'delete', 'prototype-key', 'unknown-key'),
      key: fc.constantFrom(...PROTOTYPE_NAMES, 'unknownField', ''),
      value: wrongValue,
    })
    .map(({ at, action, key, value }) => {
      const body = structuredClone(samples()[operationId] ?? {});
      const nodes = containers(body);
      const node = nodes[at % nodes.length] as Record<string, unknown>;
      const keys = Object.keys(node);
      const existing = keys[at % Math.max(1, keys.length)];
      if (action === 'replace' && existing !== undefined) node[existing] = value;
      else if (action === 'delete' && existing !== undefined) delete node[existing];
      else defineOwn(node, action === 'prototype-key' ? key : 'unknownField', value);
      return Buffer.from(JSON.stringify(body) ?? 'null');
    });

const deepNesting = fc
  .record({ depth: fc.constantFrom(50, 1_000, 100_000), open: fc.constantFrom('[', '{"a":') })
  .map(({ depth, open }) => Buffer.from(open.repeat(depth) + (open === '[' ? ']' : '1}').repeat(depth)));

const rawBodies = fc.constantFrom(
  '{',
  '{"name":',
  'null',
  '[]',
  '"text"',
  '42',
  'true',
  '{"__proto__":{"isAdmin":true},"name":"x"}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"name":"\\ud800","triggerType":"Manual"}',
  '{"name":"\\u0000"}',
  '{"a":1,"a":2}',
  '\ufeff{}',
  '{}garbage',
  ' ',
);

/** A body for the route: none, valid, mutated, random JSON, deep, raw text, invalid UTF-8 or huge. */
const bodyOf = (operationId: string | undefined): fc.Arbitrary<Buffer | undefined> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.constant(Buffer.from(JSON.stringify(samples()[operationId ?? ''] ?? {}))),
    },
    { weight: 6, arbitrary: mutated(operationId ?? '') },
    {
      weight: 2,
      arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    },
    { weight: 1, arbitrary: deepNesting },
    { weight: 2, arbitrary: rawBodies.map((text) => Buffer.from(text)) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    },
    { weight: 1, arbitrary: fc.constant(Buffer.from([0x7b, 0x22, 0x6e, 0xff, 0xfe, 0x22, 0x7d])) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(300_000, 2_000_000)
        .map((n) => Buffer.from(JSON.stringify({ name: 'x'.repeat(n), triggerType: 'Manual' }))),
    },
  );

/** One hostile request against a route of the table (or a path beside it), with any credential. */
export const fuzzRequest = (ctx: FuzzContext): fc.Arbitrary<RawRequest> =>
  pathOf(ctx).chain(({ route, path }) =>
    fc
      .record({
        method: fc.oneof(
          { weight: 9, arbitrary: fc.constant(route?.method ?? 'GET') },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        query: queryOf,
        credential: credentialOf(ctx),
        extra: extraHeaders,
        idempotency: idempotencyHeader,
        body: bodyOf(route?.operationId),
      })
      .map(({ method, query, credential, extra, idempotency, body }) => {
        const headers: Record<string, string | string[]> = { ...extra, ...idempotency, ...credential };
        if (body) {
          if (headers['Content-Type'] === undefined) headers['Content-Type'] = 'application/json';
          // node:http frames a GET or DELETE body only when told its length.
          headers['Content-Length'] = String(body.length);
        }
        return { method, path: `${path}${query}`, headers, ...(body ? { body } : {}) };
      }),
  );

/** `{ 400: 1234, 404: 56 }` in status order, for the run summary. */
export const histogram = (statuses: Map<number, number>) =>
  Object.fromEntries([...statuses.entries()].sort(([a], [b]) => a - b));
