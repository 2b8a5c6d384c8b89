import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { getServices } from './environment.js';
import { logger } from './logger.js';

/** Invoked every minute by EventBridge: nothing stays Queued or InProgress forever. */
export const handler = middy(async () => {
  const report = await getServices().reconciler.run();
  if (report.restarted.length > 0 || report.failed.length > 0)
    logger.warn('Reconciled executions', { ...report });
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
