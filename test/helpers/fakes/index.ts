import type { Stores } from '../../../core/services/index.js';
import { MemoryApiKeyStore } from './api-key-store.js';
import { MemoryExecutionStore } from './execution-store.js';
import { MemoryIdempotencyStore } from './idempotency-store.js';
import { MemoryScheduleStore } from './schedule-store.js';
import { MemoryTables } from './tables.js';
import { MemoryWorkerStore } from './worker-store.js';
import { MemoryWorkerTaskStore } from './worker-task-store.js';

export { MemoryApiKeyStore } from './api-key-store.js';
export { MemoryExecutionStore } from './execution-store.js';
export { MemoryIdempotencyStore } from './idempotency-store.js';
export { MemoryScheduleStore } from './schedule-store.js';
export { MemoryTables } from './tables.js';
export { MemoryWorkerStore } from './worker-store.js';
export { MemoryWorkerTaskStore } from './worker-task-store.js';

export interface MemoryStores extends Stores {
  executions: MemoryExecutionStore;
  db: MemoryTables;
}

/** Every store port over one set of in-memory tables, as `createServices` builds them over DynamoDB. */
export function memoryStores(options: { maxRangeCount?: number } = {}): MemoryStores {
  const db = new MemoryTables();
  return {
    db,
    schedules: new MemoryScheduleStore(db),
    executions: new MemoryExecutionStore(db, options.maxRangeCount),
    tasks: new MemoryWorkerTaskStore(db),
    workers: new MemoryWorkerStore(db),
    idempotency: new MemoryIdempotencyStore(db),
    apiKeys: new MemoryApiKeyStore(db),
  };
}
