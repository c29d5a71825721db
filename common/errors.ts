/**
 * Every error a user can see carries a stable code, a message saying what went wrong, and a hint
 * saying what to do about it. The API maps codes to HTTP statuses; the CLI prints message + hint.
 */
export type ErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'LIMIT_REACHED'
  | 'CONFIG_INVALID'
  | 'DOCKER_UNAVAILABLE'
  | 'BUILD_FAILED'
  | 'DEPLOY_FAILED'
  | 'TIMEOUT'
  | 'TOO_MANY_REQUESTS'
  | 'INTERNAL';

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable detail for --json consumers (never secrets). */
  details?: Record<string, unknown>;
}

export class SlipwayError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SlipwayError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  toJSON(): { id: string; message: string; hint?: string } {
    return { id: this.code.toLowerCase(), message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

export function isSlipwayError(err: unknown): err is SlipwayError {
  return err instanceof SlipwayError;
}

/** HTTP status for an error code: real statuses, never an error inside a 200. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_NAME':
    case 'INVALID_INPUT':
    case 'CONFIG_INVALID':
      return 422;
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'CONFLICT':
      return 409;
    case 'UNAUTHORIZED':
      return 401;
    case 'FORBIDDEN':
    case 'LIMIT_REACHED': // a per-account limit: the hint names the admin command that raises it
      return 403;
    case 'TIMEOUT':
      return 504;
    case 'TOO_MANY_REQUESTS':
      return 429;
    case 'DOCKER_UNAVAILABLE':
      return 503;
    case 'BUILD_FAILED':
    case 'DEPLOY_FAILED':
      return 422;
    default:
      return 500;
  }
}
