import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The name of the web console's session cookie. */
export const SESSION_COOKIE = 'strata_session';

/** How long a web session lasts without use (12 hours). */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;

/** True when `given` equals `want`, compared in constant time. */
export function secretMatches(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The web console's sign-in sessions: a browser trades the token for a random session id, kept in an HTTP-only
 * cookie, so that the token itself never sits in the page, in a URL or in browser storage. Sessions live in the
 * daemon's memory: a restarted daemon asks the browser to sign in again.
 */
export class WebSessions {
  private readonly sessions = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Opens a session and returns its id (256 random bits, URL-safe). */
  open(): string {
    this.prune();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, this.now() + SESSION_IDLE_MS);
    return id;
  }

  /** True when `id` names a live session (and keeps it alive). */
  check(id: string | undefined): boolean {
    if (!id) return false;
    const until = this.sessions.get(id);
    if (until === undefined) return false;
    if (until < this.now()) {
      this.sessions.delete(id);
      return false;
    }
    this.sessions.set(id, this.now() + SESSION_IDLE_MS);
    return true;
  }

  /** Ends session `id` (sign-out). */
  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, until] of this.sessions) if (until < now) this.sessions.delete(id);
  }
}

/**
 * The Set-Cookie value for a session. HttpOnly (page scripts cannot read it), SameSite=Strict (other sites cannot
 * send it), Path=/. Not Secure: the daemon serves plain HTTP on loopback, where a Secure cookie would never be sent
 * back; put a TLS proxy in front to reach the daemon from elsewhere.
 */
export function sessionCookie(id: string, maxAgeSeconds = SESSION_IDLE_MS / 1000): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}`;
}
