import { initiator } from './auth-context.js';
import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

export const handler = createHttpHandler('executions', {
  listExecutions: async ({ query }) => ({ body: await getServices().executions.list(query) }),
  listActiveExecutions: async () => ({ body: await getServices().executions.listActive() }),
  getExecution: async ({ params }) => ({ body: await getServices().executions.get(params.id) }),
  pauseExecution: async ({ params }) => ({ body: await getServices().executions.pause(params.id) }),
  resumeExecution: async ({ params }) => ({ body: await getServices().executions.resume(params.id) }),
  cancelExecution: async ({ params, principal }) => ({
    body: await getServices().executions.cancelActive(params.id, initiator(principal)),
  }),
});
