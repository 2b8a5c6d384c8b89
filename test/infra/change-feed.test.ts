import { describe, expect, it } from 'vitest';
import { WORKFLOW_ENV } from '../../core/environment.js';
import { actions, type Resource, synth } from './template.js';

const { stack, resources, logicalId, ofType, roleStatements, tableAccess, tableIds } = synth({
  retentionDays: 30,
});
const fn = stack.changeFeed.function;
const fnId = logicalId(fn);

describe('ChangeFeed', () => {
  it('streams new and old images of executions and their steps, and expires executions, tasks and forgotten markers by TTL', () => {
    const table = (id: string) => (resources[id] as Resource).Properties;
    for (const key of ['executions', 'executionSteps'] as const) {
      expect(table(tableIds[key]).StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    }
    for (const key of ['executions', 'workerTasks', 'counters'] as const) {
      expect(table(tableIds[key]).TimeToLiveSpecification).toEqual({
        AttributeName: 'expiresAt',
        Enabled: true,
      });
    }
    expect(table(tableIds.schedules).StreamSpecification).toBeUndefined();
  });

  it('reads both streams from the start, bisecting and parking failed batches in an encrypted queue', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties);
    expect(mappings).toHaveLength(2);
    for (const mapping of mappings) {
      expect(mapping).toMatchObject({
        FunctionName: { Ref: fnId },
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 5,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.changeFeed.deadLetterQueue), 'Arn'] } },
        },
      });
    }
    const queue = resources[logicalId(stack.changeFeed.deadLetterQueue)] as Resource;
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('may put events on the default bus only, and touch only the steps and counters tables', () => {
    const statements = roleStatements(fn);
    const puts = statements.filter((s) => actions(s).includes('events:PutEvents'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]?.Resource)).toContain(':event-bus/default');
    expect(tableAccess(fn).write).toEqual(['counters', 'executionSteps']);
  });

  it('tells every function the retention, from context, in seconds', () => {
    for (const f of [fn, stack.workflow.orchestratorFunction, stack.cronTrigger.dispatcherFunction]) {
      const variables = (resources[logicalId(f)] as Resource).Properties.Environment.Variables;
      expect(variables[WORKFLOW_ENV.retentionSeconds]).toBe(String(30 * 86_400));
    }
  });
});
