import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { type Credential, readCredential } from '../core/auth/credentials.js';
import type { Principal } from '../core/model.js';
import { toAuthorizerContext } from './auth-context.js';
import { getServices, getUserTokens } from './environment.js';
import { logger } from './logger.js';
import { withPowertools } from './middleware.js';

/** What API Gateway expects an authorizer to throw to answer 401 (its gateway response UNAUTHORIZED). */
export const UNAUTHORIZED = 'Unauthorized';

/** The caller the credential stands for; `reason` says why there is none (for the log). */
async function authenticate(credential: Credential): Promise<{ principal?: Principal; reason: string }> {
  switch (credential.kind) {
    case 'apiKey':
      return {
        principal: await getServices().apiKeys.authenticate(credential.key),
        reason: 'an unknown, revoked or expired API key',
      };
    case 'bearer': {
      const userTokens = getUserTokens();
      if (!userTokens) return { reason: 'a Bearer token, but OIDC is not configured' };
      // The verifier logs why a token is refused.
      return {
        principal: await userTokens.authenticate(credential.token),
        reason: 'an invalid Bearer token',
      };
    }
    case 'none':
      return { reason: credential.reason };
  }
}

/**
 * REQUEST authorizer: authenticates, never authorises. Any valid credential (an API key, or a
 * Bearer token from the configured OIDC issuer) is allowed through with its roles in the context,
 * so the handlers answer 403 in the contract's error format; invalid or missing credentials, or
 * both kinds at once (`readCredential`), are refused here (401). Results are not cached: a revoked
 * key stops at once.
 */
async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const { principal, reason } = await authenticate(readCredential(event.headers));
  if (!principal) {
    // Never the credential itself: only which kind was refused.
    logger.info('Refused credentials', { reason });
    throw new Error(UNAUTHORIZED);
  }
  // arn:aws:execute-api:region:account:api/stage/METHOD/path → allow the whole stage.
  const [apiArn, stage] = event.methodArn.split('/');
  return {
    principalId: principal.id,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${apiArn}/${stage}/*` }],
    },
    context: toAuthorizerContext(principal),
  };
}

export const handler = withPowertools(authorize);
