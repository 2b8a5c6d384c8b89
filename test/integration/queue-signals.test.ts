import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SIGNAL_QUEUE_ATTRIBUTES,
  SqsQueueSignals,
  signalQueueName,
} from '../../core/adapters/sqs/queue-signals.js';
import { type LocalSqsClient, startSqsClient } from '../helpers/sqs.js';

/**
 * The claims' wake-up queues: the SQS adapter with the real `@aws-sdk/client-sqs` against the local
 * SQS endpoint (the same client and code as in AWS), and the exact requests it sends.
 */

let sqs: LocalSqsClient;
let client: SQSClient;
const sent: { operation: string; input: Record<string, unknown> }[] = [];
let made = 0;
/** A prefix of its own per test, so no queue is shared. */
const fresh = () => new SqsQueueSignals(client, `test-${++made}-`);

beforeAll(async () => {
  sqs = await startSqsClient();
  ({ client } = sqs);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ operation: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize' },
  );
});

afterAll(() => sqs.stop());

describe('signalQueueName', () => {
  it.each([['default'], ['east europe/α'], ['x'.repeat(300)]])(
    'names pool %s within SQS rules (≤ 80 letters, digits, - and _)',
    (pool) => {
      // Act
      const name = signalQueueName('svc-claims-', pool);

      // Assert
      expect(name).toMatch(/^svc-claims-[A-Za-z0-9_-]+-[0-9a-f]{10}$/);
      expect(name.length).toBeLessThanOrEqual(80);
    },
  );

  it('gives pools that sanitise alike distinct queues', () => {
    expect(signalQueueName('p-', 'a b')).not.toEqual(signalQueueName('p-', 'a_b'));
  });

  it('refuses a prefix IAM could not scope or that leaves no room', () => {
    expect(() => new SqsQueueSignals(client, 'bad prefix')).toThrow(/prefix/);
    expect(() => new SqsQueueSignals(client, 'p'.repeat(60))).toThrow(/prefix/);
  });
});

describe('SqsQueueSignals on the local SQS endpoint', () => {
  it('sends the exact requests: one CreateQueue per pool, then SendMessage, ReceiveMessage, DeleteMessageBatch', async () => {
    // Arrange
    const signals = fresh();
    sent.length = 0;

    // Act
    await signals.queued('east', 'task-1');
    await signals.queued('east', 'task-2');
    const received = await signals.next(['east'], 3000, 5);
    await signals.done(received);

    // Assert
    const queueName = signalQueueName(`test-${made}-`, 'east');
    const url = `${sqs.endpoint}/000000000000/${queueName}`;
    expect(sent).toEqual([
      {
        operation: 'CreateQueueCommand',
        input: { QueueName: queueName, Attributes: SIGNAL_QUEUE_ATTRIBUTES },
      },
      { operation: 'SendMessageCommand', input: { QueueUrl: url, MessageBody: 'task-1' } },
      { operation: 'SendMessageCommand', input: { QueueUrl: url, MessageBody: 'task-2' } },
      {
        operation: 'ReceiveMessageCommand',
        input: { QueueUrl: url, MaxNumberOfMessages: 5, WaitTimeSeconds: 3 },
      },
      {
        operation: 'DeleteMessageBatchCommand',
        input: {
          QueueUrl: url,
          Entries: received.map((signal, i) => ({ Id: String(i), ReceiptHandle: signal.receipt })),
        },
      },
    ]);
    expect(received.map((signal) => [signal.pool, signal.taskId])).toEqual([
      ['east', 'task-1'],
      ['east', 'task-2'],
    ]);
  });

  it('answers a waiting receive as soon as a signal is sent, with that signal', async () => {
    // Arrange: a receive that would wait 15 s.
    const signals = fresh();
    const waiting = signals.next(['east'], 15_000, 1);

    // Act
    await new Promise((resolve) => setTimeout(resolve, 100));
    await signals.queued('east', 'task-late');

    // Assert
    expect((await waiting).map((signal) => signal.taskId)).toEqual(['task-late']);
  });

  it('gives one signal to one of the claims waiting, not to each', async () => {
    // Arrange
    const signals = fresh();
    const first = signals.next(['east'], 2000, 1);
    const second = signals.next(['east'], 2000, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    await signals.queued('east', 'only');
    const answers = await Promise.all([first, second]);

    // Assert
    expect(answers.map((answer) => answer.length).sort()).toEqual([0, 1]);
  });

  it('answers from whichever of several pools has a signal', async () => {
    // Arrange
    const signals = fresh();
    const waiting = signals.next(['east', 'west'], 10_000, 5);
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    await signals.queued('west', 'task-west');

    // Assert
    expect(await waiting).toEqual([{ pool: 'west', taskId: 'task-west', receipt: expect.any(String) }]);
  });

  it('answers nothing at once with no wait, and nothing after the wait when no signal comes', async () => {
    // Arrange
    const signals = fresh();

    // Act / Assert
    expect(await signals.next(['east'], 0, 1)).toEqual([]);
    expect(await signals.next(['east'], 1000, 1)).toEqual([]);
  });

  it('answers the signals waiting now without waiting, pool after pool, at most as many as asked', async () => {
    // Arrange
    const signals = fresh();
    await signals.queued('east', 'e-1');
    await signals.queued('west', 'w-1');
    await signals.queued('west', 'w-2');

    // Act
    const started = Date.now();
    const waiting = await signals.waiting(['east', 'west'], 2);
    const rest = await signals.waiting(['east', 'west'], 10);

    // Assert: none left hidden past what was asked for.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(waiting.map((signal) => signal.taskId)).toEqual(['e-1', 'w-1']);
    expect(rest.map((signal) => signal.taskId)).toEqual(['w-2']);
  });

  it('fails a drop whose batch answered entries failed, naming their codes (the signals come again)', async () => {
    // Arrange
    const signals = fresh();
    await signals.queued('east', 'task-1');
    const [received] = await signals.waiting(['east'], 1);
    if (!received) throw new Error('no signal');

    // Act
    const dropped = signals.done([received, { ...received, receipt: 'nonsense' }]);

    // Assert
    await expect(dropped).rejects.toThrow('1 signal(s) not dropped: ReceiptHandleIsInvalid.');
  });

  it('drops a claim of more than ten signals in batches of ten, and they do not come again', async () => {
    // Arrange
    const signals = fresh();
    for (let n = 0; n < 12; n++) await signals.queued('east', `task-${n}`);
    const received = [...(await signals.waiting(['east'], 10)), ...(await signals.waiting(['east'], 10))];
    sent.length = 0;

    // Act
    await signals.done(received);

    // Assert
    expect(received).toHaveLength(12);
    const batches = sent.filter((request) => request.operation === 'DeleteMessageBatchCommand');
    expect(batches.map((request) => (request.input.Entries as unknown[]).length)).toEqual([10, 2]);
    const queueName = signalQueueName(`test-${made}-`, 'east');
    const QueueUrl = `${sqs.endpoint}/000000000000/${queueName}`;
    const again = await client.send(
      new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0, MaxNumberOfMessages: 10 }),
    );
    expect(again.Messages ?? []).toEqual([]);
  });
});

