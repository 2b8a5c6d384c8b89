import { type App, Stack, Validations } from 'aws-cdk-lib';
import type { Grant } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
// Not part of cdk-nag's index, but it is the function that spells IAM5 finding ids; using it (rather
// than a copy) keeps the acknowledgements below matching the findings when cdk-nag changes the format.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag (AWS Solutions pack) for the app, and the one way this project acknowledges its findings.
 * A finding fails the synth; `cdk.out/validation-report.json` lists what is left.
 */

/** The pack's plugin name; CDK's validation report prefixes every rule id with it (`AwsSolutions::`). */
const PACK = 'AwsSolutions';

/** Runs the AWS Solutions checks on every stack of the app at synth. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * Acknowledges a finding of `rule` (e.g. `APIG3`, `IAM4[Policy::...]`) on `scope` and everything
 * under it. Without the `AwsSolutions::` prefix CDK files the id under its own annotations and it
 * would match nothing.
 */
export function acknowledgeNag(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${PACK}::${PACK}-${rule}`, reason });
}

/**
 * Acknowledges the IAM5 findings of exactly the wildcard resources `grant` added to the policy of
 * `grantee` (e.g. `<table>.Arn/index/*`): other wildcards on the same role still fail the synth.
 */
export function acknowledgeGrantWildcards(grantee: IConstruct, grant: Grant, reason: string): void {
  acknowledgeResourceWildcards(
    grantee,
    grant.principalStatements.flatMap((statement) => statement.resources),
    reason,
  );
}

/**
 * Acknowledges the IAM5 findings of exactly these resources (ARNs, tokens allowed) on the policy of
 * `grantee`, for the wildcards among them; resources without one are skipped.
 */
export function acknowledgeResourceWildcards(
  grantee: IConstruct,
  resources: readonly string[],
  reason: string,
): void {
  const stack = Stack.of(grantee);
  for (const resource of resources) {
    const flat = flattenCfnReference(stack.resolve(resource));
    if (flat.includes('*')) acknowledgeNag(grantee, `IAM5[Resource::${flat}]`, reason);
  }
}
