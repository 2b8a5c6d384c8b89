import { API_BASE_PATH } from '../core/api/routes.js';
import { IDEMPOTENT_REPLAYED } from '../core/schemas/common.js';
import { initiator } from './auth-context.js';
import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

export const handler = createHttpHandler('schedules', {
  listSchedules: async ({ query }) => ({ body: await getServices().schedules.list(query) }),
  createSchedule: async ({ body }) => {
    const schedule = await getServices().schedules.create(body);
    return { body: schedule, headers: { Location: `${API_BASE_PATH}/schedules/${schedule.id}` } };
  },
  getSchedule: async ({ params }) => ({ body: await getServices().schedules.get(params.id) }),
  replaceSchedule: async ({ params, body }) => ({
    body: await getServices().schedules.replace(params.id, body),
  }),
  deleteSchedule: async ({ params }) => {
    await getServices().schedules.delete(params.id);
    return {};
  },
  enableSchedule: async ({ params }) => ({ body: await getServices().schedules.setEnabled(params.id, true) }),
  disableSchedule: async ({ params }) => ({
    body: await getServices().schedules.setEnabled(params.id, false),
  }),
  runSchedule: async ({ params, headers, principal }) => {
    const { replayed, ...body } = await getServices().schedules.run(
      params.id,
      initiator(principal),
      headers['Idempotency-Key'],
    );
    return replayed ? { body, headers: { [IDEMPOTENT_REPLAYED]: 'true' } } : { body };
  },
  getNextRuns: async ({ params, query }) => ({
    body: await getServices().schedules.nextRuns(params.id, query.count),
  }),
});
