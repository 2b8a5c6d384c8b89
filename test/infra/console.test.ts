import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONSOLE_CONFIG_FILE,
  consoleConfig,
  consoleContentSecurityPolicy,
} from '../../core/api/console-config.js';
import { API_BASE_PATH } from '../../core/api/routes.js';
import { readConfig } from '../../lib/config.js';
import { OperatorConsole } from '../../lib/constructs/console.js';
import { newApp, type Resource, type Statement, synth } from './template.js';

/** AWS's ids of the managed policies, as the CloudFront developer guide lists them. */
const MANAGED = {
  cachingOptimized: '658327ea-f89d-4fab-a63d-7e88639e58f6',
  cachingDisabled: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
  allViewerExceptHostHeader: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
} as const;

const OIDC_CONTEXT = {
  oidcIssuer: 'https://login.example.com/tenant/v2.0',
  oidcAudience: 'api://schedules',
  oidcClientIds: 'console-spa,cli',
};

const { stack, template, resources, logicalId, ofType, app } = synth();
const bucketId = logicalId(stack.console.bucket);
const distributionId = logicalId(stack.console.distribution);
const distribution = (resources[distributionId] as Resource).Properties.DistributionConfig;
const originById = (id: string) => distribution.Origins.find((o: { Id: string }) => o.Id === id);
const apiBehavior = distribution.CacheBehaviors.find(
  (b: { PathPattern: string }) => b.PathPattern === `${API_BASE_PATH}/*`,
);

/** The config.json the deployment uploads: the staged asset holding it, in the cloud assembly. */
const deployedConfigs = (outdir: string): unknown[] =>
  readdirSync(outdir)
    .filter((entry) => entry.startsWith('asset.'))
    .flatMap((entry) => {
      try {
        return [JSON.parse(readFileSync(join(outdir, entry, CONSOLE_CONFIG_FILE), 'utf8'))];
      } catch {
        return [];
      }
    });

