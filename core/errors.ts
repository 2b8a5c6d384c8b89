/**
 * Error codes of the contract and the classes that carry them. Every 4xx/5xx body the service sends
 * is built by {@link toErrorBody} from one of these, so `code` is never empty and never invented.
 */

import type { ValueOf } from './enum.js';

export const ErrorCode = {
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORISED: 'UNAUTHORISED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const;
export type ErrorCode = ValueOf<typeof ErrorCode>;

export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_ERROR: 400,
  BAD_REQUEST: 400,
  UNAUTHORISED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  // What the IETF Idempotency-Key draft answers a key reused with another request.
  TOO_MANY_REQUESTS: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

export type ValidationErrors = Record<string, string[]>;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
  validationErrors?: ValidationErrors;
  timestamp: string;
}

interface ApiErrorOptions extends ErrorOptions {
  details?: unknown;
  validationErrors?: ValidationErrors;
}

/** An error the API reports to its caller as it is: the message is safe to show. */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  readonly details: unknown;
  readonly validationErrors: ValidationErrors | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
    this.details = options.details;
    this.validationErrors = options.validationErrors;
  }

  get statusCode(): number {
    return STATUS_BY_CODE[this.code];
  }
}

export class ValidationError extends ApiError {
  override readonly name = 'ValidationError';
  constructor(validationErrors: ValidationErrors, message = 'The request is not valid.') {
    super(ErrorCode.VALIDATION_ERROR, message, { validationErrors });
  }
}

export class BadRequestError extends ApiError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: ApiErrorOptions) {
    super(ErrorCode.BAD_REQUEST, message, options);
  }
}

export class UnauthorisedError extends ApiError {
  override readonly name = 'UnauthorisedError';
  constructor(message = 'Authentication required: send a valid X-Api-Key or Authorization: Bearer header.') {
    super(ErrorCode.UNAUTHORISED, message);
  }
}

export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(what: string, id: string) {
    super(ErrorCode.NOT_FOUND, `${what} '${id}' does not exist.`, { details: { id } });
  }
}

export class ConflictError extends ApiError {
  override readonly name = 'ConflictError';
  constructor(message: string, details?: unknown, options?: ErrorOptions) {
    super(ErrorCode.CONFLICT, message, { ...options, details });
  }
}

/**
 * An Idempotency-Key sent again with a request other than the one it was first used with. A 409
 * `CONFLICT` (the key is held by the other request) rather than the IETF draft's 422, whose code
 * the contract's closed list does not have.
 */
export class IdempotencyKeyReusedError extends ApiError {
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(message: string, details?: unknown) {
    super(ErrorCode.CONFLICT, message, { details });
  }
}

/** Maps any thrown value to the contract's error body; unknown errors never leak their message. */
export function toErrorBody(error: unknown, now: Date = new Date()): { statusCode: number; body: ErrorBody } {
  if (error instanceof ApiError) {
    const body: ErrorBody = { code: error.code, message: error.message, timestamp: now.toISOString() };
    if (error.details !== undefined) body.details = error.details;
    if (error.validationErrors !== undefined) body.validationErrors = error.validationErrors;
    return { statusCode: error.statusCode, body };
  }
  return {
    statusCode: 500,
    body: {
      code: ErrorCode.INTERNAL_ERROR,
      message: 'An unexpected error occurred. It has been logged.',
      timestamp: now.toISOString(),
    },
  };
}
