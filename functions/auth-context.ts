import type { Initiator, Principal, Role } from '../core/model.js';
import { Role as Roles } from '../core/model.js';

/**
 * How the authorizer hands the caller to the handlers. API Gateway only passes flat string, number
 * and boolean values in the authorizer context, so roles and pools travel as comma-separated lists
 * (neither a role nor a pool name can hold a comma). Every pool is said explicitly, as `*` (not a
 * pool name): a context that lost its `pools` then serves none rather than all.
 */
export interface AuthorizerContext {
  [key: string]: string;
  principalType: Principal['type'];
  principalName: string;
  roles: string;
  pools: string;
}

const EVERY_POOL = '*';

export const toAuthorizerContext = (principal: Principal): AuthorizerContext => ({
  principalType: principal.type,
  principalName: principal.name,
  roles: principal.roles.join(','),
  pools: principal.pools?.join(',') ?? EVERY_POOL,
});

const listOf = (value: unknown): string[] =>
  String(value ?? '')
    .split(',')
    .filter(Boolean);

const ROLE_VALUES = new Set<string>(Object.values(Roles));

/** The principal API Gateway passed through, or undefined when the request carries none. */
export function fromAuthorizerContext(
  authorizer: Record<string, unknown> | null | undefined,
): Principal | undefined {
  if (!authorizer || typeof authorizer.principalId !== 'string') return undefined;
  const roles = listOf(authorizer.roles).filter((role): role is Role => ROLE_VALUES.has(role));
  return {
    type: authorizer.principalType === 'User' ? 'User' : 'ApiKey',
    id: authorizer.principalId,
    name: String(authorizer.principalName ?? ''),
    roles,
    ...(authorizer.pools === EVERY_POOL ? {} : { pools: listOf(authorizer.pools) }),
  };
}

/** The caller as recorded on what it starts or cancels (`initiatedBy*`, `cancelledBy*`). */
export const initiator = (principal: Principal): Initiator => ({
  type: principal.type,
  id: principal.id,
  name: principal.name,
});
