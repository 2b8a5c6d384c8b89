import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricName } from '../core/metrics.js';
import { getServices } from './environment.js';
import { logger } from './logger.js';
import { metrics } from './metrics.js';
import { withPowertools } from './middleware.js';

/**
 * Invoked every minute by EventBridge: nothing stays Queued or InProgress forever. Being the one
 * thing that looks at every active execution and every waiting task each minute, it also reports
 * the two gauges: active executions and the age of the oldest task no worker has claimed, and
 * how many items it could not handle.
 */
async function reconcile() {
  const report = await getServices().reconciler.run();
  if (report.failures.length > 0) {
    // The run went on past each of them, so the invocation succeeds: the metric's alarm tells instead.
    logger.error('Reconciler could not handle every item; the next run retries them', { ...report });
  } else if (
    [report.restarted, report.failed, report.woken, report.neverClaimed].some((ids) => ids.length > 0)
  ) {
    logger.warn('Reconciled executions', { ...report });
  }
  metrics.addMetric(MetricName.ActiveExecutions, MetricUnit.Count, report.checked);
  metrics.addMetric(
    MetricName.OldestUnclaimedTaskAge,
    MetricUnit.Seconds,
    report.oldestUnclaimedTaskAgeSeconds,
  );
  metrics.addMetric(MetricName.ReconcileFailures, MetricUnit.Count, report.failures.length);
  return report;
}

export const handler = withPowertools(reconcile, { metrics });