describe('the local SQS endpoint', () => {
  it('gives a message received and not deleted again once its visibility lapses', async () => {
    // Arrange
    await fresh().queued('east', 'warm-up');
    const queueName = signalQueueName(`test-${made}-`, 'east');
    const QueueUrl = `${sqs.endpoint}/000000000000/${queueName}`;
    await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));

    // Act
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1 }));
    const hidden = await client.send(new ReceiveMessageCommand({ QueueUrl }));
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 3 }));

    // Assert
    expect(first.Messages?.map((m) => m.Body)).toEqual(['kept']);
    expect(hidden.Messages ?? []).toEqual([]);
    expect(again.Messages?.map((m) => m.Body)).toEqual(['kept']);
  });

  it('deletes each entry of a DeleteMessageBatch on its own, answering a bad receipt as failed in a 200', async () => {
    // Arrange
    await fresh().queued('east', 'warm-up');
    const queueName = signalQueueName(`test-${made}-`, 'east');
    const QueueUrl = `${sqs.endpoint}/000000000000/${queueName}`;
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl }));

    // Act
    const answer = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'good', ReceiptHandle: Messages?.[0]?.ReceiptHandle },
          { Id: 'bad', ReceiptHandle: 'nonsense' },
        ],
      }),
    );

    // Assert
    expect(answer.Successful).toEqual([{ Id: 'good' }]);
    expect(answer.Failed).toEqual([
      { Id: 'bad', Code: 'ReceiptHandleIsInvalid', Message: 'Bad receipt handle.', SenderFault: true },
    ]);
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }));
    expect(again.Messages ?? []).toEqual([]);
  });

  it('refuses a DeleteMessageBatch without entries, with more than ten, or with an Id twice', async () => {
    await fresh().queued('east', 'warm-up');
    const QueueUrl = `${sqs.endpoint}/000000000000/${signalQueueName(`test-${made}-`, 'east')}`;
    const entry = (Id: string) => ({ Id, ReceiptHandle: 'a.b' });
    const batch = (Entries: { Id: string; ReceiptHandle: string }[]) =>
      client.send(new DeleteMessageBatchCommand({ QueueUrl, Entries }));

    await expect(batch([])).rejects.toMatchObject({ name: 'EmptyBatchRequest' });
    const eleven = Array.from({ length: 11 }, (_, n) => entry(String(n)));
    await expect(batch(eleven)).rejects.toMatchObject({ name: 'TooManyEntriesInBatchRequest' });
    await expect(batch([entry('x'), entry('x')])).rejects.toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
  });

  it('refuses an unknown queue as SQS does (QueueDoesNotExist)', async () => {
    const unknown = client.send(
      new SendMessageCommand({ QueueUrl: `${sqs.endpoint}/000000000000/nope`, MessageBody: 'x' }),
    );
    await expect(unknown).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });
});
