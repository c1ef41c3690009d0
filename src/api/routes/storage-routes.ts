import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StrataError } from '../../base/errors.js';
import { parseSizeBytes } from '../../base/units.js';
import { probeFormat } from '../../services/storage/backing-chain.js';
import {
  checkName,
  checkVolumeName,
  checkVolumeSize,
  type VolumeInfo,
} from '../../services/storage/pools/pool-driver.js';
import type { ApiDeps } from '../api-deps.js';
import { accepted } from '../reply-helpers.js';
import { type ApiRoute, IMAGE_MEDIA_TYPE } from '../route.js';
import { ErrorBody, Operation } from '../schema/common.js';
import {
  CloneVolume,
  CopyVolume,
  CreateStoragePool,
  CreateVolume,
  CreateVolumeSnapshot,
  ExportVolume,
  ImportVolumeQuery,
  PoolParams,
  ResizeVolume,
  SnapshotParams,
  StoragePool,
  StorageVolume,
  VolumeParams,
  VolumeSnapshot,
} from '../schema/storage.js';

type PoolReq = FastifyRequest<{ Params: { pool: string } }>;
type VolumeReq = FastifyRequest<{ Params: { pool: string; name: string } }>;
type SnapshotReq = FastifyRequest<{ Params: { pool: string; name: string; snapshot: string } }>;

/** A pool driver's INVALID_ARGUMENT about a snapshot or volume name, naming the field of the request. */
function namingName(err: unknown, field: string): unknown {
  if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') {
    return new StrataError('INVALID_ARGUMENT', `invalid ${field}: ${err.message}`);
  }
  return err;
}

/** Refuses `name` for a new volume of `pool` (named `poolName`): not a volume name, or one the pool has already. */
async function checkNewVolumeName(
  pool: { listVolumes(): Promise<{ name: string }[]> },
  poolName: string,
  name: string,
): Promise<void> {
  try {
    checkVolumeName(name);
  } catch (err) {
    throw namingName(err, 'name');
  }
  if ((await pool.listVolumes()).some((v) => v.name === name)) {
    throw new StrataError('ALREADY_EXISTS', `invalid name: volume '${name}' already exists in pool '${poolName}'`);
  }
}

/** A pool registry's INVALID_ARGUMENT about a pool name or directory, naming the field of the request. */
function poolField(err: unknown, name: string): unknown {
  if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') {
    const field = /pool name|unknown pool type/.test(err.message)
      ? /type/.test(err.message)
        ? 'type'
        : 'name'
      : 'path';
    return new StrataError('INVALID_ARGUMENT', `invalid ${field}: ${err.message.replace(/^invalid /, '')}`);
  }
  if (err instanceof StrataError && err.code === 'IO') {
    return new StrataError('INVALID_ARGUMENT', `invalid path: storage pool '${name}': ${err.message}`);
  }
  return err;
}

