import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { failedItems, type NamedItem } from '../../../core/adapters/dynamodb/client.js';

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const item = (id: string) => ({ ConditionCheck: { TableName: 't', Key: { id }, ConditionExpression: 'x' } });
const named: NamedItem<'first' | 'second' | 'third'>[] = [
  { name: 'first', item: item('1') },
  { name: 'second', item: item('2') },
  { name: 'third', item: item('3') },
];

describe('failedItems', () => {
  it('names the items whose condition failed, whatever their position', () => {
    expect(failedItems(cancelled('None', 'ConditionalCheckFailed', 'None'), named)).toEqual(['second']);
    expect(failedItems(cancelled('ConditionalCheckFailed', 'None', 'ConditionalCheckFailed'), named)).toEqual(
      ['first', 'third'],
    );
  });

  it('is empty when the transaction was cancelled for another reason only', () => {
    expect(failedItems(cancelled('None', 'TransactionConflict', 'None'), named)).toEqual([]);
  });

  it('is undefined when the error is no cancellation', () => {
    expect(failedItems(new Error('network'), named)).toBeUndefined();
  });
});
