import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

/** The worker endpoints (role Worker): claim, heartbeat, complete. */
export const handler = createHttpHandler('worker', {
  claimTasks: async ({ body }) => ({ body: { tasks: await getServices().workers.claim(body) } }),
  heartbeatTask: async ({ params, body }) => ({
    body: await getServices().workers.heartbeat(params.taskId, body.message),
  }),
  completeTask: async ({ params, body }) => ({
    body: await getServices().workers.complete(params.taskId, body),
  }),
});