/**
 * Routes of `/1.0/storage-pools`: list, create, show and delete pools; list, show, create, resize, clone, copy and
 * delete the volumes of a pool; create, list, revert and delete a volume's snapshots. A delete, a resize or a revert
 * is refused (409) while a VM has the volume open or another volume is a clone of it.
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
      method: 'POST',
      url: '/1.0/storage-pools',
      operationId: 'createStoragePool',
      summary: 'Create a directory pool (its volumes inside the registry, or in a directory of the daemon host)',
      tag: 'storage',
      body: CreateStoragePool,
      responses: { 201: StoragePool, 400: ErrorBody, 409: ErrorBody },
      handler: async (req, reply: FastifyReply) => {
        const b = req.body as CreateStoragePool;
        try {
          checkName(b.name, 'pool');
          await pools.create(b.name, { ...(b.type ? { type: b.type } : {}), ...(b.path ? { path: b.path } : {}) });
        } catch (err) {
          throw poolField(err, b.name);
        }
        reply.code(201);
        return pools.info(b.name);
      },
    },
    {
      method: 'GET',
      url: '/1.0/storage-pools/:pool',
      operationId: 'getStoragePool',
      summary: 'Show a pool with its volume count, allocation and free space',
      tag: 'storage',
      params: PoolParams,
      responses: { 200: StoragePool, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => pools.info((req as PoolReq).params.pool),
    },
    {
      method: 'DELETE',
      url: '/1.0/storage-pools/:pool',
      operationId: 'deleteStoragePool',
      summary: 'Delete an empty pool (a directory given at creation stays)',
      tag: 'storage',
      params: PoolParams,
      responses: { 200: Type.Object({}), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        await pools.delete((req as PoolReq).params.pool);
        return {};
      },
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
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/copy',
      operationId: 'copyStorageVolume',
      summary:
        'Copy a volume into a new standalone volume of the same pool (backing chain read through); returns an operation with byte progress',
      tag: 'storage',
      params: VolumeParams,
      body: CopyVolume,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const p = (req as VolumeReq).params;
        const b = req.body as CopyVolume;
        const pool = await pools.open(p.pool);
        const source = await pool.getVolume(p.name);
        await checkNewVolumeName(pool, p.pool, b.name);
        const op = deps.operations.run('volume.copy', `/1.0/storage-pools/${p.pool}/volumes/${b.name}`, async (ctx) => {
          // A read-only hold on the source: no VM may write it while it is copied.
          const held = await pool.attachVolume(source.name, { readOnly: true });
          try {
            ctx.progress.phase(`copying ${source.name}`, source.capacityBytes);
            await pool.importVolume(b.name, held.path, {
              sourceFormat: held.format,
              format: b.format ?? source.format,
              signal: ctx.signal,
              onProgress: (done, total) => ctx.progress.update(done, total),
            });
          } finally {
            await held.release();
          }
        });
        return accepted(reply, op);
      },
    },
    {
      method: 'PATCH',
      url: '/1.0/storage-pools/:pool/volumes/:name',
      operationId: 'resizeStorageVolume',
      summary: 'Grow a volume no VM uses (shrinking is refused); a size with a leading + grows by that much',
      tag: 'storage',
      params: VolumeParams,
      body: ResizeVolume,
      responses: { 200: StorageVolume, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const p = (req as VolumeReq).params;
        const b = req.body as ResizeVolume;
        const pool = await pools.open(p.pool);
        const current = await pool.getVolume(p.name);
        let sizeBytes: number;
        if (typeof b.size === 'number') sizeBytes = b.size;
        else if (b.size.startsWith('+')) sizeBytes = current.capacityBytes + parseSize(b.size.slice(1));
        else sizeBytes = parseSize(b.size);
        try {
          checkVolumeSize(sizeBytes, 'size');
        } catch (err) {
          throw new StrataError('INVALID_ARGUMENT', (err as Error).message);
        }
        if (current.users.length > 0) {
          throw new StrataError(
            'CONFLICT',
            `volume '${p.name}' is in use by ${current.users.map((u) => `pid ${u.pid} (${u.mode})`).join(', ')}: stop the VM before resizing it`,
          );
        }
        return pool.resizeVolume(p.name, sizeBytes);
      },
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/clone',
      operationId: 'cloneStorageVolume',
      summary:
        'Make a thin copy-on-write qcow2 overlay of a volume in the same pool; the base stays read-only while clones use it. Returns an operation',
      tag: 'storage',
      params: VolumeParams,
      body: CloneVolume,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const p = (req as VolumeReq).params;
        const b = req.body as CloneVolume;
        const pool = await pools.open(p.pool);
        const base = await pool.getVolume(p.name);
        await checkNewVolumeName(pool, p.pool, b.name);
        const writer = base.users.find((u) => u.mode === 'rw');
        if (writer) {
          throw new StrataError(
            'CONFLICT',
            `volume '${p.name}' is written by pid ${writer.pid}: a clone needs a base no VM writes`,
          );
        }
        const op = deps.operations.run(
          'volume.clone',
          `/1.0/storage-pools/${p.pool}/volumes/${b.name}`,
          async (ctx) => {
            ctx.progress.phase(`cloning ${base.name}`, 0);
            await pool.cloneVolume(b.name, base.name);
          },
        );
        return accepted(reply, op);
      },
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/export',
      operationId: 'exportStorageVolume',
      summary:
        "Write a standalone image of a volume (qcow2, compressed qcow2 or raw; backing chain read through) to the daemon's exports folder; returns an operation with byte progress whose result names the file, which GET /1.0/operations/{id}/file sends",
      tag: 'storage',
      params: VolumeParams,
      body: ExportVolume,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const p = (req as VolumeReq).params;
        const b = req.body as ExportVolume;
        const format = b.format ?? 'qcow2';
        if (b.compress && format !== 'qcow2') {
          throw new StrataError('INVALID_ARGUMENT', 'invalid compress: compression needs the qcow2 format');
        }
        const pool = await pools.open(p.pool);
        const source = await pool.getVolume(p.name);
        const writer = source.users.find((u) => u.mode === 'rw');
        if (writer) {
          throw new StrataError(
            'CONFLICT',
            `volume '${p.name}' is written by pid ${writer.pid}: stop the VM to export it`,
          );
        }
        const dir = join(pools.home, 'exports');
        const dest = join(dir, `${p.pool}-${p.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`);
        const op = deps.operations.run(
          'volume.export',
          `/1.0/storage-pools/${p.pool}/volumes/${p.name}`,
          async (ctx) => {
            await mkdir(dir, { recursive: true, mode: 0o700 });
            ctx.progress.phase(`exporting ${source.name}`, source.capacityBytes);
            await pool.exportVolume(source.name, dest, {
              format,
              compress: b.compress === true,
              signal: ctx.signal,
              onProgress: (done, total) => ctx.progress.update(done, total),
            });
            return { path: dest, format };
          },
        );
        return accepted(reply, op);
      },
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/import',
      operationId: 'importStorageVolume',
      summary:
        'Upload a raw or qcow2 image (a qcow2 without a backing file) as the body and import it into the new volume {name}; answers once the upload is whole, with an operation with byte progress for the import',
      tag: 'storage',
      params: VolumeParams,
      querystring: ImportVolumeQuery,
      rawBody: { contentType: IMAGE_MEDIA_TYPE, maxBytes: MAX_UPLOAD_BYTES, description: 'the image file' },
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const p = (req as VolumeReq).params;
        const q = req.query as ImportVolumeQuery;
        const pool = await pools.open(p.pool);
        try {
          checkVolumeName(p.name);
        } catch (err) {
          throw namingName(err, 'name');
        }
        if ((await pool.listVolumes()).some((v) => v.name === p.name)) {
          throw new StrataError('ALREADY_EXISTS', `volume '${p.name}' already exists in pool '${p.pool}'`);
        }
        if (!(req.body instanceof Readable)) {
          throw new StrataError('INVALID_ARGUMENT', `invalid body: send the image as ${IMAGE_MEDIA_TYPE}`);
        }
        const dir = join(pools.home, 'uploads');
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const upload = join(dir, `${p.pool}-${p.name}-${randomBytes(6).toString('hex')}.img`);
        let keep = false;
        try {
          await receive(req.body, upload);
          const size = (await stat(upload)).size;
          if (size === 0) throw new StrataError('INVALID_ARGUMENT', 'invalid body: the image is empty');
          const sourceFormat = q.sourceFormat ?? (await probeFormat(upload));
          if (sourceFormat === 'qcow2') await refuseBackingFile(upload);
          const op = deps.operations.run(
            'volume.import',
            `/1.0/storage-pools/${p.pool}/volumes/${p.name}`,
            async (ctx) => {
              try {
                ctx.progress.phase(`importing ${p.name}`, size);
                await pool.importVolume(p.name, upload, {
                  sourceFormat,
                  format: q.format ?? 'qcow2',
                  signal: ctx.signal,
                  onProgress: (done, total) => ctx.progress.update(done, total),
                });
              } finally {
                await unlink(upload).catch(() => {});
              }
            },
          );
          keep = true;
          return accepted(reply, op);
        } finally {
          if (!keep) await unlink(upload).catch(() => {});
        }
      },
    },
    {
      method: 'GET',
      url: '/1.0/storage-pools/:pool/volumes/:name/snapshots',
      operationId: 'listVolumeSnapshots',
      summary: "List a volume's snapshots, oldest first (raw volumes have none)",
      tag: 'storage',
      params: VolumeParams,
      responses: { 200: Type.Array(VolumeSnapshot), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const p = (req as VolumeReq).params;
        return (await pools.open(p.pool)).listSnapshots(p.name);
      },
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/snapshots',
      operationId: 'createVolumeSnapshot',
      summary: 'Take an internal snapshot of a qcow2 volume no VM is writing',
      tag: 'storage',
      params: VolumeParams,
      body: CreateVolumeSnapshot,
      responses: { 201: VolumeSnapshot, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply: FastifyReply) => {
        const p = (req as VolumeReq).params;
        const pool = await pools.open(p.pool);
        const meta = await pool.getVolume(p.name);
        if (meta.format !== 'qcow2') {
          throw new StrataError(
            'INVALID_ARGUMENT',
            `invalid volume: '${p.name}' is a raw volume; only qcow2 volumes have snapshots`,
          );
        }
        const name = (req.body as CreateVolumeSnapshot).name;
        if ((await pool.listSnapshots(p.name)).some((s) => s.name === name)) {
          throw new StrataError('ALREADY_EXISTS', `invalid name: volume '${p.name}' already has a snapshot '${name}'`);
        }
        let snap: VolumeSnapshot;
        try {
          snap = await pool.createSnapshot(p.name, name);
        } catch (err) {
          throw namingName(err, 'name');
        }
        reply.code(201);
        return snap;
      },
    },
    {
      method: 'POST',
      url: '/1.0/storage-pools/:pool/volumes/:name/snapshots/:snapshot/revert',
      operationId: 'revertVolumeSnapshot',
      summary:
        'Put a volume back to a snapshot (by name or id); refused while a VM uses the volume or a clone is based on it',
      tag: 'storage',
      params: SnapshotParams,
      responses: { 200: StorageVolume, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const p = (req as SnapshotReq).params;
        const pool = await pools.open(p.pool);
        await pool.revertSnapshot(p.name, p.snapshot);
        return pool.getVolume(p.name);
      },
    },
    {
      method: 'DELETE',
      url: '/1.0/storage-pools/:pool/volumes/:name/snapshots/:snapshot',
      operationId: 'deleteVolumeSnapshot',
      summary: "Delete a volume's snapshot (by name or id), freeing the space only it held",
      tag: 'storage',
      params: SnapshotParams,
      responses: { 200: Type.Object({}), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const p = (req as SnapshotReq).params;
        await (await pools.open(p.pool)).deleteSnapshot(p.name, p.snapshot);
        return {};
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

/** Largest image an upload may carry: the largest volume (32 PiB). */
const MAX_UPLOAD_BYTES = 2 ** 55;

