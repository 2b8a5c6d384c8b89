import { storeContracts } from '../contract/index.js';
import { memoryStores } from '../helpers/fakes/index.js';

/** The in-memory fakes held to the store ports' contract (test/integration/store-contracts.test.ts: DynamoDB). */
storeContracts('in memory', async (options) => memoryStores(options));
