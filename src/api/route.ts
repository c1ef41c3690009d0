import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';

/** A response that is not JSON (Prometheus text). */
export interface TextResponse {
  contentType: string;
  description: string;
}

/** The media type of a disk image streamed to the daemon (the handler gets the request stream, not a Buffer). */
export const IMAGE_MEDIA_TYPE = 'application/vnd.strata.disk-image';

/**
 * A request body of raw bytes (not JSON): its media type, its size cap, what it is. `application/octet-stream`
 * arrives as a Buffer (up to `maxBytes`); IMAGE_MEDIA_TYPE as the request stream, which the handler reads and caps.
 */
export interface RawBodySpec {
  contentType: 'application/octet-stream' | typeof IMAGE_MEDIA_TYPE;
  maxBytes: number;
  description: string;
}

/** What a WebSocket route does once upgraded. */
export interface WebSocketSpec {
  description: string;
  handler: (socket: WebSocket, req: FastifyRequest) => void;
}

/**
 * One route of the API: its method and path, the schemas of its parameters, body and responses, and its handler.
 * The route table is the single source for the server's validation, `/openapi.json`, and the auth test that walks
 * every route.
 */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify-style path: `/1.0/instances/:name`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** A body of raw bytes (the handler gets a Buffer as `req.body`); exclusive with `body`. */
  rawBody?: RawBodySpec;
  /** Status code to a JSON schema, or a text response. */
  responses: Record<number, TSchema | TextResponse>;
  /** Present when the route upgrades to a WebSocket (the plain GET `handler` still answers without upgrade). */
  websocket?: WebSocketSpec;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** True when a response spec is a text response rather than a JSON schema. */
export function isTextResponse(r: TSchema | TextResponse): r is TextResponse {
  return typeof (r as TextResponse).contentType === 'string';
}
