import { buildOpenApiDocument } from '../core/api/openapi.js';
import { createHttpHandler } from './http.js';

// Built once per Lambda environment: the document only changes with a deployment.
let document: Record<string, unknown> | undefined;

export const handler = createHttpHandler('meta', {
  health: async () => ({ body: { status: 'ok' } }),
  openApi: async () => {
    document ??= buildOpenApiDocument();
    return { body: document };
  },
});
