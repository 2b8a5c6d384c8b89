import { Tracer } from '@aws-lambda-powertools/tracer';
import { SERVICE_NAME } from '../core/metrics.js';

/**
 * One Powertools Tracer per function (module scope). In Lambda with active tracing it records the
 * handler and every AWS SDK call as X-Ray subsegments; anywhere else (the local runtime, tests) it
 * turns itself off, so the same code runs untraced.
 */
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/**
 * Handler traces keep no response: some carry secrets (a new API key, task tokens, an authorizer's
 * principal). Errors are still recorded.
 */
export const TRACE_OPTIONS = { captureResponse: false } as const;
