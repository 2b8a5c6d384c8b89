import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { claimOf } from '../../core/idempotency.js';
import type { StoredApiKey } from '../../core/ports.js';
import type { Stores } from '../../core/services/index.js';
import { TestClock } from '../integration/fixtures.js';
import { runOf, type StoresFactory, storedSchedule } from './records.js';

/** What every IdempotencyStore and ApiKeyStore must do, DynamoDB's and the in-memory fakes alike. */
export function idempotencyAndApiKeyStoreContract(name: string, makeStores: StoresFactory) {
  describe(`IdempotencyStore and ApiKeyStore contract: ${name}`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await makeStores();
    });

    it('settles and releases a claim only while it names the execution', async () => {
      const schedule = await storedSchedule(stores);
      const clock = new TestClock('2026-04-05T06:00:00.000Z');
      const now = Math.floor(clock.now().getTime() / 1000);
      const scope = {
        operation: 'runSchedule',
        principal: { type: 'User', id: 'u#1' },
        resourceId: schedule.id,
        key: 'k',
        requestHash: 'first-request',
      };
      const { execution, steps } = runOf(schedule, 1);
      await stores.executions.create(
        execution,
        steps,
        { version: 1, exclusive: true, lastRunTime: execution.queuedAt },
        claimOf(scope, { executionId: execution.id, status: 'Queued' }, clock),
      );
      // Another caller's key of the same text is another key.
      expect(
        await stores.idempotency.find({ ...scope, principal: { type: 'User', id: 'u#2' } }, now),
      ).toBeUndefined();
      // The request hash is not part of the key: another request finds the claim, and its first request.
      expect(await stores.idempotency.find({ ...scope, requestHash: 'another' }, now)).toEqual({
        response: { executionId: execution.id, status: 'Queued' },
        requestHash: 'first-request',
      });
      await stores.idempotency.settle(scope, { executionId: randomUUID(), status: 'Cancelled' });
      expect(await stores.idempotency.find(scope, now)).toEqual({
        response: { executionId: execution.id, status: 'Queued' },
        requestHash: 'first-request',
      });
      await stores.idempotency.settle(scope, { executionId: execution.id, status: 'Cancelled' });
      expect(await stores.idempotency.find(scope, now)).toEqual({
        response: { executionId: execution.id, status: 'Cancelled' },
        requestHash: 'first-request',
      });
      await stores.idempotency.release(scope, randomUUID());
      expect(await stores.idempotency.find(scope, now)).toBeDefined();
      await stores.idempotency.release(scope, execution.id);
      expect(await stores.idempotency.find(scope, now)).toBeUndefined();
    });

    it('stores API keys by hash, lists them, refuses a taken hash, deletes by id', async () => {
      const key = (fields: Partial<StoredApiKey> = {}): StoredApiKey => ({
        id: randomUUID(),
        name: 'ops',
        roles: ['Administrator'],
        keyPrefix: 'sk_abc',
        created: '2026-04-05T06:00:00.000Z',
        expiresAt: null,
        pools: null,
        keyHash: randomUUID().replaceAll('-', ''),
        ...fields,
      });
      const first = key();
      const second = key({ created: '2026-04-05T06:01:00.000Z', roles: ['Worker'], pools: ['sql'] });
      await stores.apiKeys.create(first);
      await stores.apiKeys.create(second);
      await expect(stores.apiKeys.create(key({ keyHash: first.keyHash }))).rejects.toThrow();
      expect(await stores.apiKeys.findByHash(second.keyHash)).toEqual(second);
      expect((await stores.apiKeys.listAll()).map((k) => k.id).sort()).toEqual([first.id, second.id].sort());
      expect(await stores.apiKeys.delete(first.id)).toBe(true);
      expect(await stores.apiKeys.delete(first.id)).toBe(false);
      expect(await stores.apiKeys.findByHash(first.keyHash)).toBeUndefined();
    });
  });
}
