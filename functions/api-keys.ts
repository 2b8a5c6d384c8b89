import { API_BASE_PATH } from '../core/api/routes.js';
import { getServices } from './environment.js';
import { createHttpHandler } from './http.js';

export const handler = createHttpHandler('api-keys', {
  createApiKey: async ({ body }) => {
    const key = await getServices().apiKeys.create(body);
    return { body: key, headers: { Location: `${API_BASE_PATH}/api-keys/${key.id}` } };
  },
  listApiKeys: async ({ query }) => ({
    body: await getServices().apiKeys.list(query.page ?? 1, query.pageSize),
  }),
  deleteApiKey: async ({ params }) => {
    await getServices().apiKeys.revoke(params.id);
    return {};
  },
});
