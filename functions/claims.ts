import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

/** The worker's claim (role Worker): a long poll of up to 20 s for queued tasks of its pools. */
export const handler = createHttpHandler('claims', {
  claimTasks: async ({ body, principal }) => ({
    body: { tasks: await getServices().workers.claim(body, principal) },
  }),
});
