import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { toFeedChanges } from '../core/adapters/dynamodb/stream.js';
import { MetricDimension, MetricName } from '../core/metrics.js';
import { getServices, tableNamesFromEnv } from './environment.js';
import { metrics } from './metrics.js';
import { withPowertools } from './middleware.js';

/**
 * Reads the Executions and ExecutionSteps streams: status events to EventBridge, execution and step
 * metrics, and the clean-up after retention removes an execution. A failure fails the batch, which
 * the event source mapping retries, halves and at last parks (README: a parked batch is replayed by
 * hand). Consumers of the events may see one twice (`detail.eventKey`); a removal is forgotten once.
 */
export const handler = withPowertools(async (event: DynamoDBStreamEvent) => {
  const changes = toFeedChanges(event.Records, tableNamesFromEnv());
  const result = await getServices().changeFeed.apply(changes);
  const counts = Object.entries(result.counts);
  for (const [name, count] of counts) metrics.addMetric(name, MetricUnit.Count, count);
  // Published here rather than by the logMetrics middleware: most batches (a step queued, a step
  // claimed) yield no metric, and the middleware would warn about each of them.
  if (counts.length > 0) metrics.publishStoredMetrics();
  // Per step type: a metric with a dimension of its own is published on its own.
  for (const step of result.steps) {
    if (step.durationSeconds !== undefined) {
      const duration = metrics.singleMetric();
      duration.addDimension(MetricDimension.StepType, step.stepType);
      duration.addMetric(MetricName.StepDuration, MetricUnit.Seconds, step.durationSeconds);
    }
    if (step.failed) {
      const failed = metrics.singleMetric();
      failed.addDimension(MetricDimension.StepType, step.stepType);
      failed.addMetric(MetricName.StepsFailed, MetricUnit.Count, 1);
    }
  }
  return { records: event.Records.length, changes: changes.length };
});
