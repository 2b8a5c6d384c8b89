import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { DynamoConnection } from './dynamodb-local.js';

/**
 * The event source mapping Lambda runs for a DynamoDB stream, locally: polls DynamoDB Local's
 * streams of the given tables and invokes the handler with the event Lambda would send. What the
 * shards held before this process started is skipped (a persisted database's history is not
 * replayed: that would publish its events again); shards that appear later
 * are read from their start. (Not `LATEST`: DynamoDB Local answers TrimmedDataAccessException to
 * such an iterator on a shard that was empty.) A batch the handler fails is retried, as Lambda does,
 * up to `maxRetries` times, then skipped with an error.
 */

/** Polls between looks for new shards. */
const DISCOVER_EVERY = 20;

export interface StreamFollowerOptions {
  /** The database whose tables' streams are followed. */
  dynamo: DynamoConnection;
  tableNames: readonly string[];
  handler: (event: DynamoDBStreamEvent) => Promise<unknown>;
  /** Pause between polls when nothing came (default 250 ms). */
  idleMs?: number;
  maxRetries?: number;
}

interface Shard {
  shardId: string;
  streamArn: string;
  iterator: string | undefined;
  /** The last record handed on, to pick up after it when an iterator expires. */
  lastSequence?: string;
  failures: number;
}

/** The SDK's record as Lambda's event record (lower-case userIdentity, epoch seconds, source ARN). */
function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const { dynamodb, userIdentity } = record;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource,
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(dynamodb as DynamoDBRecord['dynamodb']),
      ApproximateCreationDateTime: dynamodb?.ApproximateCreationDateTime
        ? Math.floor(dynamodb.ApproximateCreationDateTime.getTime() / 1000)
        : undefined,
    } as DynamoDBRecord['dynamodb'],
    ...(userIdentity
      ? { userIdentity: { type: userIdentity.Type, principalId: userIdentity.PrincipalId } }
      : {}),
  } as DynamoDBRecord;
}

export async function followStreams(options: StreamFollowerOptions): Promise<{ stop(): Promise<void> }> {
  const dynamo = new DynamoDBClient(options.dynamo);
  const streams = new DynamoDBStreamsClient(options.dynamo);
  const shards = new Map<string, Shard>();
  const streamArns: string[] = [];
  for (const tableName of options.tableNames) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (!Table?.LatestStreamArn) throw new Error(`Table ${tableName} has no stream.`);
    streamArns.push(Table.LatestStreamArn);
  }
  dynamo.destroy();

  /** Reads past what the shard holds now, handing nothing on. */
  const skipToEnd = async (shard: Shard) => {
    for (;;) {
      const result = await streams.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }),
      );
      shard.iterator = result.NextShardIterator;
      const last = result.Records?.at(-1)?.dynamodb?.SequenceNumber;
      if (!last || !shard.iterator) return;
      shard.lastSequence = last;
    }
  };

  const discover = async (fromStart: boolean) => {
    for (const streamArn of streamArns) {
      const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      for (const shard of StreamDescription?.Shards ?? []) {
        if (!shard.ShardId || shards.has(shard.ShardId)) continue;
        const { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        const state: Shard = { shardId: shard.ShardId, streamArn, iterator: ShardIterator, failures: 0 };
        if (!fromStart) await skipToEnd(state);
        shards.set(shard.ShardId, state);
      }
    }
  };
  await discover(false);

  /**
   * GetRecords; an iterator that expired (they live 15 minutes) is renewed after the last record read
   * (from the shard's start when nothing was ever read from it: it was empty when this began).
   */
  const read = async (shard: Shard) => {
    try {
      return await streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 100 }));
    } catch (error) {
      // DynamoDB Local also answers TrimmedDataAccessException for an iterator it has aged out.
      if (!['ExpiredIteratorException', 'TrimmedDataAccessException'].includes((error as Error).name)) {
        throw error;
      }
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: shard.streamArn,
          ShardId: shard.shardId,
          ...(shard.lastSequence
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
      );
      return { Records: [], NextShardIterator: ShardIterator };
    }
  };

  let stopped = false;
  let polls = 0;
  const maxRetries = options.maxRetries ?? 3;
  const poll = async () => {
    while (!stopped) {
      let busy = false;
      let closedNow = false;
      for (const shard of shards.values()) {
        if (!shard.iterator || stopped) continue;
        const result = await read(shard);
        const records = result.Records ?? [];
        if (records.length > 0) {
          busy = true;
          try {
            await options.handler({ Records: records.map((r) => toLambdaRecord(r, shard.streamArn)) });
          } catch (error) {
            shard.failures += 1;
            console.error(
              `Change feed failed (${shard.failures}/${maxRetries + 1}):`,
              (error as Error).message,
            );
            if (shard.failures <= maxRetries) continue; // the same iterator: the batch again
          }
        }
        shard.failures = 0;
        shard.iterator = result.NextShardIterator;
        // A closed shard stays in the map (so it is never read again), and its children are looked for.
        if (!shard.iterator) closedNow = true;
        shard.lastSequence = records.at(-1)?.dynamodb?.SequenceNumber ?? shard.lastSequence;
      }
      // New shards appear when one closes (its iterator runs out) and, in DynamoDB Local, now and
      // then; looking every few seconds keeps the idle cost to two reads per poll.
      if (++polls % DISCOVER_EVERY === 0 || closedNow) await discover(true);
      if (!busy) await new Promise((resolve) => setTimeout(resolve, options.idleMs ?? 250));
    }
  };
  const running = poll().catch((error: unknown) => {
    if (!stopped) console.error('Stream follower stopped:', (error as Error).message);
  });
  return {
    stop: async () => {
      stopped = true;
      await running;
      streams.destroy();
    },
  };
}
