import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { TABLES, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import { HandlerGroup } from '../../core/api/routes.js';
import { readConfig } from '../../lib/config.js';
import { ServiceStack } from '../../lib/service-stack.js';

/** One statement of a function's role, as far as the grants check needs it. */
export interface GrantedStatement {
  actions: string[];
  /** Tables whose own ARN it names. */
  tables: TableKey[];
  /** Tables whose indexes (`<table ARN>/index/*`) it names. */
  indexes: TableKey[];
}

/** Each function's statements, by the name the local runtime invokes it under (local/api-gateway.ts `invoke`). */
export type FunctionGrants = Record<string, GrantedStatement[]>;

/**
 * The grants of every function of the synthesized stack (no bundling: the template is what counts),
 * for the e2e suite's check of the calls each function really makes (sdk-calls.ts).
 */
export function functionGrants(): FunctionGrants {
  const outdir = mkdtempSync(join(tmpdir(), 'grants-synth-'));
  try {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, outdir });
    const stack = new ServiceStack(app, 'Grants', { config: readConfig(app.node) });
    const resources = app.synth().getStackByName(stack.stackName).template.Resources as Record<
      string,
      { Type: string; Properties: Record<string, any> }
    >;
    const logicalId = (construct: IConstruct) =>
      Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
    const tableIds = (Object.keys(TABLES) as TableKey[]).map((key) => [
      key,
      logicalId(stack.data.tables[key]),
    ]);
    const statementsOf = (role: IConstruct | undefined): GrantedStatement[] => {
      const roleRef = JSON.stringify([{ Ref: logicalId(role as IConstruct) }]);
      return Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === roleRef)
        .flatMap(
          (policy) => policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
        )
        .map((statement) => {
          const text = JSON.stringify(statement.Resource);
          const named = (suffix: string) =>
            tableIds
              .filter(([, id]) => text.includes(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }).slice(0, -1)))
              .filter(([, id]) =>
                suffix
                  ? text.includes(`${JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })},"${suffix}"`)
                  : text.includes(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })),
              )
              .map(([key]) => key as TableKey);
          return {
            actions: [statement.Action].flat() as string[],
            tables: named(''),
            indexes: named('/index/*'),
          };
        });
    };
    const api = stack.api.functions;
    return {
      ...Object.fromEntries(
        Object.values(HandlerGroup).map((group) => [group, statementsOf(api[group].role)]),
      ),
      authorizer: statementsOf(stack.api.authorizerFunction.role),
      orchestrator: statementsOf(stack.workflow.orchestratorFunction.role),
      reconciler: statementsOf(stack.workflow.reconcilerFunction.role),
      dispatcher: statementsOf(stack.cronTrigger.dispatcherFunction.role),
      'change-feed': statementsOf(stack.changeFeed.function.role),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
