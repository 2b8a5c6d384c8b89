import { spawn } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { closeServer, listenOnLoopback, readBody } from '../local/http.js';

/**
 * A counting HTTP proxy in front of DynamoDB Local. The handlers' SDK client is pointed at it (through
 * `AWS_ENDPOINT_URL_DYNAMODB`, as in production), so production code is measured untouched.
 *
 * For each forwarded request it records the operation (`X-Amz-Target`), the tables named in the body
 * and the consumed capacity. The handlers do not ask for capacity, so the proxy adds
 * `"ReturnConsumedCapacity": "TOTAL"` to the operations that accept it and sums `CapacityUnits` from
 * the answer, which DynamoDB Local computes by the service's rules (item size in 4 KB units, halved
 * for eventually consistent reads; per item for GetItem/BatchGetItem, per total size for Query).
 * The answer is relayed byte for byte, so its `x-amz-crc32` still matches; the extra field is ignored
 * by the SDK. DynamoDB Local does not check signatures, so rewriting the body is harmless there.
 *
 * Caveat: DynamoDB Local's capacity for TransactWriteItems is not AWS's (it reports 4× the sum of the
 * *distinct* item sizes per table: 1, 2 or 3 small items all report 4 WCU where AWS charges 2, 4, 6), so
 * write capacity is re-derived by replaying the writes one by one (write-units.ts).
 *
 * The proxy is the bench's meter, not the service: it runs in a child process of its own
 * (dynamo-proxy-process.ts), so its parsing and its second HTTP hop do not take CPU from the event loop
 * of the handlers it measures (its CPU is reported apart). Its records come over IPC: `take()` is
 * answered after every call whose answer the caller has already received (the child records a call
 * before it relays the answer), so a take after an API call has all of that call's requests.
 */

/** Operations that take `ReturnConsumedCapacity`. */
const WITH_CAPACITY = new Set([
  'GetItem',
  'BatchGetItem',
  'Query',
  'Scan',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface DynamoCall {
  operation: string;
  tables: string[];
  /** The index a Query or Scan read, if any. */
  index?: string;
  /** Capacity units consumed (RCU for reads, WCU for writes) as DynamoDB Local reported them; 0 when none. */
  capacity: number;
  write: boolean;
  /** HTTP status of the answer: 200 when the request succeeded. */
  status: number;
  /** The error's type when it failed (`ConditionalCheckFailedException`, `TransactionCanceledException`…). */
  error?: string;
  /** A cancelled transaction's reason codes, one per action (`None`, `ConditionalCheckFailed`, `TransactionConflict`). */
  reasons?: string[];
  /** Position in the order answers arrived since the proxy started (also orders `writeLog()`). */
  seq: number;
}

/** A write that succeeded, as the handler sent it (before the proxy added ReturnConsumedCapacity). */
export interface LoggedWrite {
  seq: number;
  operation: string;
  body: Record<string, unknown>;
}

export interface CountingProxy {
  readonly endpoint: string;
  /** The proxy's process, for its CPU time (cpu.ts). */
  readonly pid: number | undefined;
  /** Calls recorded since the last `take()`, in the order their answers arrived; resets the record. */
  take(): Promise<DynamoCall[]>;
  /**
   * Every successful write since the proxy started, in the order the answers arrived (kept only with
   * `{ logWrites: true }`): enough to replay the tables' history elsewhere (see write-units.ts).
   */
  writeLog(): Promise<readonly LoggedWrite[]>;
  stop(): Promise<void>;
}

/** The proxy server itself, in the process that runs it (dynamo-proxy-process.ts). */
export interface ProxyServer {
  readonly endpoint: string;
  take(): DynamoCall[];
  writeLog(): readonly LoggedWrite[];
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

function tablesOf(operation: string, body: Json): string[] {
  if (typeof body.TableName === 'string') return [body.TableName];
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    return Object.keys((body.RequestItems as Json | undefined) ?? {});
  }
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const names = ((body.TransactItems as Json[] | undefined) ?? []).flatMap((item) =>
      Object.values(item).map((action) => (action as Json).TableName as string),
    );
    return [...new Set(names)];
  }
  return [];
}

function capacityOf(answer: Json): number {
  const consumed = answer.ConsumedCapacity;
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum: number, entry: Json) => sum + Number(entry.CapacityUnits ?? 0), 0);
}

function errorOf(status: number, answer: Json): string | undefined {
  if (status === 200) return undefined;
  const type = typeof answer.__type === 'string' ? answer.__type : 'UnknownError';
  return type.slice(type.indexOf('#') + 1);
}

