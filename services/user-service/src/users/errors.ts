// Domain errors of the users resource, and their mapping to problem details.
import type { MappedProblem } from '../http/problem.js';

export class UserNotFoundError extends Error {
  readonly id: number;
  constructor(id: number) {
    super(`user ${id} does not exist`);
    this.name = 'UserNotFoundError';
    this.id = id;
  }
}

export class EmailTakenError extends Error {
  constructor() {
    // The address itself is left out: it is personal data and the caller already has it.
    super('a user with this email address already exists (emails are case-insensitive)');
    this.name = 'EmailTakenError';
  }
}

export class InvalidCursorError extends Error {
  constructor(reason: string) {
    super(`invalid cursor: ${reason}; use the nextCursor value of a previous page unchanged`);
    this.name = 'InvalidCursorError';
  }
}

export function mapUserErrors(err: unknown): MappedProblem | undefined {
  if (err instanceof UserNotFoundError) {
    return { status: 404, type: 'urn:gantry:problem:user-not-found', detail: err.message };
  }
  if (err instanceof EmailTakenError) {
    return { status: 409, type: 'urn:gantry:problem:email-taken', detail: err.message };
  }
  if (err instanceof InvalidCursorError) {
    return {
      status: 400,
      type: 'urn:gantry:problem:validation',
      title: 'Request validation failed',
      detail: err.message,
      errors: [{ location: 'query', pointer: '#/cursor', detail: err.message }],
    };
  }
  return undefined;
}
