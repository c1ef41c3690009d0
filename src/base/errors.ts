/**
 * The one domain error class of Strata. Every failure a user can cause or meet carries a typed `code` and a
 * message that names the bad value. Only the API layer maps codes to HTTP statuses; the CLI maps every
 * `StrataError` to exit code 1.
 */
export type StrataErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'IO'
  | 'NO_SPACE'
  | 'NETWORK'
  | 'CHECKSUM'
  | 'UNAVAILABLE'
  | 'ABORTED'
  | 'GUEST_FAULT'
  | 'INTERNAL';

/** A domain error: `code` says what kind, `message` is one line that names the bad value. */
export class StrataError extends Error {
  readonly code: StrataErrorCode;

  constructor(code: StrataErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrataError';
    this.code = code;
  }
}

/** True when `err` is a StrataError (also across module copies, by shape). */
export function isStrataError(err: unknown): err is StrataError {
  return err instanceof StrataError || (err instanceof Error && err.name === 'StrataError' && 'code' in err);
}

/** Throws an INTERNAL error when `cond` is false: for invariants of our own code, never for user input. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new StrataError('INTERNAL', `internal invariant broken: ${what}`);
}

/** The message of any thrown value, on one line. */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
