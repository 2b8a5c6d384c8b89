import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALL_DUE_PARTITIONS, DUE_PARTITIONS, duePartitionOf } from '../../core/due-partitions.js';
import { DispatchEvent } from '../../core/schemas/dispatch.js';

describe('due partitions', () => {
  it('puts a schedule in the same partition every time', () => {
    const id = randomUUID();
    expect(duePartitionOf(id)).toBe(duePartitionOf(id));
    expect(ALL_DUE_PARTITIONS).toContain(duePartitionOf(id));
  });

  it('spreads random schedule ids evenly (each partition within 10% of its share)', () => {
    const counts = new Array(DUE_PARTITIONS).fill(0);
    for (let n = 0; n < 20_000; n++) counts[duePartitionOf(randomUUID())] += 1;
    const share = 20_000 / DUE_PARTITIONS;
    for (const count of counts) expect(Math.abs(count - share) / share).toBeLessThan(0.1);
  });
});

describe('DispatchEvent', () => {
  it('takes the partition an EventBridge target sends', () => {
    expect(DispatchEvent.parse({ partition: 2 }).partition).toBe(2);
  });

  it('takes a scheduled event as is, meaning every partition', () => {
    const scheduled = {
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-11-29T06:00:00Z',
      detail: {},
    };
    expect(DispatchEvent.parse(scheduled).partition).toBeUndefined();
  });

  it.each([{ partition: DUE_PARTITIONS }, { partition: -1 }, { partition: 1.5 }, { partition: '1' }])(
    'refuses %j',
    (event) => {
      expect(DispatchEvent.safeParse(event).success).toBe(false);
    },
  );
});
