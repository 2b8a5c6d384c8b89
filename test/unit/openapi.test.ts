import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../core/api/openapi.js';
import { API_BASE_PATH, ROUTES } from '../../core/api/routes.js';
import { SEED_STEP_FIELDS } from '../helpers/seed-fields.js';

const doc = buildOpenApiDocument() as any;

/** Every `$ref` anywhere in a JSON value. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : refsIn(inner),
  );
}

describe('buildOpenApiDocument', () => {
  it('declares OpenAPI 3.1.0 with the API base path as its server', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: API_BASE_PATH }]);
    expect(doc.info.title).toEqual(expect.any(String));
  });

  it('uses the server URL it is given', () => {
    expect((buildOpenApiDocument('http://localhost:3000/api/v1') as any).servers).toEqual([
      { url: 'http://localhost:3000/api/v1' },
    ]);
  });

  it.each(ROUTES.map((route) => [route.method, route.path, route] as const))(
    'documents %s %s with its operationId and success status',
    (method, path, route) => {
      // Act
      const operation = doc.paths[path]?.[method.toLowerCase()];

      // Assert
      expect(operation).toBeDefined();
      expect(operation.operationId).toBe(route.operationId);
      expect(operation.responses[String(route.status)]).toBeDefined();
      expect(operation.responses['500']).toEqual({
        description: 'Unexpected error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      });
      // A route that takes a body can meet API Gateway's 10 MB limit, answered with the error body.
      expect(operation.responses['413']?.content).toEqual(
        'body' in route ? operation.responses['500'].content : undefined,
      );
    },
  );

  it.each(['heartbeat', 'complete'])(
    'documents the 403 of %s for a caller that is not the claimant',
    (action) => {
      // Act
      const operation = doc.paths[`/worker/tasks/{taskId}/${action}`]?.post;

      // Assert
      expect(operation.responses['403'].description).toBe(
        'The caller lacks the Worker role, or the task was claimed with another credential, or as another workerId',
      );
      expect(operation.requestBody.content['application/json'].schema.properties.workerId).toMatchObject({
        type: 'string',
      });
    },
  );

  it('documents no operation that is not in the route table', () => {
    // Arrange
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods as object).map((method) => `${method.toUpperCase()} ${path}`),
    );

    // Assert
    expect(documented.sort()).toEqual(ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });

  it('gives every operation a unique operationId', () => {
    const ids = ROUTES.map((route) => route.operationId);

    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([
    'Schedule',
    'ScheduleSummary',
    'ScheduleStep',
    'Execution',
    'ExecutionDetail',
    'ExecutionStep',
    'Error',
    'ApiKey',
    'CreatedApiKey',
  ])('has the component schema %s', (name) => {
    expect(doc.components.schemas[name]).toEqual(expect.any(Object));
  });

  it('spells the error body of the contract, with the error codes', () => {
    const error = doc.components.schemas.Error;

    expect(error.required).toEqual(expect.arrayContaining(['code', 'message', 'timestamp']));
    expect(error.properties.code.enum).toEqual([
      'VALIDATION_ERROR',
      'BAD_REQUEST',
      'UNAUTHORISED',
      'FORBIDDEN',
      'NOT_FOUND',
      'CONFLICT',
      'TOO_MANY_REQUESTS',
      'INTERNAL_ERROR',
      'SERVICE_UNAVAILABLE',
    ]);
  });

  it('spells the step statuses as the contract does', () => {
    expect(doc.components.schemas.ExecutionStep.properties.status.enum).toContain('Completed with Warning');
  });

  it('resolves every $ref to a component schema', () => {
    // Arrange
    const refs = [...new Set(refsIn(doc))];

    // Assert
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').at(-1) as string], ref).toBeDefined();
    }
  });

  it('secures Administrator routes with an API key or a bearer token and leaves public routes open', () => {
    for (const route of ROUTES) {
      const operation = doc.paths[route.path][route.method.toLowerCase()];
      if ('role' in route) {
        expect(operation.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
        expect(operation.responses['401']).toBeDefined();
      } else {
        expect(operation.security).toEqual([]);
      }
    }
    expect(doc.components.securitySchemes.apiKey).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'X-Api-Key',
    });
  });

  it('documents the path and query parameters of a route', () => {
    // Act
    const names = (path: string, method: string) =>
      doc.paths[path][method].parameters.map((p: any) => `${p.in}:${p.name}${p.required ? '!' : ''}`);

    // Assert
    expect(names('/schedules/{id}', 'get')).toEqual(['path:id!']);
    expect(names('/schedule-executions', 'get')).toEqual(
      expect.arrayContaining([
        'query:page',
        'query:pageSize',
        'query:nextToken',
        'query:scheduleId',
        'query:sortBy',
      ]),
    );
  });

  it('takes the schedule request body in its input form, with the step types', () => {
    const body = doc.paths['/schedules'].post.requestBody.content['application/json'].schema;

    expect(body.required).toEqual(expect.arrayContaining(['name', 'triggerType']));
    expect(body.additionalProperties).toBe(false);
    expect(JSON.stringify(body)).toContain('runProfileName');
  });

  it('is plain JSON: it survives serialisation unchanged and carries no per-schema $schema', () => {
    // Act
    const text = JSON.stringify(doc);

    // Assert
    expect(JSON.parse(text)).toEqual(doc);
    expect(text).not.toContain('"$schema"');
  });
});

describe('buildOpenApiDocument: pools of API keys', () => {
  const claim = doc.paths['/worker/tasks/claim'].post;
  const claimBody = claim.requestBody.content['application/json'].schema;

  it("shows a key's pools, named by the step pools' rule, null for every pool", () => {
    // Act
    const pools = JSON.stringify(doc.components.schemas.ApiKey.properties.pools);

    // Assert
    expect(pools).toContain('null');
    expect(pools).toContain('^[A-Za-z0-9._-]{1,64}$');
    expect(JSON.stringify(doc.paths['/api-keys'].post.requestBody)).toContain('^[A-Za-z0-9._-]{1,64}$');
  });

  it("documents the claim's 403 for a pool the key may not serve, and its requestId", () => {
    expect(claim.responses['403'].description).toMatch(/pools/);
    expect(JSON.stringify(claimBody)).toContain('requestId');
  });
});

describe('buildOpenApiDocument: run insight', () => {
  const step = doc.components.schemas.ExecutionStep;

  it('documents the step output, progress message, last heartbeat and worker, nullable, after the seed fields', () => {
    const names = Object.keys(step.properties);
    expect(names.slice(0, SEED_STEP_FIELDS.length)).toEqual(SEED_STEP_FIELDS);
    // Then a retry's `carriedOver`, the last additive field.
    expect(names.slice(-5)).toEqual([
      'output',
      'progressMessage',
      'lastHeartbeatAt',
      'workerId',
      'carriedOver',
    ]);
    for (const field of ['output', 'progressMessage', 'lastHeartbeatAt', 'workerId']) {
      expect(step.required, field).toContain(field);
      expect(JSON.stringify(step.properties[field]), field).toContain('null');
      expect(step.properties[field].description, field).toBeTruthy();
    }
    expect(step.properties.output.description).toMatch(/16 KB/);
    expect(JSON.stringify(step.properties.lastHeartbeatAt)).toContain('date-time');
  });

  it('takes an optional output with a heartbeat', () => {
    const body = JSON.stringify(doc.paths['/worker/tasks/{taskId}/heartbeat'].post.requestBody);
    expect(body).toContain('"output"');
    expect(body).toContain('16 KB');
  });
});

describe('buildOpenApiDocument: idempotent runs', () => {
  const run = doc.paths['/schedules/{id}/run'].post;

  it('documents the optional Idempotency-Key header, its rule, and the replay header', () => {
    // Act
    const header = run.parameters.find((p: any) => p.in === 'header');

    // Assert
    expect(header).toMatchObject({ name: 'Idempotency-Key', required: false, schema: { type: 'string' } });
    expect(header.schema.pattern).toBe('^[\\x20-\\x7e]{1,255}$');
    expect(header.schema.description).toMatch(/24 hours/);
    expect(run.responses['400']).toBeDefined();
    expect(run.responses['202'].headers['Idempotent-Replayed'].description).toMatch(/replay/);
  });
});

describe('buildOpenApiDocument: retry', () => {
  const retry = doc.paths['/schedule-executions/{id}/retry']?.post;

  it('documents the retry: optional body with fromStepIndex, Idempotency-Key, 202 RunScheduleResult, 409', () => {
    // Assert
    expect(retry).toMatchObject({ operationId: 'retryExecution' });
    expect(retry.requestBody).toEqual({
      required: false,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { fromStepIndex: expect.objectContaining({ type: 'integer', minimum: 0 }) },
            additionalProperties: false,
          },
        },
      },
    });
    expect(retry.parameters.map((p: any) => [p.in, p.name])).toEqual([
      ['path', 'id'],
      ['header', 'Idempotency-Key'],
    ]);
    expect(retry.responses['202'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/RunScheduleResult',
    });
    expect(retry.responses['202'].headers['Idempotent-Replayed']).toBeDefined();
    expect(Object.keys(retry.responses)).toEqual(expect.arrayContaining(['400', '403', '404', '409']));
  });

  it('documents the 409 of a reused Idempotency-Key on run and retry, and on no other route', () => {
    const reusedKey = Object.entries(doc.paths).flatMap(([path, methods]: [string, any]) =>
      Object.entries(methods)
        .filter(([, operation]: [string, any]) =>
          /Idempotency-Key/.test(operation.responses['409']?.description),
        )
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(reusedKey.sort()).toEqual(['POST /schedule-executions/{id}/retry', 'POST /schedules/{id}/run']);
    expect(Object.keys(retry.responses)).not.toContain('422');
  });

  it('keeps the body required where the route needs one (createSchedule)', () => {
    expect(doc.paths['/schedules'].post.requestBody.required).toBe(true);
  });

  it('shows the retry links and carriedOver on the execution schemas', () => {
    const execution = doc.components.schemas.Execution;
    expect(Object.keys(execution.properties)).toEqual(
      expect.arrayContaining(['retryOfExecutionId', 'retriedByExecutionId']),
    );
    expect(execution.required).toEqual(
      expect.arrayContaining(['retryOfExecutionId', 'retriedByExecutionId']),
    );
    const step = doc.components.schemas.ExecutionStep;
    expect(step.properties.carriedOver).toEqual({ type: 'boolean' });
    expect(step.required).not.toContain('carriedOver');
  });
});

describe('buildOpenApiDocument: GET /workers', () => {
  const list = doc.paths['/workers']?.get;

  it('documents the list of workers for Administrators, as a plain array of the contract fields', () => {
    expect(list).toMatchObject({ operationId: 'listWorkers' });
    expect(list.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/WorkerList',
    });
    expect(doc.components.schemas.WorkerList).toMatchObject({
      type: 'array',
      items: { $ref: '#/components/schemas/Worker' },
    });
    const worker = doc.components.schemas.Worker;
    expect(Object.keys(worker.properties)).toEqual([
      'workerId',
      'pools',
      'status',
      'lastSeenAt',
      'runningTasks',
    ]);
    expect(worker.properties.status.enum).toEqual(['Online', 'Offline']);
    expect(Object.keys(doc.components.schemas.RunningTask.properties)).toEqual([
      'taskId',
      'executionId',
      'stepName',
      'since',
    ]);
    expect(ROUTES.find((route) => route.operationId === 'listWorkers')?.role).toBe('Administrator');
    expect(Object.keys(list.responses)).toEqual(expect.arrayContaining(['401', '403']));
  });
});
