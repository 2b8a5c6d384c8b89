import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../core/metrics.js';

/**
 * One Powertools Metrics instance per function (module scope). Metrics are written as EMF log lines
 * when the `logMetrics` middleware flushes them at the end of an invocation; CloudWatch turns them
 * into the metrics the dashboard and alarms read. `POWERTOOLS_METRICS_DISABLED` turns them off.
 */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
