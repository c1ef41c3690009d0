import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import websocket from '@fastify/websocket';
import { Ajv, type ValidateFunction } from 'ajv';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyServerFactory,
} from 'fastify';
import type { Logger } from 'pino';
import { errorMessage, isStrataError } from '../base/errors.js';
import type { ApiDeps } from './api-deps.js';
import { statusOf } from './error-status.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import { type ApiRoute, IMAGE_MEDIA_TYPE, isTextResponse } from './route.js';
import { eventRoutes } from './routes/event-routes.js';
import { imageRoutes } from './routes/image-routes.js';
import { instanceRoutes } from './routes/instance-routes.js';
import { networkRoutes } from './routes/network-routes.js';
import { operationRoutes } from './routes/operation-routes.js';
import { serverRoutes } from './routes/server-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { storageRoutes } from './routes/storage-routes.js';
import { cookieValue, SESSION_COOKIE, WebSessions } from './web-session.js';
import type { WebUi } from './web-ui.js';

/** How the API server is set up. */
export interface ApiServerOptions {
  /** The bearer token required on TCP. */
  token: string;
  /** True for connections that are trusted without a token (the Unix socket). */
  isTrusted: (socket: Socket) => boolean;
  /** The daemon's logger (pino). */
  logger?: Logger;
  /** Creates the HTTP server (the daemon serves TCP and a Unix socket from one handler). */
  serverFactory?: FastifyServerFactory;
  /** The built web console, served at `/` without a token (its API calls need a session). */
  webUi?: WebUi;
  /** Check every response against its schema (default true). */
  validateResponses?: boolean;
}

/** The built API: the Fastify app, its route table and its OpenAPI document. */
export interface ApiServer {
  app: FastifyInstance;
  routes: ApiRoute[];
  openapi: OpenApiDocument;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * True unless the request names another origin than the host it was sent to: a session cookie counts only for
 * the daemon's own pages (browsers send Origin with WebSocket upgrades and with every POST, PUT and DELETE).
 */
function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * A plain JSON copy of a schema without `$id`s: the same named schema appears inside several routes, and a validator
 * must not see one id twice (the OpenAPI document names them once, in its components).
 */
function withoutIds(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema, (k, v: unknown) => (k === '$id' ? undefined : v))) as Record<
    string,
    unknown
  >;
}

/** One line naming the field for a schema validation failure. */
function validationMessage(err: FastifyError): string {
  const v = err.validation?.[0];
  const where = err.validationContext ?? 'request';
  if (!v) return `invalid ${where}: ${err.message}`;
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = v.params as Record<string, unknown>;
  if (v.keyword === 'required')
    return `invalid ${where}.${[path, params.missingProperty].filter(Boolean).join('.')}: required`;
  if (v.keyword === 'additionalProperties') {
    return `invalid ${where}${path ? `.${path}` : ''}: unknown field '${String(params.additionalProperty)}'`;
  }
  return `invalid ${where}${path ? `.${path}` : ''}: ${v.message ?? 'bad value'}`;
}

/**
 * Builds the API server from the route table: every request is validated against its route's schemas (unknown
 * fields are refused, not dropped), every response is checked against its schema, errors are one JSON shape with
 * the status from the one error table, and over TCP every route, WebSocket upgrades included, needs the token or
 * the session cookie of a signed-in web console (whose static files, and its sign-in, are the only exceptions).
 */
export async function buildApiServer(deps: ApiDeps, opts: ApiServerOptions): Promise<ApiServer> {
  const app: FastifyInstance = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : { logger: false }),
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: false } },
    bodyLimit: 1024 * 1024,
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  // Raw bytes (file pushes): a Buffer as the body; each such route sets its own size cap (`rawBody.maxBytes`).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Disk images (volume uploads): the request stream itself, which the route writes to a file as it arrives.
  app.addContentTypeParser(IMAGE_MEDIA_TYPE, (_req, payload, done) => done(null, payload));

  const sessions = new WebSessions();
  let openapi: OpenApiDocument | undefined;
  const routes: ApiRoute[] = [
    ...serverRoutes(deps, () => openapi),
    ...instanceRoutes(deps),
    ...imageRoutes(deps),
    ...networkRoutes(deps),
    ...storageRoutes(deps),
    ...operationRoutes(deps),
    ...eventRoutes(deps),
    ...sessionRoutes(sessions, opts.token),
  ];
  openapi = buildOpenApi(routes, deps.version);

  app.addHook('onRequest', async (req, reply) => {
    if (opts.isTrusted(req.raw.socket)) {
      (req as { strataTrusted?: boolean }).strataTrusted = true;
      return;
    }
    const path = req.url.split('?')[0] ?? '';
    // The console's own files, and the sign-in that checks the token in its body.
    if ((req.method === 'GET' || req.method === 'HEAD') && opts.webUi?.has(path)) return;
    if (req.method === 'POST' && path === '/1.0/session') return;
    if (tokenMatches(req.headers.authorization, opts.token)) return;
    const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (!(session && sameOrigin(req.headers.origin, req.headers.host) && sessions.check(session))) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error: {
            code: 'UNAUTHORIZED',
            message: 'a valid bearer token (Authorization: Bearer <token>) or a signed-in session is required',
          },
        });
    }
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      return reply.code(400).send({ error: { code: 'INVALID_ARGUMENT', message: validationMessage(err) } });
    }
    if (isStrataError(err)) {
      return reply.code(statusOf(err.code)).send({ error: { code: err.code, message: errorMessage(err) } });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit;
      return reply
        .code(413)
        .send({ error: { code: 'INVALID_ARGUMENT', message: `request body too large: at most ${limit} bytes` } });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: { code: 'INVALID_ARGUMENT', message: errorMessage(err) } });
    }
    req.log.error({ err }, 'internal error');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: errorMessage(err) } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  const ajv = new Ajv({ strict: false, allErrors: false });
  const validators = new Map<string, Map<number, ValidateFunction>>();
  for (const r of routes) {
    const byStatus = new Map<number, ValidateFunction>();
    for (const [status, spec] of Object.entries(r.responses)) {
      if (!isTextResponse(spec)) byStatus.set(Number(status), ajv.compile(withoutIds(spec)));
    }
    validators.set(`${r.method} ${r.url}`, byStatus);
    const schema: Record<string, unknown> = {};
    if (r.params) schema.params = withoutIds(r.params);
    if (r.querystring) schema.querystring = withoutIds(r.querystring);
    if (r.body) schema.body = withoutIds(r.body);
    const ws = r.websocket;
    app.route({
      method: r.method,
      url: r.url,
      schema,
      // Requests are logged at debug only: a busy API must not drown the log.
      logLevel: 'warn',
      handler: r.handler,
      ...(ws ? { wsHandler: (socket, req) => ws.handler(socket, req) } : {}),
      ...(r.rawBody ? { bodyLimit: r.rawBody.maxBytes } : {}),
    });
  }
  opts.webUi?.register(app);
  if (opts.validateResponses !== false) {
    app.addHook('preSerialization', async (req, reply, payload) => {
      const key = `${req.method} ${req.routeOptions.url}`;
      const validate = validators.get(key)?.get(reply.statusCode);
      if (validate && !validate(payload)) {
        const e = validate.errors?.[0];
        throw new Error(
          `response of ${key} (${reply.statusCode}) breaks its schema at '${e?.instancePath}': ${e?.message}`,
        );
      }
      return payload;
    });
  }
  return { app, routes, openapi };
}
