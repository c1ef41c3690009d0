import { randomBytes } from 'node:crypto';
import { link, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IMAGE_MEDIA_TYPE } from '../../api/route.js';
import type { Operation, StoragePool, StorageVolume, VolumeSnapshot } from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import type { DaemonClient } from '../../cli/client.js';
import type { VolumeFormat, VolumeInfo, VolumeSnapshotInfo } from '../../services/storage/pools/pool-driver.js';
import type { PoolInfo, PoolRegistry } from '../../services/storage/pools/pool-registry.js';
import { pathExists } from '../../services/storage/pools/volume-files.js';

/** Byte progress of a long job: called with the bytes done and the total. */
export type OnProgress = (done: number, total: number) => void;

/**
 * What the storage commands do, on the local home or through a daemon. Both sides answer with the same objects
 * (the API's StoragePool, StorageVolume and VolumeSnapshot are the pool registry's and drivers' own shapes), so
 * `--format json|yaml` prints the same either way.
 */
export interface StorageAccess {
  pools(): Promise<PoolInfo[]>;
  pool(name: string): Promise<PoolInfo>;
  createPool(name: string, path: string | undefined): Promise<PoolInfo>;
  deletePool(name: string): Promise<void>;
  /** The volumes of one pool, or of every pool. */
  volumes(pool: string | undefined): Promise<VolumeInfo[]>;
  volume(pool: string, name: string): Promise<VolumeInfo>;
  createVolume(pool: string, name: string, sizeBytes: number, format: VolumeFormat): Promise<VolumeInfo>;
  /** Grows a volume to `sizeBytes`, or by `growBytes`. */
  resizeVolume(pool: string, name: string, size: { sizeBytes: number } | { growBytes: number }): Promise<VolumeInfo>;
  /** A thin overlay `name` on `base`; `follow` shows an operation's progress. */
  cloneVolume(pool: string, base: string, name: string, follow: Follow): Promise<VolumeInfo>;
  /** A standalone copy `name` of `source` (backing chain read through), with byte progress. */
  copyVolume(
    pool: string,
    source: string,
    name: string,
    format: VolumeFormat | undefined,
    follow: Follow,
  ): Promise<VolumeInfo>;
  /** A new volume from the raw or qcow2 image `file` of this machine. */
  importVolume(
    pool: string,
    name: string,
    file: string,
    opts: { format: VolumeFormat; sourceFormat: VolumeFormat | undefined },
    follow: Follow,
  ): Promise<VolumeInfo>;
  /** A standalone image of the volume written to `file` of this machine (never over an existing file). */
  exportVolume(
    pool: string,
    name: string,
    file: string,
    opts: { format: VolumeFormat; compress: boolean },
    follow: Follow,
  ): Promise<void>;
  deleteVolume(pool: string, name: string): Promise<void>;
  snapshots(pool: string, volume: string): Promise<VolumeSnapshotInfo[]>;
  createSnapshot(pool: string, volume: string, snapshot: string): Promise<VolumeSnapshotInfo>;
  revertSnapshot(pool: string, volume: string, snapshot: string): Promise<void>;
  deleteSnapshot(pool: string, volume: string, snapshot: string): Promise<void>;
}

/**
 * How a long job reports and is cancelled: locally it runs here with `onProgress` and `signal`; through a daemon
 * it is an operation, followed by `operation` (a progress bar fed by the operation's byte progress).
 */
export interface Follow {
  label: string;
  local<T>(job: (onProgress: OnProgress, signal: AbortSignal) => Promise<T>): Promise<T>;
  operation(client: DaemonClient, op: Operation): Promise<Operation>;
  /** A transfer between the daemon and this machine, with its own byte progress under `label`. */
  transfer<T>(label: string, job: (onProgress: OnProgress, signal: AbortSignal) => Promise<T>): Promise<T>;
}

