import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ApiDeps } from '../api-deps.js';
import { accepted } from '../reply-helpers.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, NameParams, Operation } from '../schema/common.js';
import { Image, PullImage } from '../schema/images.js';

type Named = FastifyRequest<{ Params: { name: string } }>;

/** Routes of `/1.0/images`: list, show, pull (an operation), remove. */
export function imageRoutes(deps: ApiDeps): ApiRoute[] {
  const images = deps.images;
  return [
    {
      method: 'GET',
      url: '/1.0/images',
      operationId: 'listImages',
      summary: 'List images',
      tag: 'images',
      responses: { 200: Type.Array(Image) },
      handler: async () => images.list(),
    },
    {
      method: 'POST',
      url: '/1.0/images',
      operationId: 'pullImage',
      summary: 'Pull (build) an image; returns an operation with byte progress',
      tag: 'images',
      body: PullImage,
      responses: { 202: Operation, 400: ErrorBody },
      handler: async (req, reply) => {
        const b = req.body as { source: string; mirror?: string; type?: 'vm' | 'container' };
        images.checkSource(b.source, b.type);
        const op = deps.operations.run('image.pull', `/1.0/images/${b.source}`, async (ctx) => {
          await images.pull(b.source, b.mirror, ctx.progress, ctx.signal, b.type);
        });
        return accepted(reply, op);
      },
    },
    {
      method: 'GET',
      url: '/1.0/images/:name',
      operationId: 'getImage',
      summary: 'Show an image',
      tag: 'images',
      params: NameParams,
      responses: { 200: Image, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => images.get((req as Named).params.name),
    },
    {
      method: 'DELETE',
      url: '/1.0/images/:name',
      operationId: 'deleteImage',
      summary: 'Remove an image no instance uses',
      tag: 'images',
      params: NameParams,
      responses: { 200: Type.Object({}), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        await images.remove((req as Named).params.name);
        return {};
      },
    },
  ];
}
