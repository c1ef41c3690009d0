import type { ErrorBody } from '../api/schema/common.js';

/** An API error: the HTTP status, the daemon's error code, and its one-line message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when a request is refused for want of a session (the app then shows the sign-in page). */
let onUnauthorized: () => void = () => {};

/** Sets what happens when the session has ended. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/**
 * Calls the daemon's API with the session cookie (same origin; the token never passes through page scripts after
 * sign-in). Errors become ApiError with the daemon's message; a 401 also ends the session in the app.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'the daemon cannot be reached: is `strata daemon` running?');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const err = (parsed as Partial<ErrorBody> | undefined)?.error;
    if (res.status === 401 && path !== '/1.0/session') onUnauthorized();
    throw new ApiError(res.status, err?.code ?? 'INTERNAL', err?.message ?? `the daemon answered ${res.status}`);
  }
  return parsed as T;
}

/** The ws:// or wss:// URL of an API path on this origin. */
export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

/** A plain-words message for an error thrown by `api`, as a sentence (the daemon's lines start in lower case). */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.charAt(0).toUpperCase() + text.slice(1);
}