/** The pools of the local `$STRATA_HOME`, read and written directly. */
export function localStorage(registry: () => PoolRegistry): StorageAccess {
  const open = (name: string) => registry().open(name);
  return {
    async pools() {
      const reg = registry();
      return Promise.all((await reg.definitions()).map((d) => reg.info(d.name)));
    },
    pool: (name) => registry().info(name),
    async createPool(name, path) {
      const reg = registry();
      await reg.create(name, path === undefined ? {} : { path });
      return reg.info(name);
    },
    deletePool: (name) => registry().delete(name),
    async volumes(pool) {
      const names = pool !== undefined ? [pool] : (await registry().definitions()).map((d) => d.name);
      const out: VolumeInfo[] = [];
      for (const n of names) out.push(...(await (await open(n)).listVolumes()));
      return out;
    },
    volume: async (pool, name) => (await open(pool)).getVolume(name),
    createVolume: async (pool, name, sizeBytes, format) => (await open(pool)).createVolume(name, { sizeBytes, format }),
    async resizeVolume(pool, name, size) {
      const p = await open(pool);
      const bytes = 'sizeBytes' in size ? size.sizeBytes : (await p.getVolume(name)).capacityBytes + size.growBytes;
      return p.resizeVolume(name, bytes);
    },
    cloneVolume: async (pool, base, name) => (await open(pool)).cloneVolume(name, base),
    async copyVolume(pool, source, name, format, follow) {
      const p = await open(pool);
      const meta = await p.getVolume(source);
      const held = await p.attachVolume(source, { readOnly: true });
      try {
        return await follow.local((onProgress, signal) =>
          p.importVolume(name, held.path, {
            sourceFormat: held.format,
            format: format ?? meta.format,
            onProgress,
            signal,
          }),
        );
      } finally {
        await held.release();
      }
    },
    async importVolume(pool, name, file, opts, follow) {
      const p = await open(pool);
      return follow.local((onProgress, signal) =>
        p.importVolume(name, file, {
          format: opts.format,
          ...(opts.sourceFormat ? { sourceFormat: opts.sourceFormat } : {}),
          onProgress,
          signal,
        }),
      );
    },
    async exportVolume(pool, name, file, opts, follow) {
      const p = await open(pool);
      await follow.local((onProgress, signal) => p.exportVolume(name, file, { ...opts, onProgress, signal }));
    },
    deleteVolume: async (pool, name) => (await open(pool)).deleteVolume(name),
    snapshots: async (pool, volume) => (await open(pool)).listSnapshots(volume),
    createSnapshot: async (pool, volume, snapshot) => (await open(pool)).createSnapshot(volume, snapshot),
    revertSnapshot: async (pool, volume, snapshot) => (await open(pool)).revertSnapshot(volume, snapshot),
    deleteSnapshot: async (pool, volume, snapshot) => (await open(pool)).deleteSnapshot(volume, snapshot),
  };
}

const enc = encodeURIComponent;
const poolPath = (pool: string) => `/1.0/storage-pools/${enc(pool)}`;
const volPath = (pool: string, name: string) => `${poolPath(pool)}/volumes/${enc(name)}`;
const snapPath = (pool: string, name: string, snap: string) => `${volPath(pool, name)}/snapshots/${enc(snap)}`;

