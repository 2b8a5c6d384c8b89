import { type ErrorCode, STATUS_BY_CODE } from '../errors.js';

/**
 * Answers API Gateway gives itself, before any handler runs (bad credentials, unknown route,
 * throttling), reshaped into the contract's error body. CDK installs them as gateway responses and
 * the local gateway sends the same ones, so a client cannot tell the two apart.
 */
export interface GatewayResponseDefinition {
  /** API Gateway's response type, e.g. `UNAUTHORIZED`. */
  readonly type: string;
  readonly code: ErrorCode;
  /** API Gateway's own status, where it is not the code's (a body over 10 MB is a 413). */
  readonly statusCode?: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const GATEWAY_RESPONSES = [
  {
    type: 'UNAUTHORIZED',
    code: 'UNAUTHORISED',
    message: 'Authentication required: send a valid X-Api-Key or Authorization: Bearer header.',
  },
  { type: 'ACCESS_DENIED', code: 'FORBIDDEN', message: 'The credentials do not allow this request.' },
  // API Gateway reports an unknown path or method as a missing token (403); it is a 404 here.
  { type: 'MISSING_AUTHENTICATION_TOKEN', code: 'NOT_FOUND', message: 'No such route.' },
  { type: 'RESOURCE_NOT_FOUND', code: 'NOT_FOUND', message: 'No such route.' },
  {
    type: 'THROTTLED',
    code: 'TOO_MANY_REQUESTS',
    message: 'Too many requests.',
    headers: { 'Retry-After': '1' },
  },
  {
    type: 'QUOTA_EXCEEDED',
    code: 'TOO_MANY_REQUESTS',
    message: 'Quota exceeded.',
    headers: { 'Retry-After': '60' },
  },
  // API Gateway answers a body over its 10 MB payload limit itself, before any handler (or the
  // authorizer) runs; the status stays its 413, the body is the contract's.
  {
    type: 'REQUEST_TOO_LARGE',
    code: 'BAD_REQUEST',
    statusCode: 413,
    message: 'The request is too large: the body limit is 10 MB.',
  },
  { type: 'BAD_REQUEST_BODY', code: 'BAD_REQUEST', message: 'The request body is not acceptable.' },
  {
    type: 'AUTHORIZER_FAILURE',
    code: 'SERVICE_UNAVAILABLE',
    message: 'Authentication is unavailable; retry.',
  },
  { type: 'INTEGRATION_TIMEOUT', code: 'SERVICE_UNAVAILABLE', message: 'The request timed out; retry.' },
  { type: 'DEFAULT_4XX', code: 'BAD_REQUEST', message: 'The request was refused.' },
  { type: 'DEFAULT_5XX', code: 'INTERNAL_ERROR', message: 'An unexpected error occurred.' },
] as const satisfies readonly GatewayResponseDefinition[];

export type GatewayResponseType = (typeof GATEWAY_RESPONSES)[number]['type'];

export const gatewayStatus = (response: GatewayResponseDefinition): number =>
  response.statusCode ?? STATUS_BY_CODE[response.code];

/**
 * The body template. `$context.requestTime` is the only clock API Gateway offers a gateway
 * response (CLF format, e.g. `29/Nov/2026:02:03:04 +0000`); handler errors carry ISO 8601.
 */
export const gatewayBodyTemplate = (response: GatewayResponseDefinition): string =>
  JSON.stringify({ code: response.code, message: response.message, timestamp: '$context.requestTime' });

export const gatewayResponse = (type: GatewayResponseType): GatewayResponseDefinition =>
  GATEWAY_RESPONSES.find((r) => r.type === type) as GatewayResponseDefinition;
