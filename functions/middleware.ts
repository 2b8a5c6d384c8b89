import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger.js';
import { TRACE_OPTIONS, tracer } from './tracer.js';

export interface PowertoolsOptions {
  /**
   * The metrics the handler adds, flushed at the end of each invocation (`logMetrics`). Absent for
   * functions that add none, or publish their own (the change feed: most of its batches yield none,
   * and the middleware would warn about each).
   */
  metrics?: Metrics;
}

/**
 * Every function's handler wrapped in the standard Powertools chain: traced (the response kept out of
 * the trace, `TRACE_OPTIONS`), its log lines carrying the Lambda context with the keys of the
 * previous invocation reset, and with `metrics` its metrics flushed. How errors become answers stays
 * with the handler: the HTTP ones shape them as the contract says, the others let them fail the
 * invocation.
 */
export function withPowertools<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  options: PowertoolsOptions = {},
) {
  const wrapped = middy(handler);
  if (tracer) wrapped.use(captureLambdaHandler(tracer, TRACE_OPTIONS));
  wrapped.use(injectLambdaContext(logger, { resetKeys: true }));
  return options.metrics ? wrapped.use(logMetrics(options.metrics)) : wrapped;
}
