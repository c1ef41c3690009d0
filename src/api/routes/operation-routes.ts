import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { StrataError } from '../../base/errors.js';
import type { ApiDeps } from '../api-deps.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, IdParams, Operation } from '../schema/common.js';

type WithId = FastifyRequest<{ Params: { id: string } }>;

/** Longest a wait request holds the connection (seconds). */
export const MAX_WAIT_SECONDS = 300;

/** Routes of `/1.0/operations`: list, show, wait, cancel, and the file an export produced. */
export function operationRoutes(deps: ApiDeps): ApiRoute[] {
  const ops = deps.operations;
  const exportsDir = join(deps.pools.home, 'exports');
  return [
    {
      method: 'GET',
      url: '/1.0/operations',
      operationId: 'listOperations',
      summary: 'Recent operations, newest first',
      tag: 'operations',
      responses: { 200: Type.Array(Operation) },
      handler: async () => ops.list(),
    },
    {
      method: 'GET',
      url: '/1.0/operations/:id',
      operationId: 'getOperation',
      summary: 'Show an operation (poll)',
      tag: 'operations',
      params: IdParams,
      responses: { 200: Operation, 404: ErrorBody },
      handler: async (req) => ops.get((req as WithId).params.id),
    },
    {
      method: 'GET',
      url: '/1.0/operations/:id/wait',
      operationId: 'waitOperation',
      summary: 'Wait until an operation ends or the timeout passes; a client that goes away does not affect it',
      tag: 'operations',
      params: IdParams,
      querystring: Type.Object({ timeout: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_WAIT_SECONDS })) }),
      responses: { 200: Operation, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => {
        const id = (req as WithId).params.id;
        ops.get(id);
        const timeoutS = (req.query as { timeout?: number }).timeout ?? 30;
        // The client may disconnect: stop waiting for it (the operation goes on).
        const gone = new AbortController();
        req.raw.once('close', () => gone.abort());
        return ops.wait(id, timeoutS * 1000, gone.signal);
      },
    },
    {
      method: 'GET',
      url: '/1.0/operations/:id/file',
      operationId: 'getOperationFile',
      summary:
        "The file a finished operation produced in the daemon's exports folder (a volume or instance export), as raw bytes with its length; with remove=true the daemon deletes its copy once it was sent whole",
      tag: 'operations',
      params: IdParams,
      querystring: Type.Object({ remove: Type.Optional(Type.Boolean()) }),
      responses: {
        200: { contentType: 'application/octet-stream', description: 'the file' },
        400: ErrorBody,
        404: ErrorBody,
        409: ErrorBody,
      },
      handler: async (req, reply) => {
        const id = (req as WithId).params.id;
        const op = ops.get(id);
        if (op.status === 'running') {
          throw new StrataError('CONFLICT', `operation ${id} is still running: wait for it before taking its file`);
        }
        const path = op.result?.path;
        const size = path ? await stat(path).catch(() => null) : null;
        if (!path || dirname(resolve(path)) !== exportsDir || !size?.isFile()) {
          throw new StrataError('NOT_FOUND', `operation ${id} left no file to send (none produced, or already taken)`);
        }
        if ((req.query as { remove?: boolean }).remove) {
          reply.raw.once('finish', () => void unlink(path).catch(() => {}));
        }
        return reply
          .type('application/octet-stream')
          .header('content-length', String(size.size))
          .send(createReadStream(path));
      },
    },
    {
      method: 'DELETE',
      url: '/1.0/operations/:id',
      operationId: 'cancelOperation',
      summary: 'Cancel a running operation',
      tag: 'operations',
      params: IdParams,
      responses: { 200: Operation, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => ops.cancel((req as WithId).params.id),
    },
  ];
}
