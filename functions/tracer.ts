import type { Tracer } from '@aws-lambda-powertools/tracer';
import { SERVICE_NAME } from '../core/metrics.js';

/**
 * One Powertools Tracer per function (module scope). In Lambda with active tracing it records the
 * handler and every AWS SDK call as X-Ray subsegments.
 *
 * `POWERTOOLS_TRACE_ENABLED=false` (Powertools' own switch; the local runtime sets it) means no tracer
 * at all, not a disabled one: loading the Tracer loads the X-Ray SDK, whose async hooks (cls-hooked)
 * then run on every promise of the process whether anything is traced or not, about a tenth of the
 * local stack's CPU in the orchestration bench. Unset (the functions' deployed environment),
 * Powertools decides as before: on in Lambda, off elsewhere.
 */
export const tracer: Tracer | undefined =
  process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false'
    ? undefined
    : new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: SERVICE_NAME });

/** An AWS SDK v3 client whose calls are traced (when there is a tracer). */
export const traced = <T>(client: T): T => (tracer ? tracer.captureAWSv3Client(client) : client);

/**
 * Handler traces keep no response: some carry secrets (a new API key, task tokens, an authorizer's
 * principal). Errors are still recorded.
 */
export const TRACE_OPTIONS = { captureResponse: false } as const;
