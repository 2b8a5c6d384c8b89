import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

/** The worker endpoints (role Worker): claim, heartbeat, complete; and the list of workers (Administrator). */
export const handler = createHttpHandler('worker', {
  claimTasks: async ({ body, principal }) => ({
    body: { tasks: await getServices().workers.claim(body, principal) },
  }),
  heartbeatTask: async ({ params, body, principal }) => ({
    body: await getServices().workers.heartbeat(
      params.taskId,
      { principal, workerId: body.workerId },
      body.message,
      body.output,
    ),
  }),
  listWorkers: async () => ({ body: await getServices().workers.list() }),
  completeTask: async ({ params, body: { workerId, ...report }, principal }) => ({
    body: await getServices().workers.complete(params.taskId, { principal, workerId }, report),
  }),
});
