import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { StoredStep } from '../../ports.js';
import type { FeedChange } from '../../services/change-feed.js';
import { countedInCell, toExecution } from './execution-items.js';
import type { TableNames } from './tables.js';

type Image = Record<string, AttributeValue>;

/** The table a stream record comes from: its ARN is `…:table/<name>/stream/<label>`. */
function tableOf(record: DynamoDBRecord, tables: Pick<TableNames, 'executions' | 'executionSteps'>) {
  const name = /:table\/([^/]+)\/stream\//.exec(record.eventSourceARN ?? '')?.[1];
  if (name === tables.executions) return 'executions' as const;
  if (name === tables.executionSteps) return 'executionSteps' as const;
  return undefined;
}

/** Stream records (Lambda's DynamoDB event) as domain changes; records of other tables are skipped. */
export function toFeedChanges(
  records: readonly DynamoDBRecord[],
  tables: Pick<TableNames, 'executions' | 'executionSteps'>,
): FeedChange[] {
  return records.flatMap((record): FeedChange[] => {
    const table = tableOf(record, tables);
    const read = (image: unknown) => (image ? unmarshall(image as Image) : undefined);
    const before = read(record.dynamodb?.OldImage);
    const after = read(record.dynamodb?.NewImage);
    if (table === 'executions') {
      return [
        {
          table,
          change: { before: before && toExecution(before), after: after && toExecution(after) },
          beforeInCell: before !== undefined && countedInCell(before),
        },
      ];
    }
    if (table === 'executionSteps') {
      return [
        {
          table,
          change: { before: before as StoredStep | undefined, after: after as StoredStep | undefined },
        },
      ];
    }
    return [];
  });
}
