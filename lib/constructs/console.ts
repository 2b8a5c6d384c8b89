import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  OriginRequestPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { RestApiOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import {
  CONSOLE_BUILD_DIR,
  CONSOLE_CONFIG_FILE,
  consoleConfig,
  consoleContentSecurityPolicy,
} from '../../core/api/console-config.js';
import { API_BASE_PATH } from '../../core/api/routes.js';
import type { OidcSettings } from '../../core/auth/oidc-settings.js';
import { acknowledgeNag, acknowledgeResourceWildcards } from '../nag.js';

export interface OperatorConsoleProps {
  /** The REST API the console calls; served under {@link API_BASE_PATH} on the console's origin. */
  readonly api: RestApi;
  /** The API's stage: its resources live at `/<stage>/api/v1/...` on the execute-api domain. */
  readonly stageName: string;
  /**
   * The sign-in the console offers (`config.json`) and the issuer its CSP lets it reach.
   *
   * @default API keys only
   */
  readonly oidc?: OidcSettings;
  /** Retention of the log of the function that copies the files into the bucket. */
  readonly logRetention: RetentionDays;
  /**
   * What happens to the bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN, as the stack's tables
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The built console, a directory with `index.html` at its top.
   *
   * @default CONSOLE_BUILD_DIR of the repository (`npm run build:console`)
   */
  readonly buildDir?: string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The operator console in the cloud: its static files in a private bucket, served by a CloudFront
 * distribution that also sends `/api/v1/*` to the REST API, so the console and the API share one
 * origin (no CORS). The bucket is readable only by this distribution (Origin Access Control).
 */
export class OperatorConsole extends Construct {
  /** The bucket holding the built console and its `config.json`. */
  public readonly bucket: Bucket;
  /** The distribution in front of the bucket and the API. */
  public readonly distribution: Distribution;
  /** The console's URL, `https://<distribution domain>/`: the OIDC redirect URI too. */
  public readonly url: string;
  /** Copies the build and `config.json` into the bucket at deploy time, then invalidates the distribution. */
  public readonly deployment: BucketDeployment;

  constructor(scope: Construct, id: string, props: OperatorConsoleProps) {
    super(scope, id);
    const buildDir = props.buildDir ?? join(ROOT, CONSOLE_BUILD_DIR);
    // Source.asset would fail later with a bare "Cannot find asset"; say how to get it instead.
    if (!existsSync(join(buildDir, 'index.html'))) {
      throw new Error(
        `The operator console is not built (no ${join(buildDir, 'index.html')}): run npm run build:console ` +
          '(cdk synth and cdk deploy run it through the "build" key of cdk.json).',
      );
    }

    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // SSE-S3: CloudFront's Origin Access Control reads it with no KMS key policy to maintain.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledgeNag(
      this.bucket,
      'S1',
      'Holds only the built console (no data) and is written only by the stack deployment; every read ' +
        'comes through the distribution, whose requests reach the API access log for the API part.',
    );

    const responseHeaders = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Operator console: CSP (self and the OIDC issuer), HSTS, nosniff, no framing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: consoleContentSecurityPolicy(consoleConfig(props.oidc)),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Schedule execution service: operator console and its API',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        // Adds the bucket policy statement that lets this distribution, and only it, read objects.
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        compress: true,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: responseHeaders,
      },
      additionalBehaviors: {
        [`${API_BASE_PATH}/*`]: {
          // The stage is the execute-api URL's first segment; the API's own resources start at
          // /api/v1, so /api/v1/x on this origin is /<stage>/api/v1/x there.
          origin: new RestApiOrigin(props.api, { originPath: `/${props.stageName}` }),
          // No redirect: a POST redirected to https would lose its body.
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          // CloudFront compresses only what it caches, and nothing here is cached.
          compress: false,
          // Every answer depends on the caller's key or token: never cached. CloudFront will not
          // forward `Authorization` through an origin request policy that lists it (the API answers
          // 400 to such a policy), and a cache policy may put it in the cache key only when it also
          // caches (some TTL above 0), which would keep one caller's answer for the next. With
          // caching disabled, the managed AllViewerExceptHostHeader policy is the documented way: it
          // forwards every viewer header (Authorization, X-Api-Key, Idempotency-Key, Content-Type
          // among them) and the query string, but not Host, which must stay the execute-api domain
          // or API Gateway answers 403.
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: responseHeaders,
        },
      },
    });
    this.url = `https://${this.distribution.distributionDomainName}/`;
    acknowledgeNag(
      this.distribution,
      'CFR1',
      'No geo restriction: operators and their identity provider may be anywhere; every API call still ' +
        'needs an API key or a token.',
    );
    acknowledgeNag(
      this.distribution,
      'CFR2',
      'No WAF web ACL, as on the API stage: the API behind it is authorized and throttled per stage, and the ' +
        'static files are public by nature; an operator can associate a web ACL without a stack change.',
    );
    acknowledgeNag(
      this.distribution,
      'CFR3',
      'No CloudFront access log: API requests are logged by the API stage access log (with the caller), ' +
        'and the static files hold nothing to audit; standard logging needs an ACL-enabled log bucket.',
    );
    acknowledgeNag(
      this.distribution,
      'CFR4',
      'Served on the default *.cloudfront.net certificate (no custom domain), for which CloudFront fixes the ' +
        'security policy; a custom domain with an ACM certificate would allow TLSv1.2_2021 as the minimum.',
    );

    // The asset as its own construct (what Source.asset makes inside), so its bucket can be named below.
    const build = new Asset(this, 'Build', { path: buildDir });
    const deployment = new BucketDeployment(this, 'Files', {
      sources: [
        Source.bucket(build.bucket, build.s3ObjectKey),
        Source.jsonData(CONSOLE_CONFIG_FILE, consoleConfig(props.oidc)),
      ],
      destinationBucket: this.bucket,
      // Revalidate on every load (ETags make that a 304): a new deploy is seen at once, and
      // config.json never outlives a change of sign-in settings.
      cacheControl: [CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      logGroup: new LogGroup(this, 'FilesDeploymentLogs', { retention: props.logRetention }),
    });
    this.deployment = deployment;
    // The copy runs in CDK's singleton deployment function, created at the stack's root: its
    // findings are on its role and function, outside this construct.
    const handler = deployment.handlerRole.node.scope;
    acknowledgeNag(
      deployment.handlerRole,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "CDK's BucketDeployment function (it copies the console into its bucket at deploy time) writes its " +
        'logs with the managed policy that grants exactly that.',
    );
    acknowledgeResourceWildcards(
      deployment.handlerRole,
      [build.bucket.arnForObjects('*'), this.bucket.arnForObjects('*')],
      "CDK's BucketDeployment function reads the zipped build from the bootstrap asset bucket and syncs " +
        'every object of the console bucket (upload, prune), so it names objects by prefix in those two buckets.',
    );
    for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
      acknowledgeNag(
        deployment.handlerRole,
        `IAM5[Action::${action}]`,
        `${action} comes from the read and read-write grants aws-cdk-lib gives its BucketDeployment ` +
          'function on the asset bucket and the console bucket (both named): a sync reads, writes and prunes.',
      );
    }
    acknowledgeNag(
      deployment.handlerRole,
      'IAM5[Resource::*]',
      'aws-cdk-lib grants its BucketDeployment function cloudfront:CreateInvalidation and GetInvalidation ' +
        'on every distribution; it invalidates only the one its custom resource names (this one, /*).',
    );
    if (handler) {
      acknowledgeNag(
        handler,
        'L1',
        "CDK's BucketDeployment function: aws-cdk-lib pins its runtime to the one its bundled AWS CLI " +
          'supports; it runs only during deploys.',
      );
    }
  }
}
