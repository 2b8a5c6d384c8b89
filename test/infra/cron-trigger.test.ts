import { describe, expect, it } from 'vitest';
import { ALL_DUE_PARTITIONS } from '../../core/due-partitions.js';
import { DispatchEvent } from '../../core/schemas/dispatch.js';
import { expectInvokedByRule, queriesIndexesOf, type Resource, synth } from './template.js';

const { stack, template, resources, logicalId, roleStatements, tableAccess } = synth();
const { dispatcherFunction, rule } = stack.cronTrigger;
const dispatcherId = logicalId(dispatcherFunction);
const ruleId = logicalId(rule);

describe('CronTrigger', () => {
  it('invokes the dispatcher every minute, once per due partition, with an EventBridge cron rule', () => {
    const properties = (resources[ruleId] as Resource).Properties;
    expect(properties).toMatchObject({ ScheduleExpression: 'cron(* * * * ? *)', State: 'ENABLED' });
    expect(properties.Targets).toEqual(
      ALL_DUE_PARTITIONS.map((partition) =>
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [dispatcherId, 'Arn'] },
          Input: JSON.stringify({ partition }),
          RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 },
        }),
      ),
    );
    // Each target's input is an event the handler accepts, naming a partition.
    for (const target of properties.Targets) {
      expect(DispatchEvent.parse(JSON.parse(target.Input)).partition).toBeTypeOf('number');
    }
    expectInvokedByRule(template, dispatcherId, ruleId);
  });

  it('runs the dispatcher handler, within the minute, without Lambda retries', () => {
    const fn = (resources[dispatcherId] as Resource).Properties;
    expect(fn.Timeout).toBeLessThanOrEqual(60);
    expect(fn.MemorySize).toBe(1769);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: dispatcherId },
      MaximumRetryAttempts: 0,
    });
  });

  it('grants the dispatcher exactly the tables a run writes, and the due index', () => {
    const access = tableAccess(dispatcherFunction);
    expect(access.write).toEqual(['counters', 'executionSteps', 'executions', 'schedules']);
    expect(access.reach).toEqual(access.write);
    const statements = roleStatements(dispatcherFunction);
    expect(queriesIndexesOf(statements, logicalId(stack.data.tables.schedules))).toBe(true);
    expect(queriesIndexesOf(statements, logicalId(stack.data.tables.executions))).toBe(true);
  });

  it('gives the Schedules table its sparse due index (keys only)', () => {
    const table = resources[logicalId(stack.data.tables.schedules)] as Resource;
    expect(table.Properties.GlobalSecondaryIndexes).toContainEqual({
      IndexName: 'due',
      KeySchema: [
        { AttributeName: 'duePartition', KeyType: 'HASH' },
        { AttributeName: 'dueAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
  });
});
