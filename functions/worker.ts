import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

/**
 * The worker endpoints but the claim (role Worker): heartbeat, complete; and the list of workers
 * (Administrator). The claim has a function of its own (claims.ts).
 */
export const handler = createHttpHandler('worker', {
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
