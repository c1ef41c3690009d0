import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StrataError } from '../../base/errors.js';
import { parseSizeBytes } from '../../base/units.js';
import type { VolumeInfo } from '../../services/storage/pools/pool-driver.js';
import type { ApiDeps } from '../api-deps.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody } from '../schema/common.js';
import { CreateVolume, PoolParams, StoragePool, StorageVolume, VolumeParams } from '../schema/storage.js';

type PoolReq = FastifyRequest<{ Params: { pool: string } }>;
type VolumeReq = FastifyRequest<{ Params: { pool: string; name: string } }>;

/**
 * Routes of `/1.0/storage-pools`: list pools, and list, show, create and delete the volumes of a pool. A delete is
 * refused (409) while a VM has the volume open or another volume is a clone of it.
 */
export function storageRoutes(deps: ApiDeps): ApiRoute[] {
  const pools = deps.pools;
  return [
    {
      method: 'GET',
      url: '/1.0/storage-pools',
      operationId: 'listStoragePools',
      summary: 'List storage pools',
      tag: 'storage',
      responses: { 200: Type.Array(StoragePool) },
      handler: async () => Promise.all((await pools.definitions()).map((d) => pools.info(d.name))),
    },
    {
      method: 'GET',
      url: '/1.0/storage-pools/:pool/volumes',
      operationId: 'listStorageVolumes',
      summary: 'List the volumes of a pool',
      tag: 'storage',
      params: PoolParams,
      responses: { 200: Type.Array(StorageVolume), 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => (await pools.open((req as PoolReq).params.pool)).listVolumes(),
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes',
      operationId: 'createStorageVolume',
      summary: 'Create an empty volume',
      tag: 'storage',
      params: PoolParams,
      body: CreateVolume,
      responses: { 201: StorageVolume, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply: FastifyReply) => {
        const b = req.body as CreateVolume;
        const pool = await pools.open((req as PoolReq).params.pool);
        const sizeBytes = typeof b.size === 'number' ? b.size : parseSize(b.size);
        if (sizeBytes % 512 !== 0) {
          throw new StrataError('INVALID_ARGUMENT', `invalid size: ${sizeBytes} is not a multiple of 512 bytes`);
        }
        let info: VolumeInfo;
        try {
          info = await pool.createVolume(b.name, { sizeBytes, ...(b.format ? { format: b.format } : {}) });
        } catch (err) {
          if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') {
            const field = /name/.test(err.message) ? 'name' : /size/.test(err.message) ? 'size' : 'format';
            throw new StrataError('INVALID_ARGUMENT', `invalid ${field}: ${err.message}`);
          }
          throw err;
        }
        reply.code(201);
        return info;
      },
    },
    {
      method: 'GET',
      url: '/1.0/storage-pools/:pool/volumes/:name',
      operationId: 'getStorageVolume',
      summary: 'Show a volume',
      tag: 'storage',
      params: VolumeParams,
      responses: { 200: StorageVolume, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => {
        const p = (req as VolumeReq).params;
        return (await pools.open(p.pool)).getVolume(p.name);
      },
    },
    {
      method: 'DELETE',
      url: '/1.0/storage-pools/:pool/volumes/:name',
      operationId: 'deleteStorageVolume',
      summary: 'Delete a volume no VM uses and no clone is based on',
      tag: 'storage',
      params: VolumeParams,
      responses: { 200: Type.Object({}), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const p = (req as VolumeReq).params;
        await (await pools.open(p.pool)).deleteVolume(p.name);
        return {};
      },
    },
  ];
}

function parseSize(text: string): number {
  try {
    return parseSizeBytes(text, 'size');
  } catch (err) {
    if (err instanceof StrataError) throw new StrataError('INVALID_ARGUMENT', `invalid size: ${err.message}`);
    throw err;
  }
}
