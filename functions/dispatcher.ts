import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { getServices } from './environment.js';
import { logger } from './logger.js';

/**
 * The cron trigger: invoked every minute by EventBridge (locally, by the ticker) and fires every due
 * schedule. The event carries nothing it needs: what is due is read from the schedules themselves,
 * so a late, repeated or concurrent invocation does no harm.
 */
export const handler = middy(async () => {
  const { lagsMs, ...report } = await getServices().dispatcher.tick();
  const sorted = [...lagsMs].sort((a, b) => a - b);
  const summary = { ...report, maxLagMs: sorted.at(-1) ?? null };
  if (report.failed > 0 || report.deferred > 0 || report.missedFireTimes > 0) {
    logger.warn('Dispatched due schedules, not all on time', summary);
  } else if (report.due > 0) {
    logger.info('Dispatched due schedules', summary);
  }
  return summary;
}).use(injectLambdaContext(logger, { resetKeys: true }));
