import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ALL_DUE_PARTITIONS } from '../core/due-partitions.js';
import { MetricName } from '../core/metrics.js';
import { DispatchEvent } from '../core/schemas/dispatch.js';
import { getServices } from './environment.js';
import { logger } from './logger.js';
import { metrics } from './metrics.js';
import { withPowertools } from './middleware.js';

/**
 * The cron trigger: invoked every minute by EventBridge, once per due partition (locally, by the
 * ticker), and fires every due schedule of its partition. What is due is read from the schedules
 * themselves, so a late, repeated or concurrent invocation does no harm.
 */
async function dispatch(event: unknown) {
  const { partition } = DispatchEvent.parse(event ?? {});
  const partitions = partition === undefined ? ALL_DUE_PARTITIONS : [partition];
  const { lagsMs, ...report } = await getServices().dispatcher.tick(partitions);
  const summary = { partitions, ...report, maxLagMs: lagsMs.length > 0 ? Math.max(...lagsMs) : null };
  if (report.failed > 0 || report.deferred > 0 || report.missedFireTimes > 0) {
    logger.warn('Dispatched due schedules, not all on time', summary);
  } else if (report.due > 0) {
    logger.info('Dispatched due schedules', summary);
  }
  metrics.addMetric(MetricName.SchedulesFired, MetricUnit.Count, report.started);
  metrics.addMetric(MetricName.SchedulesSkipped, MetricUnit.Count, report.skipped);
  metrics.addMetric(MetricName.FireTimesMissed, MetricUnit.Count, report.missedFireTimes);
  metrics.addMetric(MetricName.DispatchFailures, MetricUnit.Count, report.failed);
  metrics.addMetric(MetricName.DispatchDeferred, MetricUnit.Count, report.deferred);
  // One value per fire (EMF keeps up to 100 values of a metric per line; Powertools splits beyond).
  for (const lag of lagsMs) metrics.addMetric(MetricName.DispatchLag, MetricUnit.Milliseconds, lag);
  return summary;
}

export const handler = withPowertools(dispatch, { metrics });
