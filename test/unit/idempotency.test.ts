import { describe, expect, it } from 'vitest';
import { IdempotencyKeyReusedError } from '../../core/errors.js';
import { type IdempotencyScope, replayOf, requestHash } from '../../core/idempotency.js';

const scope = (hash: string | undefined): IdempotencyScope => ({
  operation: 'retryExecution',
  principal: { type: 'ApiKey', id: 'k1' },
  resourceId: 'e1',
  key: 'order-7',
  ...(hash === undefined ? {} : { requestHash: hash }),
});
const found = (hash?: string) => ({
  response: { executionId: 'x1' },
  ...(hash === undefined ? {} : { requestHash: hash }),
});

describe('requestHash', () => {
  it('is the same whatever the order of the fields, and for a field left out or undefined', () => {
    expect(requestHash({ a: 1, b: 'two' })).toBe(requestHash({ b: 'two', a: 1 }));
    expect(requestHash({ fromStepIndex: undefined })).toBe(requestHash({}));
  });

  it.each([
    [{ fromStepIndex: 0 }, { fromStepIndex: 2 }],
    [{ fromStepIndex: 0 }, {}],
    [{ fromStepIndex: 1 }, { fromStepIndex: '1' }],
  ])('tells %j from %j', (one, other) => {
    expect(requestHash(one)).not.toBe(requestHash(other));
  });
});

describe('replayOf', () => {
  it('replays the claim for the request it answered', () => {
    const hash = requestHash({ fromStepIndex: 0 });
    expect(replayOf(found(hash), scope(hash))).toEqual({ executionId: 'x1' });
  });

  it('replays a claim written before requests were hashed, whatever the request', () => {
    expect(replayOf(found(), scope(requestHash({ fromStepIndex: 3 })))).toEqual({ executionId: 'x1' });
  });

  it('refuses (409, naming the key and the execution it started) another request with the key', () => {
    const refuse = () => replayOf(found(requestHash({})), scope(requestHash({ fromStepIndex: 2 })));
    expect(refuse).toThrow(IdempotencyKeyReusedError);
    expect(refuse).toThrow(/Idempotency-Key 'order-7' was already used with a different request/);
    try {
      refuse();
    } catch (error) {
      expect((error as IdempotencyKeyReusedError).statusCode).toBe(409);
      expect((error as IdempotencyKeyReusedError).details).toEqual({ executionId: 'x1' });
    }
  });
});
