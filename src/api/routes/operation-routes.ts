import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ApiDeps } from '../api-deps.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, IdParams, Operation } from '../schema/common.js';

type WithId = FastifyRequest<{ Params: { id: string } }>;

/** Longest a wait request holds the connection (seconds). */
export const MAX_WAIT_SECONDS = 300;

/** Routes of `/1.0/operations`: list, show, wait, cancel. */
export function operationRoutes(deps: ApiDeps): ApiRoute[] {
  const ops = deps.operations;
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