/** The pools of the daemon the client talks to, through its API. */
export function remoteStorage(client: DaemonClient): StorageAccess {
  const volumesOf = (pool: string) => client.call<StorageVolume[]>('GET', `${poolPath(pool)}/volumes`);
  return {
    pools: () => client.call<StoragePool[]>('GET', '/1.0/storage-pools'),
    pool: (name) => client.call<StoragePool>('GET', poolPath(name)),
    createPool: (name, path) =>
      client.call<StoragePool>('POST', '/1.0/storage-pools', { name, ...(path === undefined ? {} : { path }) }),
    async deletePool(name) {
      await client.call('DELETE', poolPath(name));
    },
    async volumes(pool) {
      if (pool !== undefined) return volumesOf(pool);
      const out: VolumeInfo[] = [];
      for (const p of await client.call<StoragePool[]>('GET', '/1.0/storage-pools'))
        out.push(...(await volumesOf(p.name)));
      return out;
    },
    volume: (pool, name) => client.call<StorageVolume>('GET', volPath(pool, name)),
    createVolume: (pool, name, sizeBytes, format) =>
      client.call<StorageVolume>('POST', `${poolPath(pool)}/volumes`, { name, size: sizeBytes, format }),
    resizeVolume: (pool, name, size) =>
      client.call<StorageVolume>('PATCH', volPath(pool, name), {
        size: 'sizeBytes' in size ? size.sizeBytes : `+${size.growBytes}`,
      }),
    async cloneVolume(pool, base, name, follow) {
      const op = await client.call<Operation>('POST', `${volPath(pool, base)}/clone`, { name });
      await follow.operation(client, op);
      return client.call<StorageVolume>('GET', volPath(pool, name));
    },
    async copyVolume(pool, source, name, format, follow) {
      const op = await client.call<Operation>('POST', `${volPath(pool, source)}/copy`, {
        name,
        ...(format === undefined ? {} : { format }),
      });
      await follow.operation(client, op);
      return client.call<StorageVolume>('GET', volPath(pool, name));
    },
    async importVolume(pool, name, file, opts, follow) {
      // Refusals first, so a large file is not sent only to be turned away.
      await client.call('GET', poolPath(pool));
      const existing = await client.raw('GET', volPath(pool, name));
      if (existing.status === 200) {
        throw new StrataError('ALREADY_EXISTS', `volume '${name}' already exists in pool '${pool}'`);
      }
      const query = new URLSearchParams({ format: opts.format });
      if (opts.sourceFormat) query.set('sourceFormat', opts.sourceFormat);
      const op = await follow.transfer(`uploading ${file}`, (onProgress, signal) =>
        client.upload<Operation>(`${volPath(pool, name)}/import?${query}`, file, IMAGE_MEDIA_TYPE, onProgress, signal),
      );
      await follow.operation(client, op);
      return client.call<StorageVolume>('GET', volPath(pool, name));
    },
    async exportVolume(pool, name, file, opts, follow) {
      const dest = resolve(file);
      if (await pathExists(dest)) throw new StrataError('ALREADY_EXISTS', `${file}: the file exists`);
      const op = await client.call<Operation>('POST', `${volPath(pool, name)}/export`, opts);
      const done = await follow.operation(client, op);
      // Downloaded beside the destination, then linked into place: a failed transfer leaves no file.
      const tmp = join(dirname(dest), `.strata-export-${randomBytes(6).toString('hex')}.tmp`);
      try {
        await follow.transfer(`downloading ${pool}/${name}`, (onProgress, signal) =>
          client.download(`/1.0/operations/${encodeURIComponent(done.id)}/file?remove=true`, tmp, onProgress, signal),
        );
        try {
          await link(tmp, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new StrataError('ALREADY_EXISTS', `${file}: the file exists`);
          }
          throw new StrataError('IO', `cannot create ${file}: ${(err as Error).message}`);
        }
      } finally {
        await unlink(tmp).catch(() => {});
      }
    },
    async deleteVolume(pool, name) {
      await client.call('DELETE', volPath(pool, name));
    },
    snapshots: (pool, volume) => client.call<VolumeSnapshot[]>('GET', `${volPath(pool, volume)}/snapshots`),
    createSnapshot: (pool, volume, snapshot) =>
      client.call<VolumeSnapshot>('POST', `${volPath(pool, volume)}/snapshots`, { name: snapshot }),
    async revertSnapshot(pool, volume, snapshot) {
      await client.call('POST', `${snapPath(pool, volume, snapshot)}/revert`);
    },
    async deleteSnapshot(pool, volume, snapshot) {
      await client.call('DELETE', snapPath(pool, volume, snapshot));
    },
  };
}
