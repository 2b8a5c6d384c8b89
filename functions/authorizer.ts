import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { toAuthorizerContext } from './auth-context.js';
import { getServices } from './environment.js';
import { logger } from './logger.js';

/** What API Gateway expects an authorizer to throw to answer 401 (its gateway response UNAUTHORIZED). */
export const UNAUTHORIZED = 'Unauthorized';

const header = (event: APIGatewayRequestAuthorizerEvent, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return entry?.[1] ?? undefined;
};

/**
 * REQUEST authorizer: authenticates, never authorises. Any valid credential is allowed through with
 * its roles in the context, so the handlers answer 403 in the contract's error format; invalid or
 * missing credentials are refused here (401). Results are not cached: a revoked key stops at once.
 */
async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const apiKey = header(event, 'x-api-key');
  const principal = apiKey ? await getServices().apiKeys.authenticate(apiKey) : undefined;
  if (!principal) {
    logger.info('Refused credentials', {
      hasApiKey: apiKey !== undefined,
      hasBearer: !!header(event, 'authorization'),
    });
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

export const handler = middy(authorize).use(injectLambdaContext(logger, { resetKeys: true }));
