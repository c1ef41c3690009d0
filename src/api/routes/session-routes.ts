import { Type } from '@sinclair/typebox';
import type { ApiRoute } from '../route.js';
import { ErrorBody, SessionInfo, SignIn } from '../schema/common.js';
import { cookieValue, SESSION_COOKIE, secretMatches, sessionCookie, type WebSessions } from '../web-session.js';

/**
 * `/1.0/session`: the web console's sign-in. POST trades the token for a session cookie (HttpOnly, SameSite=Strict)
 * and is the one route that answers without a token (it checks the one in its body); DELETE signs out.
 */
export function sessionRoutes(sessions: WebSessions, token: string): ApiRoute[] {
  return [
    {
      method: 'POST',
      url: '/1.0/session',
      operationId: 'signIn',
      summary: 'Sign in with the token; sets the session cookie of the web console',
      tag: 'session',
      body: SignIn,
      responses: { 200: SessionInfo, 400: ErrorBody, 401: ErrorBody },
      handler: async (req, reply) => {
        const given = (req.body as SignIn).token?.trim() ?? '';
        if (!secretMatches(given, token)) {
          return reply.code(401).send({
            error: {
              code: 'UNAUTHORIZED',
              message: given
                ? 'that token is not right: copy it again from $STRATA_HOME/daemon/token'
                : 'enter the token (the file $STRATA_HOME/daemon/token on the daemon host)',
            },
          });
        }
        return reply.header('set-cookie', sessionCookie(sessions.open())).send({ signedIn: true });
      },
    },
    {
      method: 'DELETE',
      url: '/1.0/session',
      operationId: 'signOut',
      summary: 'Sign out: ends the session of the cookie sent and clears it',
      tag: 'session',
      responses: { 200: Type.Object({ signedIn: Type.Literal(false) }) },
      handler: async (req, reply) => {
        sessions.close(cookieValue(req.headers.cookie, SESSION_COOKIE));
        return reply.header('set-cookie', sessionCookie('', 0)).send({ signedIn: false });
      },
    },
  ];
}
