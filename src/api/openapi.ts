import type { TSchema } from '@sinclair/typebox';
import { type ApiRoute, isTextResponse } from './route.js';
import { ErrorBody } from './schema/common.js';

/** An OpenAPI document (3.1), as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

/** A copy of `schema` as plain JSON (TypeBox's symbol keys dropped). */
function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

/**
 * Moves every sub-schema with an `$id` into `components.schemas` and leaves a `$ref` in its place, so each named
 * schema appears once in the document.
 */
function hoist(node: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => hoist(n, components));
  if (typeof node !== 'object' || node === null) return node;
  const obj = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === '$id') continue;
    out[k] = hoist(v, components);
  }
  const id = obj.$id;
  if (typeof id === 'string') {
    components[id] = out;
    return { $ref: `#/components/schemas/${id}` };
  }
  return out;
}

function parametersOf(schema: TSchema | undefined, where: 'path' | 'query', components: Record<string, unknown>) {
  if (!schema) return [];
  const s = plain(schema);
  const props = (s.properties ?? {}) as Record<string, unknown>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, sub]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: hoist(sub, components),
  }));
}

/**
 * Generates the OpenAPI 3.1 document from the route table: the same TypeBox (JSON Schema) objects the server
 * validates requests and responses with. WebSocket routes carry `x-websocket: true` and a 101 response; every
 * route needs the bearer token over TCP (401), which the document states once as global security.
 */
export function buildOpenApi(routes: readonly ApiRoute[], version: string): OpenApiDocument {
  const schemas: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = hoist(plain(ErrorBody), schemas);
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = isTextResponse(spec)
        ? {
            description: spec.description,
            content: { [spec.contentType.split(';')[0]!]: { schema: { type: 'string' } } },
          }
        : {
            description: `${status} response`,
            content: { 'application/json': { schema: hoist(plain(spec), schemas) } },
          };
    }
    responses['401'] = {
      description: 'missing or wrong bearer token (TCP only)',
      content: { 'application/json': { schema: errorRef } },
    };
    if (r.websocket) responses['101'] = { description: `WebSocket upgrade: ${r.websocket.description}` };
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [...parametersOf(r.params, 'path', schemas), ...parametersOf(r.querystring, 'query', schemas)],
      responses,
    };
    if (r.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: hoist(plain(r.body), schemas) } } };
    }
    if (r.rawBody) {
      op.requestBody = {
        required: true,
        description: `${r.rawBody.description} (at most ${r.rawBody.maxBytes} bytes)`,
        content: { [r.rawBody.contentType]: { schema: { type: 'string', contentMediaType: r.rawBody.contentType } } },
      };
    }
    if (r.websocket) op['x-websocket'] = true;
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Strata API',
      version,
      description:
        'Instances, images, operations and events of a Strata daemon. Over TCP every route needs `Authorization: Bearer <token>`; the Unix socket is guarded by its file permissions.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    paths,
    components: { schemas, securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
  };
}
