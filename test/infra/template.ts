import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll } from 'vitest';
import { TABLES, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import { readConfig } from '../../lib/config.js';
import { ServiceStack } from '../../lib/service-stack.js';

/** Helpers shared by the infra tests: synthesize the stack, then read resources and policies. */

export type Resource = {
  Type: string;
  Properties: Record<string, any>;
  DeletionPolicy?: string;
  [k: string]: any;
};
export type Statement = { Action: string | string[]; Effect: string; Resource: unknown };

// Every App writes a cloud assembly; keep them all under one directory and remove it at the end.
const outRoot = mkdtempSync(join(tmpdir(), 'infra-test-'));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

// CDK's built-in CloudFormation schema validation costs ~1.5 s a synth: only the full synth runs it.
export const newApp = (context: Record<string, unknown>, validate = false) =>
  new App({
    context,
    outdir: mkdtempSync(join(outRoot, 'cdk.out-')),
    builtinCloudFormationValidation: validate,
  });

export const actions = (statement: Statement): string[] => [statement.Action].flat();

/** Whether some statement allows Query on the indexes of the table with this logical id. */
export const queriesIndexesOf = (statements: Statement[], tableLogicalId: string): boolean => {
  const indexArn = JSON.stringify({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [tableLogicalId, 'Arn'] }, '/index/*']],
  });
  return statements.some(
    (s) => actions(s).includes('dynamodb:Query') && JSON.stringify(s.Resource).includes(indexArn),
  );
};

/** Asserts that the rule may invoke the function (the permission EventBridge needs). */
export const expectInvokedByRule = (template: Template, functionId: string, ruleId: string) =>
  template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    Principal: 'events.amazonaws.com',
    FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
    SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
  });

/**
 * Synthesizes the stack. The quick kind skips bundling (esbuild takes seconds, the template does
 * not) and schema validation; the full kind does both, as `cdk synth` does.
 */
export function synth(context: Record<string, unknown> = {}, full = false) {
  const app = full ? newApp(context, true) : newApp({ 'aws:cdk:bundling-stacks': [], ...context });
  const stack = new ServiceStack(app, 'Test', { config: readConfig(app.node) });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const logicalId = (construct: IConstruct) =>
    stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  // aws-cdk-lib's own deploy-time function (it copies the console into its bucket); not the service's.
  const deployTimeFunctionIds = new Set([
    logicalId(stack.console.deployment.handlerRole.node.scope as IConstruct),
  ]);
  /** The service's Lambda functions: every one in the template but aws-cdk-lib's deploy-time one. */
  const functions = ofType('AWS::Lambda::Function').filter(([id]) => !deployTimeFunctionIds.has(id));
  const tableIds = Object.fromEntries(
    (Object.keys(TABLES) as TableKey[]).map((key) => [key, logicalId(stack.data.tables[key])]),
  ) as Record<TableKey, string>;

  /** The inline policy statements attached to a function's (or state machine's) role. */
  const roleStatements = (owner: { role?: IConstruct }): Statement[] => {
    const roleId = logicalId(owner.role as IConstruct);
    return ofType('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };

  /** The tables a statement's resources name (table ARN or its indexes). */
  const tablesIn = (statement: Statement): TableKey[] =>
    (Object.keys(tableIds) as TableKey[]).filter((key) =>
      JSON.stringify(statement.Resource).includes(`"${tableIds[key]}"`),
    );

  /** Tables a function may write (PutItem) and every table it can reach at all. */
  const tableAccess = (owner: { role?: IConstruct }) => {
    const statements = roleStatements(owner);
    const writable = new Set(
      statements.filter((s) => actions(s).includes('dynamodb:PutItem')).flatMap(tablesIn),
    );
    const reachable = new Set(statements.flatMap(tablesIn));
    return { write: [...writable].sort(), reach: [...reachable].sort() };
  };

  return {
    app,
    stack,
    template,
    resources,
    logicalId,
    ofType,
    functions,
    tableIds,
    roleStatements,
    tablesIn,
    tableAccess,
  };
}
