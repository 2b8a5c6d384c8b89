import { IDEMPOTENT_REPLAYED } from '../core/schemas/common.js';
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
  // The retry is launched as a run of the schedule: the schedule service owns the launcher.
  retryExecution: async ({ params, body, headers, principal }) => {
    const { replayed, ...result } = await getServices().schedules.retry(
      params.id,
      initiator(principal),
      body?.fromStepIndex,
      headers['Idempotency-Key'],
    );
    return replayed ? { body: result, headers: { [IDEMPOTENT_REPLAYED]: 'true' } } : { body: result };
  },
});