/** Writes an uploaded image to `dest` as it arrives; a broken or oversized upload is an error (the caller cleans up). */
async function receive(body: Readable, dest: string): Promise<void> {
  let received = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, next) {
      received += chunk.length;
      if (received > MAX_UPLOAD_BYTES)
        next(new StrataError('INVALID_ARGUMENT', 'invalid body: larger than any volume'));
      else next(null, chunk);
    },
  });
  try {
    await pipeline(body, cap, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    if (err instanceof StrataError) throw err;
    throw new StrataError('ABORTED', `the upload broke off after ${received} bytes: ${(err as Error).message}`);
  }
}

/**
 * Refuses an uploaded qcow2 image that names a backing file (qcow2.txt "Header": backing_file_offset at byte 8):
 * the daemon would resolve that name on its own host.
 */
async function refuseBackingFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(16);
    await fh.read(header, 0, 16, 0);
    if (header.readBigUInt64BE(8) !== 0n) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'invalid body: the qcow2 image names a backing file, which would be looked up on the daemon host: upload a standalone image (qemu-img convert, or strata storage volume export)',
      );
    }
  } finally {
    await fh.close();
  }
}

function parseSize(text: string): number {
  try {
    return parseSizeBytes(text, 'size');
  } catch (err) {
    if (err instanceof StrataError) throw new StrataError('INVALID_ARGUMENT', `invalid size: ${err.message}`);
    throw err;
  }
}
