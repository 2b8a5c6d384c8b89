import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { closeServer, listenOnLoopback, readBody } from './http.js';

/**
 * EventBridge's PutEvents, locally: the change feed publishes with the real
 * `@aws-sdk/client-eventbridge` (through `AWS_ENDPOINT_URL_EVENTBRIDGE`) and the events are kept
 * here, in order, for whoever wants to see them (the e2e tests; `npm start` logs them at debug).
 * Entries are checked as EventBridge checks them: Source, DetailType and a JSON object Detail.
 */

export interface PublishedEvent {
  id: string;
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  eventBusName: string;
  time: string;
}

export interface LocalEventBridge {
  readonly endpoint: string;
  /** Every event accepted since start, oldest first (the newest 10,000). */
  events(): readonly PublishedEvent[];
  stop(): Promise<void>;
}

const KEEP = 10_000;
/** PutEvents refuses an entry over 256 KB. */
const MAX_ENTRY_BYTES = 256 * 1024;

type Entry = { Source?: unknown; DetailType?: unknown; Detail?: unknown; EventBusName?: unknown };

function accept(entry: Entry): PublishedEvent | { ErrorCode: string; ErrorMessage: string } {
  if (typeof entry.Source !== 'string' || typeof entry.DetailType !== 'string') {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source and DetailType are required.' };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(String(entry.Detail));
  } catch {
    detail = undefined;
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not a JSON object.' };
  }
  if (Buffer.byteLength(JSON.stringify(entry)) > MAX_ENTRY_BYTES) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Entry is larger than 256 KB.' };
  }
  return {
    id: randomUUID(),
    source: entry.Source,
    detailType: entry.DetailType,
    detail: detail as Record<string, unknown>,
    eventBusName: typeof entry.EventBusName === 'string' ? entry.EventBusName : 'default',
    time: new Date().toISOString(),
  };
}

async function readJson(request: IncomingMessage): Promise<{ Entries?: Entry[] }> {
  return JSON.parse((await readBody(request)).toString('utf8') || '{}');
}

export async function startLocalEventBridge(): Promise<LocalEventBridge> {
  const published: PublishedEvent[] = [];
  const server = createServer(async (request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID(),
      });
      response.end(JSON.stringify(body));
    };
    if (request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      send(400, { __type: 'UnknownOperationException', message: 'Only PutEvents is served locally.' });
      return;
    }
    try {
      const { Entries = [] } = await readJson(request);
      if (Entries.length < 1 || Entries.length > 10) {
        send(400, { __type: 'ValidationException', message: 'PutEvents takes 1 to 10 entries.' });
        return;
      }
      const results = Entries.map(accept);
      const entries = results.map((result) => ('id' in result ? { EventId: result.id } : result));
      for (const result of results) if ('id' in result) published.push(result);
      published.splice(0, Math.max(0, published.length - KEEP));
      send(200, { FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length, Entries: entries });
    } catch (error) {
      send(400, { __type: 'SerializationException', message: (error as Error).message });
    }
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events: () => published,
    stop: () => closeServer(server),
  };
}
