import { createHash, randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody } from './http.js';

/**
 * SQS, locally: the subset of its JSON protocol (`AmazonSQS.<Operation>`, awsJson1_0) the claims'
 * wake-up queues use — CreateQueue, SendMessage, ReceiveMessage (long poll, visibility timeout),
 * DeleteMessage, DeleteMessageBatch — so the same adapter and `@aws-sdk/client-sqs` run here and in AWS, through
 * `AWS_ENDPOINT_URL_SQS`. Standard-queue semantics as far as the service can tell: each message
 * goes to one receiver at a time, comes again when its visibility lapses, and is dropped after the
 * retention period. Kept in memory (signals are worthless after a restart).
 */

export interface LocalSqs {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The account the queue URLs name (any 12 digits: nothing checks it locally). */
const ACCOUNT = '000000000000';
const DEFAULTS = { VisibilityTimeout: '30', MessageRetentionPeriod: '345600' };

interface Message {
  id: string;
  body: string;
  sentAt: number;
  visibleAt: number;
  receipt?: string;
}

interface Waiter {
  max: number;
  visibility: number;
  answer(messages: Message[]): void;
}

interface Queue {
  attributes: Record<string, string>;
  messages: Message[];
  waiters: Waiter[];
}

class SqsError extends Error {
  constructor(
    readonly type: string,
    readonly queryError: string,
    message: string,
  ) {
    super(message);
    this.name = 'SqsError';
  }
}

const invalid = (message: string) =>
  new SqsError('InvalidParameterValue', 'InvalidParameterValue;Sender', message);

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** A whole number in [min, max], or `fallback` when absent. */
function wholeIn(value: unknown, min: number, max: number, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

/** As in SQS, an old receipt of a message still deletes it, and a deleted message is no error. */
function deleteByReceipt(queue: Queue, receipt: unknown): void {
  if (typeof receipt !== 'string' || !receipt.includes('.')) {
    throw new SqsError('ReceiptHandleIsInvalid', 'ReceiptHandleIsInvalid;Sender', 'Bad receipt handle.');
  }
  const id = receipt.slice(0, receipt.indexOf('.'));
  queue.messages = queue.messages.filter((m) => m.id !== id);
}

export async function startLocalSqs(): Promise<LocalSqs> {
  const queues = new Map<string, Queue>();
  let endpoint = '';
  const timers = new Set<NodeJS.Timeout>();

  const queueOf = (url: unknown): Queue => {
    const name = typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '';
    const queue = queues.get(name);
    if (!queue || url !== `${endpoint}/${ACCOUNT}/${name}`) {
      throw new SqsError(
        'QueueDoesNotExist',
        'AWS.SimpleQueueService.NonExistentQueue;Sender',
        'The specified queue does not exist.',
      );
    }
    return queue;
  };

  /** The visible messages, up to `max`, made invisible for `visibility` seconds. */
  const take = (queue: Queue, max: number, visibility: number): Message[] => {
    const now = Date.now();
    const retention = Number(queue.attributes.MessageRetentionPeriod) * 1000;
    queue.messages = queue.messages.filter((m) => now - m.sentAt < retention);
    const taken = queue.messages.filter((m) => m.visibleAt <= now).slice(0, max);
    for (const message of taken) {
      message.visibleAt = now + visibility * 1000;
      message.receipt = `${message.id}.${randomUUID()}`;
      // When it is visible again, a waiting receiver gets it.
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          deliver(queue);
        },
        visibility * 1000 + 1,
      );
      timer.unref();
      timers.add(timer);
    }
    return taken;
  };

  /** Answers waiting receivers, oldest first, while there are visible messages. */
  const deliver = (queue: Queue) => {
    while (queue.waiters.length > 0) {
      const waiter = queue.waiters[0] as Waiter;
      const taken = take(queue, waiter.max, waiter.visibility);
      if (taken.length === 0) return;
      queue.waiters.shift();
      waiter.answer(taken);
    }
  };

  const asReceived = (messages: Message[]) => ({
    Messages: messages.map((m) => ({
      MessageId: m.id,
      ReceiptHandle: m.receipt,
      MD5OfBody: md5(m.body),
      Body: m.body,
    })),
  });

