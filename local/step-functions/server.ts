import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody } from '../http.js';
import { isObject, type Json } from './json.js';

/**
 * The Step Functions JSON 1.0 protocol over HTTP: `POST /` with `X-Amz-Target:
 * AWSStepFunctions.<Operation>` and a JSON object body; errors as AWS shapes them
 * (`{ __type: "<namespace>#<type>", message }`), which the SDK maps to its exception classes.
 */

/** A Step Functions API error; `type` is the shape name the SDK maps to its exception class. */
export class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly namespace = 'com.amazonaws.sfn',
  ) {
    super(message);
    this.name = type;
  }
}

/** The operations served, by name (`StartExecution`, ...): the request body in, the answer out. */
export type Operations = Record<string, (body: Json) => Json>;

async function readJsonObject(request: IncomingMessage): Promise<Json> {
  const text = (await readBody(request)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) return body;
  } catch {
    // answered below
  }
  throw new ApiError('SerializationException', 'The request body is not a JSON object.');
}

/** A server (not yet listening) answering the operations in the JSON 1.0 protocol. */
export function createJsonProtocolServer(operations: Operations): Server {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: Json) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': randomUUID(),
      });
      response.end(JSON.stringify(body));
    };
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.')
        ? operations[target.slice('AWSStepFunctions.'.length)]
        : undefined;
      if (request.method !== 'POST' || !operation) {
        throw new ApiError(
          'UnknownOperationException',
          `Unknown operation ${target || '(no X-Amz-Target)'}`,
          'com.amazon.coral.service',
        );
      }
      send(200, operation(await readJsonObject(request)));
    } catch (error) {
      if (error instanceof ApiError) {
        send(400, { __type: `${error.namespace}#${error.type}`, message: error.message });
      } else {
        send(500, {
          __type: 'com.amazon.coral.service#InternalFailure',
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  return createServer((request, response) => void handle(request, response));
}
