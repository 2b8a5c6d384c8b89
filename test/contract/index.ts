import { executionStoreContract } from './execution-store.contract.js';
import { idempotencyAndApiKeyStoreContract } from './idempotency-store.contract.js';
import type { StoresFactory } from './records.js';
import { scheduleStoreContract } from './schedule-store.contract.js';
import { workerTaskStoreContract } from './worker-task-store.contract.js';

/** Every store port's contract, against one implementation of them all. */
export function storeContracts(name: string, makeStores: StoresFactory) {
  scheduleStoreContract(name, makeStores);
  executionStoreContract(name, makeStores);
  workerTaskStoreContract(name, makeStores);
  idempotencyAndApiKeyStoreContract(name, makeStores);
}
