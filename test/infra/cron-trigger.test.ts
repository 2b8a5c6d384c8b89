import { describe, expect, it } from 'vitest';
import { queriesIndexesOf, type Resource, synth } from './template.js';

const { stack, template, resources, logicalId, roleStatements, tableAccess } = synth();
const { dispatcherFunction, rule } = stack.cronTrigger;
const dispatcherId = logicalId(dispatcherFunction);
const ruleId = logicalId(rule);

describe('CronTrigger', () => {
  it('invokes the dispatcher every minute with an EventBridge cron rule', () => {
    const properties = (resources[ruleId] as Resource).Properties;
    expect(properties).toMatchObject({ ScheduleExpression: 'cron(* * * * ? *)', State: 'ENABLED' });
    expect(properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [dispatcherId, 'Arn'] },
        RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [dispatcherId, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });

  it('runs the dispatcher handler, within the minute, without Lambda retries', () => {
    const fn = (resources[dispatcherId] as Resource).Properties;
    expect(fn.Timeout).toBeLessThanOrEqual(60);
    expect(fn.MemorySize).toBe(1024);
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
        { AttributeName: 'dueShard', KeyType: 'HASH' },
        { AttributeName: 'dueAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
  });
});
