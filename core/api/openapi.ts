import { z } from 'zod';
import { ErrorBodySchema, IdempotencyHeaders } from '../schemas/common.js';
import { API_BASE_PATH, ROUTES, type RouteDefinition } from './routes.js';

/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas that validate
 * requests. Named response schemas (`.meta({ id })`) become components; request shapes are inlined
 * in their input form (defaults make fields optional there).
 */

const ref = (id: string) => `#/components/schemas/${id}`;
type JsonSchema = Record<string, unknown>;

/** OpenAPI 3.1 declares the JSON Schema dialect once; the per-schema `$schema` zod adds is noise. */
function withoutDialect(schema: JsonSchema): JsonSchema {
  delete schema.$schema;
  return schema;
}

const inputSchema = (schema: z.ZodType): JsonSchema =>
  withoutDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);

function outputSchema(schema: z.ZodType): JsonSchema {
  const id = z.globalRegistry.get(schema)?.id;
  if (id) return { $ref: ref(id) };
  return withoutDialect(z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema);
}

function parameters(route: RouteDefinition): JsonSchema[] {
  const list: JsonSchema[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
    ['header', route.headers],
  ] as const) {
    if (!schema) continue;
    const json = inputSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      list.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        schema: property,
      });
    }
  }
  return list;
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: ref('Error') } } },
});

function operation(route: RouteDefinition): JsonSchema {
  const responses: JsonSchema = {
    [route.status]: {
      ...(route.response
        ? {
            description: 'Success',
            content: { 'application/json': { schema: outputSchema(route.response) } },
          }
        : { description: route.status === 204 ? 'No content' : 'Success' }),
      ...(route.responseHeaders
        ? {
            headers: Object.fromEntries(
              Object.entries(route.responseHeaders).map(([name, description]) => [
                name,
                { description, schema: { type: 'string' } },
              ]),
            ),
          }
        : {}),
    },
  };
  if (route.params || route.query || route.body || route.headers)
    responses[400] = errorResponse('Invalid request');
  if (route.role) {
    responses[401] = errorResponse('Missing, unknown, revoked or expired credentials');
    const lacksRole = `The caller lacks the ${route.role} role`;
    responses[403] = errorResponse(route.forbidden ? `${lacksRole}, or ${route.forbidden}` : lacksRole);
  }
  if (route.params) responses[404] = errorResponse('Not found');
  if (route.method !== 'GET') {
    responses[409] = errorResponse(
      route.headers === IdempotencyHeaders
        ? 'Conflicts with the current state, or the Idempotency-Key was first used with a different request'
        : 'Conflicts with the current state',
    );
  }
  // Answered by API Gateway itself, before any handler, for a body over its 10 MB limit.
  if (route.body) responses[413] = errorResponse('The body is over 10 MB');
  responses[500] = errorResponse('Unexpected error');
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.role ? { security: [{ apiKey: [] }, { bearer: [] }] } : { security: [] }),
    parameters: parameters(route),
    ...(route.body
      ? {
          requestBody: {
            // Optional when the body is (retry): the request may be sent without one.
            required: !route.body.safeParse(undefined).success,
            content: { 'application/json': { schema: inputSchema(route.body) } },
          },
        }
      : {}),
    responses,
  };
}

export function buildOpenApiDocument(serverUrl = API_BASE_PATH): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES as readonly RouteDefinition[]) {
    const methods = paths[route.path] ?? {};
    methods[route.method.toLowerCase()] = operation(route);
    paths[route.path] = methods;
  }
  // Registering the error body makes sure it is a component even though no route returns it on success.
  void ErrorBodySchema;
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    io: 'output',
    unrepresentable: 'any',
    uri: ref,
  }) as {
    schemas: Record<string, JsonSchema>;
  };
  for (const schema of Object.values(schemas)) withoutDialect(schema);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Schedule execution service',
      version: '1.0.0',
      description:
        'Schedules of ordered steps run on a cron or on demand, with per-step progress and cancel.',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}
