import type { StrataErrorCode } from '../base/errors.js';

/** The one table from error code to HTTP status. Only the API layer maps codes to statuses. */
export const ERROR_STATUS: Readonly<Record<StrataErrorCode | 'UNAUTHORIZED', number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  ABORTED: 409,
  IO: 500,
  GUEST_FAULT: 500,
  INTERNAL: 500,
  NETWORK: 502,
  CHECKSUM: 502,
  UNAVAILABLE: 503,
  NO_SPACE: 507,
};

/** The HTTP status for an error code (500 for a code the table does not know). */
export function statusOf(code: string): number {
  return (ERROR_STATUS as Record<string, number>)[code] ?? 500;
}
