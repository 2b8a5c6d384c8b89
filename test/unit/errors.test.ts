import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  BadRequestError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  IdempotencyKeyReusedError,
  NotFoundError,
  STATUS_BY_CODE,
  toErrorBody,
  UnauthorisedError,
  ValidationError,
} from '../../core/errors.js';

const NOW = new Date('2026-05-01T12:00:00.000Z');

describe('error classes', () => {
  it.each([
    {
      error: new ValidationError({ name: ['Required'] }),
      name: 'ValidationError',
      code: 'VALIDATION_ERROR',
      status: 400,
    },
    { error: new BadRequestError('bad'), name: 'BadRequestError', code: 'BAD_REQUEST', status: 400 },
    { error: new UnauthorisedError(), name: 'UnauthorisedError', code: 'UNAUTHORISED', status: 401 },
    { error: new ForbiddenError('no'), name: 'ForbiddenError', code: 'FORBIDDEN', status: 403 },
    { error: new NotFoundError('Schedule', 'x'), name: 'NotFoundError', code: 'NOT_FOUND', status: 404 },
    { error: new ConflictError('busy'), name: 'ConflictError', code: 'CONFLICT', status: 409 },
    {
      error: new IdempotencyKeyReusedError('another request'),
      name: 'IdempotencyKeyReusedError',
      code: 'CONFLICT',
      status: 409,
    },
    {
      error: new ApiError(ErrorCode.TOO_MANY_REQUESTS, 'slow down'),
      name: 'ApiError',
      code: 'TOO_MANY_REQUESTS',
      status: 429,
    },
    {
      error: new ApiError(ErrorCode.SERVICE_UNAVAILABLE, 'later'),
      name: 'ApiError',
      code: 'SERVICE_UNAVAILABLE',
      status: 503,
    },
  ])('gives $name the code $code and status $status', ({ error, name, code, status }) => {
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.statusCode).toBe(status);
  });

  it('maps every code of the contract to its status, as docs/contract.md lists them', () => {
    const contract = readFileSync(new URL('../../docs/contract.md', import.meta.url), 'utf8');
    const codes = /Codes: (.*?)`code` is never empty/s.exec(contract)?.[1] ?? '';
    const listed = [...codes.matchAll(/`([A-Z_]+)` (\d{3})/g)].map(([, code, status]) => [
      code,
      Number(status),
    ]);

    expect(listed).toHaveLength(9);
    expect(STATUS_BY_CODE).toEqual(Object.fromEntries(listed));
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('low level');

    const error = new ConflictError('busy', { id: 1 }, { cause });

    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ id: 1 });
  });

  it('names the missing thing and its id in a NotFoundError', () => {
    const error = new NotFoundError('Schedule', 'abc');

    expect(error.message).toBe("Schedule 'abc' does not exist.");
    expect(error.details).toEqual({ id: 'abc' });
  });
});

describe('toErrorBody', () => {
  it('reports an ApiError as it is, with details and a timestamp', () => {
    // Arrange
    const error = new ConflictError('Schedule busy.', { activeExecutionId: 'e1' });

    // Act
    const { statusCode, body } = toErrorBody(error, NOW);

    // Assert
    expect(statusCode).toBe(409);
    expect(body).toEqual({
      code: 'CONFLICT',
      message: 'Schedule busy.',
      details: { activeExecutionId: 'e1' },
      timestamp: '2026-05-01T12:00:00.000Z',
    });
  });

  it('reports a ValidationError with its validationErrors and no details', () => {
    // Arrange
    const error = new ValidationError({ 'steps[0].scriptPath': ['Required'] });

    // Act
    const { statusCode, body } = toErrorBody(error, NOW);

    // Assert
    expect(statusCode).toBe(400);
    expect(body).toEqual({
      code: 'VALIDATION_ERROR',
      message: 'The request is not valid.',
      validationErrors: { 'steps[0].scriptPath': ['Required'] },
      timestamp: '2026-05-01T12:00:00.000Z',
    });
  });

  it('leaves details out when there are none', () => {
    const { body } = toErrorBody(new BadRequestError('The request body is not valid JSON.'), NOW);

    expect(Object.keys(body).sort()).toEqual(['code', 'message', 'timestamp']);
  });

  it.each([
    { what: 'a plain Error', thrown: new Error('password=hunter2 at db.internal:5432') },
    { what: 'a TypeError', thrown: new TypeError("Cannot read properties of undefined (reading 'x')") },
    { what: 'a string', thrown: 'secret string' },
    {
      what: 'an object shaped like an ApiError',
      thrown: { code: 'CONFLICT', message: 'fake', statusCode: 409 },
    },
    { what: 'undefined', thrown: undefined },
  ])('answers 500 INTERNAL_ERROR to $what without leaking its message', ({ thrown }) => {
    // Act
    const { statusCode, body } = toErrorBody(thrown, NOW);

    // Assert
    expect(statusCode).toBe(500);
    expect(body).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'An unexpected error occurred. It has been logged.',
      timestamp: '2026-05-01T12:00:00.000Z',
    });
  });

  it('does not leak the cause of an ApiError', () => {
    // Arrange
    const error = new BadRequestError('nextToken is not a token this API issued.', {
      cause: new SyntaxError('Unexpected token in JSON at position 3'),
    });

    // Act
    const { body } = toErrorBody(error, NOW);

    // Assert
    expect(JSON.stringify(body)).not.toContain('Unexpected token');
  });

  it('stamps the current time when none is given', () => {
    // Arrange
    const before = Date.now();

    // Act
    const { body } = toErrorBody(new Error('x'));

    // Assert
    const stamped = Date.parse(body.timestamp);
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(Date.now());
  });
});