describe('OperatorConsole', () => {
  it('keeps the bucket private, encrypted, TLS-only and retained', () => {
    const bucket = resources[bucketId] as Resource;
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
  });

  it('lets only this distribution read the bucket (AWS:SourceArn), and nobody over plain HTTP', () => {
    const [[, policy]] = ofType('AWS::S3::BucketPolicy').filter(
      ([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucketId }),
    ) as [[string, Resource]];
    const statements = policy.Properties.PolicyDocument.Statement as (Statement & Record<string, any>)[];

    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudfront::',
                  { Ref: 'AWS::AccountId' },
                  ':distribution/',
                  { Ref: distributionId },
                ],
              ],
            },
          },
        },
      },
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('serves the bucket through Origin Access Control: index.html at /, https, compressed, cached', () => {
    const origin = originById(distribution.DefaultCacheBehavior.TargetOriginId);
    expect(origin.DomainName).toEqual({ 'Fn::GetAtt': [bucketId, 'RegionalDomainName'] });
    expect(origin.OriginAccessControlId).toBeDefined();
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: {
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      },
    });
    expect(distribution.DefaultRootObject).toBe('index.html');
    expect(distribution.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
      Compress: true,
      CachePolicyId: MANAGED.cachingOptimized,
    });
  });

  it('sends /api/v1/* to the API stage uncached, with every viewer header but Host', () => {
    expect(distribution.CacheBehaviors).toHaveLength(1);
    expect(apiBehavior).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      AllowedMethods: expect.arrayContaining(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']),
      CachePolicyId: MANAGED.cachingDisabled,
      OriginRequestPolicyId: MANAGED.allViewerExceptHostHeader,
    });
    expect(apiBehavior.AllowedMethods).toHaveLength(7);

    const origin = originById(apiBehavior.TargetOriginId);
    // The API's resources are /api/v1/... inside the stage: the origin path is the stage alone.
    expect(origin.OriginPath).toBe('/prod');
    expect(origin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    expect(JSON.stringify(origin.DomainName)).toContain(`{"Ref":"${logicalId(stack.api.api)}"}`);
    expect(JSON.stringify(origin.DomainName)).toContain('.execute-api.');
  });

  it('takes the origin path from the stage name', () => {
    const { resources: other, logicalId: idOf, stack: s } = synth({ stageName: 'beta' });
    const config = (other[idOf(s.console.distribution)] as Resource).Properties.DistributionConfig;
    const behavior = config.CacheBehaviors[0];
    const origin = config.Origins.find((o: { Id: string }) => o.Id === behavior.TargetOriginId);
    expect(origin.OriginPath).toBe('/beta');
  });

  it('answers both behaviours with the security headers', () => {
    const policyRef = { Ref: logicalId(stack.console.node.findChild('SecurityHeaders')) };
    expect(distribution.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual(policyRef);
    expect(apiBehavior.ResponseHeadersPolicyId).toEqual(policyRef);
    const [[, policy]] = ofType('AWS::CloudFront::ResponseHeadersPolicy') as [[string, Resource]];
    expect(policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig).toEqual({
      ContentSecurityPolicy: {
        ContentSecurityPolicy: consoleContentSecurityPolicy(consoleConfig(undefined)),
        Override: true,
      },
      StrictTransportSecurity: {
        AccessControlMaxAgeSec: 63_072_000,
        IncludeSubdomains: true,
        Override: true,
      },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
  });

  it('deploys the build and config.json into the bucket, then invalidates the distribution', () => {
    const [[, deployment]] = ofType('Custom::CDKBucketDeployment') as [[string, Resource]];
    expect(deployment.Properties.DestinationBucketName).toEqual({ Ref: bucketId });
    expect(deployment.Properties.DistributionId).toEqual({ Ref: distributionId });
    expect(deployment.Properties.DistributionPaths).toEqual(['/*']);
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(2);
    expect(deployment.Properties.Prune).toBe(true);
    expect(deployedConfigs(app.outdir)).toEqual([consoleConfig(undefined)]);
  });

  it('outputs the console URL', () => {
    template.hasOutput('ConsoleUrl', {
      Value: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] },
    });
  });

  describe('with OIDC sign-in', () => {
    const oidc = synth(OIDC_CONTEXT);
    const settings = readConfig(oidc.app.node).oidc;

    it('writes the issuer and the first client id into config.json', () => {
      expect(deployedConfigs(oidc.app.outdir)).toEqual([
        {
          apiBase: API_BASE_PATH,
          oidc: { issuer: OIDC_CONTEXT.oidcIssuer, clientId: 'console-spa' },
        },
      ]);
    });

    it("lets the console's scripts reach the issuer's origin, and nothing else but its own", () => {
      const [[, policy]] = oidc.ofType('AWS::CloudFront::ResponseHeadersPolicy') as [[string, Resource]];
      const csp = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy
        .ContentSecurityPolicy as string;
      expect(csp).toBe(consoleContentSecurityPolicy(consoleConfig(settings)));
      expect(csp).toContain("connect-src 'self' https://login.example.com;");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
    });
  });

  describe('without a built console', () => {
    const empty = mkdtempSync(join(tmpdir(), 'console-build-'));
    afterAll(() => rmSync(empty, { recursive: true, force: true }));

    it('fails the synth saying to run npm run build:console', () => {
      const scope = new Stack(newApp({}), 'Alone');
      const api = new RestApi(scope, 'Api');
      api.root.addMethod('GET');
      expect(
        () =>
          new OperatorConsole(scope, 'Console', {
            api,
            stageName: 'prod',
            logRetention: RetentionDays.ONE_WEEK,
            buildDir: empty,
          }),
      ).toThrow(/run npm run build:console/);
    });
  });
});

describe('consoleContentSecurityPolicy', () => {
  it("allows only 'self' to be fetched when sign-in is off", () => {
    expect(consoleContentSecurityPolicy(consoleConfig(undefined))).toContain("connect-src 'self';");
  });

  it("adds the issuer's origin (not its path) to connect-src", () => {
    const csp = consoleContentSecurityPolicy(
      consoleConfig({
        issuer: 'https://idp.example.org:8443/realms/ops',
        audience: 'a',
        rolesClaim: 'roles',
      }),
    );
    expect(csp).toContain("connect-src 'self' https://idp.example.org:8443;");
  });
});