export interface ProxyOptions {
  /** Keep every successful write (for write-units.ts). */
  logWrites?: boolean;
}

/** Runs the proxy server in this process (the child's side; the bench uses {@link startCountingProxy}). */
export async function serveCountingProxy(upstream: string, options: ProxyOptions = {}): Promise<ProxyServer> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let calls: DynamoCall[] = [];
  const writes: LoggedWrite[] = [];
  let seq = 0;

  const server: Server = createServer(async (req, res) => {
    try {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      let body = await readBody(req);
      let parsed: Json = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as Json;
      } catch {
        // Not JSON: forwarded as is, counted without capacity.
      }
      if (WITH_CAPACITY.has(operation) && parsed.ReturnConsumedCapacity === undefined) {
        body = Buffer.from(JSON.stringify({ ...parsed, ReturnConsumedCapacity: 'TOTAL' }));
      }
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const upstreamReq = request({
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      });
      upstreamReq.on('response', async (upstreamRes) => {
        try {
          const answer = await readBody(upstreamRes);
          const status = upstreamRes.statusCode ?? 502;
          let answered: Json = {};
          try {
            answered = JSON.parse(answer.toString('utf8')) as Json;
          } catch {
            // Not JSON (should not happen with DynamoDB): no capacity.
          }
          const write = WRITES.has(operation);
          const error = errorOf(status, answered);
          const call: DynamoCall = {
            operation,
            tables: tablesOf(operation, parsed),
            capacity: capacityOf(answered),
            write,
            status,
            seq: seq++,
          };
          if (typeof parsed.IndexName === 'string') call.index = parsed.IndexName;
          if (error) call.error = error;
          if (Array.isArray(answered.CancellationReasons)) {
            call.reasons = (answered.CancellationReasons as Json[]).map((r) => String(r.Code ?? 'None'));
          }
          calls.push(call);
          if (options.logWrites && write && status === 200) {
            writes.push({ seq: call.seq, operation, body: parsed });
          }
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          res.end(answer);
        } catch (error) {
          res.destroy(error as Error);
        }
      });
      upstreamReq.on('error', (error) => res.destroy(error));
      upstreamReq.end(body);
    } catch (error) {
      res.destroy(error as Error);
    }
  });
  server.keepAliveTimeout = 60_000;
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    take: () => {
      const taken = calls;
      calls = [];
      return taken;
    },
    writeLog: () => writes,
    stop: async () => {
      await closeServer(server);
      agent.destroy();
    },
  };
}

/** Messages between {@link startCountingProxy} and dynamo-proxy-process.ts. */
export type ToProxy =
  | { type: 'start'; upstream: string; options: ProxyOptions }
  | { type: 'take' | 'writeLog'; id: number };
export type FromProxy =
  | { type: 'listening'; endpoint: string }
  | { type: 'take'; id: number; calls: DynamoCall[] }
  | { type: 'writeLog'; id: number; writes: LoggedWrite[] };

const ENTRY = fileURLToPath(new URL('./dynamo-proxy-process.ts', import.meta.url));

/** The counting proxy in front of `upstream`, in a child process (same Node, same tsx loader). */
export async function startCountingProxy(
  upstream: string,
  options: ProxyOptions = {},
): Promise<CountingProxy> {
  const child = spawn(process.execPath, [...process.execArgv, ENTRY], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, (message: FromProxy) => void>();
  let listening: ((endpoint: string) => void) | undefined;
  child.on('message', (message: FromProxy) => {
    if (message.type === 'listening') listening?.(message.endpoint);
    else pending.get(message.id)?.(message);
    if (message.type !== 'listening') pending.delete(message.id);
  });
  let ids = 0;
  const ask = (type: 'take' | 'writeLog') =>
    new Promise<FromProxy>((resolve, reject) => {
      if (!child.connected) return reject(new Error('the counting proxy has exited'));
      const id = ids++;
      pending.set(id, resolve);
      child.send({ type, id } satisfies ToProxy);
    });
  const endpoint = await new Promise<string>((resolve, reject) => {
    listening = resolve;
    child.once('exit', (code) => reject(new Error(`the counting proxy exited (${code})`)));
    child.send({ type: 'start', upstream, options } satisfies ToProxy);
  });
  return {
    endpoint,
    pid: child.pid,
    take: async () => {
      const answer = await ask('take');
      return answer.type === 'take' ? answer.calls : [];
    },
    writeLog: async () => {
      const answer = await ask('writeLog');
      return answer.type === 'writeLog' ? answer.writes : [];
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