  const operations: Record<
    string,
    (input: Record<string, unknown>, response: ServerResponse) => Promise<unknown> | unknown
  > = {
    CreateQueue: ({ QueueName, Attributes }) => {
      if (typeof QueueName !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(QueueName)) {
        throw invalid('QueueName: 1 to 80 letters, digits, hyphens or underscores.');
      }
      const attributes = { ...DEFAULTS, ...((Attributes ?? {}) as Record<string, string>) };
      const existing = queues.get(QueueName);
      if (existing && JSON.stringify(existing.attributes) !== JSON.stringify(attributes)) {
        throw new SqsError(
          'QueueNameExists',
          'QueueAlreadyExists;Sender',
          'A queue already exists with the same name and different attributes.',
        );
      }
      if (!existing) queues.set(QueueName, { attributes, messages: [], waiters: [] });
      return { QueueUrl: `${endpoint}/${ACCOUNT}/${QueueName}` };
    },
    SendMessage: ({ QueueUrl, MessageBody }) => {
      const queue = queueOf(QueueUrl);
      if (typeof MessageBody !== 'string' || MessageBody.length === 0) {
        throw new SqsError('MissingParameter', 'MissingParameter;Sender', 'MessageBody is required.');
      }
      const id = randomUUID();
      queue.messages.push({ id, body: MessageBody, sentAt: Date.now(), visibleAt: 0 });
      deliver(queue);
      return { MessageId: id, MD5OfMessageBody: md5(MessageBody) };
    },
    ReceiveMessage: (input, response) => {
      const queue = queueOf(input.QueueUrl);
      const max = wholeIn(input.MaxNumberOfMessages, 1, 10, 1, 'MaxNumberOfMessages');
      const wait = wholeIn(input.WaitTimeSeconds, 0, 20, 0, 'WaitTimeSeconds');
      const visibility = wholeIn(
        input.VisibilityTimeout,
        0,
        43_200,
        Number(queue.attributes.VisibilityTimeout),
        'VisibilityTimeout',
      );
      const taken = take(queue, max, visibility);
      if (taken.length > 0 || wait === 0) return asReceived(taken);
      return new Promise((resolve) => {
        const waiter: Waiter = {
          max,
          visibility,
          answer: (messages) => {
            clearTimeout(timer);
            resolve(asReceived(messages));
          },
        };
        const leave = () => {
          const at = queue.waiters.indexOf(waiter);
          if (at >= 0) queue.waiters.splice(at, 1);
        };
        const timer = setTimeout(() => {
          leave();
          resolve(asReceived([]));
        }, wait * 1000);
        // A receiver that hung up takes nothing: what it would have got goes to the next one.
        response.once('close', () => {
          clearTimeout(timer);
          leave();
        });
        queue.waiters.push(waiter);
      });
    },
    DeleteMessage: ({ QueueUrl, ReceiptHandle }) => {
      deleteByReceipt(queueOf(QueueUrl), ReceiptHandle);
      return {};
    },
    DeleteMessageBatch: ({ QueueUrl, Entries }) => {
      const queue = queueOf(QueueUrl);
      if (!Array.isArray(Entries) || Entries.length === 0) {
        throw new SqsError(
          'EmptyBatchRequest',
          'AWS.SimpleQueueService.EmptyBatchRequest;Sender',
          'There should be at least one entry in the request.',
        );
      }
      if (Entries.length > 10) {
        throw new SqsError(
          'TooManyEntriesInBatchRequest',
          'AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender',
          'Maximum number of entries per request are 10.',
        );
      }
      const ids = Entries.map((entry: { Id?: unknown }) => entry.Id);
      if (new Set(ids).size !== ids.length) {
        throw new SqsError(
          'BatchEntryIdsNotDistinct',
          'AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender',
          'Two or more batch entries in the request have the same Id.',
        );
      }
      // Each entry succeeds or fails on its own, in a 200 answer, as in SQS.
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
      for (const { Id, ReceiptHandle } of Entries as { Id: string; ReceiptHandle?: unknown }[]) {
        try {
          deleteByReceipt(queue, ReceiptHandle);
          Successful.push({ Id });
        } catch (error) {
          if (!(error instanceof SqsError)) throw error;
          Failed.push({ Id, Code: error.type, Message: error.message, SenderFault: true });
        }
      }
      return { Successful, Failed };
    },
  };

  const server = createServer(async (request, response) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (response.writableEnded || response.destroyed) return;
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': randomUUID(),
        ...headers,
      });
      response.end(JSON.stringify(body));
    };
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('AmazonSQS.') ? operations[target.slice(10)] : undefined;
    try {
      if (!operation) {
        throw new SqsError(
          'UnsupportedOperation',
          'AWS.SimpleQueueService.UnsupportedOperation;Sender',
          target,
        );
      }
      const input = JSON.parse((await readBody(request)).toString('utf8') || '{}');
      send(200, await operation(input, response));
    } catch (error) {
      const known = error instanceof SqsError;
      send(
        400,
        {
          __type: `com.amazonaws.sqs#${known ? error.type : 'InvalidParameterValue'}`,
          message: (error as Error).message,
        },
        { 'x-amzn-query-error': known ? error.queryError : 'InvalidParameterValue;Sender' },
      );
    }
  });
  const port = await listenOnLoopback(server);
  endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      await closeServer(server);
    },
  };
}
