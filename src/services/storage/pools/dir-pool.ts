import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../../../base/errors.js';
import { openImageChain } from '../backing-chain.js';
import { createQcow2 } from '../image-create.js';
import { ioError } from '../io-util.js';
import { exportQcow2 } from '../qcow2/export.js';
import { Qcow2Image } from '../qcow2/qcow2-image.js';
import { resizeQcow2 } from '../qcow2/resize.js';
import { applySnapshot, createSnapshot, deleteSnapshot, listSnapshots } from '../qcow2/snapshots.js';
import {
  type CreateVolumeOptions,
  checkName,
  checkVolumeName,
  checkVolumeSize,
  type ExportVolumeOptions,
  type ImportVolumeOptions,
  type PoolDriver,
  type VolumeAttachment,
  type VolumeFormat,
  type VolumeInfo,
  type VolumeSnapshotInfo,
} from './pool-driver.js';
import { copyToRaw, pathExists, readVolumeFacts } from './volume-files.js';
import type { VolumeLocks } from './volume-locks.js';

/** The metadata file of a volume, `<name>.volume.json` beside its data file. */
interface VolumeMeta {
  strataVolume: 1;
  name: string;
  format: VolumeFormat;
  /** The base volume's name (same pool) for a clone. */
  backing: string | null;
  createdAt: string;
}

const META_SUFFIX = '.volume.json';

/**
 * A storage pool in a host directory: volume `NAME` is the file `NAME.qcow2` or `NAME.raw` and its metadata
 * `NAME.volume.json`; a clone is a qcow2 overlay whose backing file name is the base's file name, relative, so the
 * folder can move. A volume exists when its metadata file does: every create writes the data under a temporary
 * name (starting with a dot, which no volume name can), renames it into place, and writes the metadata last; a
 * failure removes what it made. Every change holds the volume's read-write lock for its duration, so it cannot
 * race a VM or another command.
 */
export class DirPool implements PoolDriver {
  readonly kind = 'dir';

  constructor(
    readonly name: string,
    /** The directory holding the volumes (created on first use). */
    readonly location: string,
    private readonly locks: VolumeLocks,
  ) {}

  private dataPath(name: string, format: VolumeFormat): string {
    return join(this.location, `${name}.${format}`);
  }

  private metaPath(name: string): string {
    return join(this.location, `${name}${META_SUFFIX}`);
  }

  private tempPath(name: string, ext: string): string {
    return join(this.location, `.tmp-${name}-${randomBytes(6).toString('hex')}.${ext}`);
  }

  private async readMeta(name: string): Promise<VolumeMeta> {
    checkVolumeName(name);
    let text: string;
    try {
      text = await readFile(this.metaPath(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StrataError('NOT_FOUND', `no volume '${name}' in pool '${this.name}'`);
      }
      throw ioError(this.metaPath(name), 'cannot read the volume metadata', err);
    }
    return parseMeta(text, this.metaPath(name), name);
  }

  private async allMetas(): Promise<VolumeMeta[]> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(this.location, 'cannot list the pool', err);
    }
    const out: VolumeMeta[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith(META_SUFFIX) || n.startsWith('.')) continue;
      const name = n.slice(0, -META_SUFFIX.length);
      try {
        out.push(await this.readMeta(name));
      } catch (err) {
        // a foreign or unreadable file in a shared directory is not a volume
        if (err instanceof StrataError && err.code !== 'IO') continue;
        throw err;
      }
    }
    return out;
  }

  private async info(meta: VolumeMeta, all?: VolumeMeta[]): Promise<VolumeInfo> {
    const path = this.dataPath(meta.name, meta.format);
    const facts = await readVolumeFacts(path, meta.format);
    const metas = all ?? (await this.allMetas());
    return {
      pool: this.name,
      name: meta.name,
      format: meta.format,
      capacityBytes: facts.capacityBytes,
      allocationBytes: facts.allocationBytes,
      backing: meta.backing,
      dependents: metas.filter((m) => m.backing === meta.name).map((m) => m.name),
      snapshotCount: facts.snapshotCount,
      users: await this.locks.users(this.name, meta.name),
      createdAt: meta.createdAt,
      path,
    };
  }

  /** Every volume, sorted by name. */
  async listVolumes(): Promise<VolumeInfo[]> {
    const metas = await this.allMetas();
    return Promise.all(metas.map((m) => this.info(m, metas)));
  }

  /** One volume; NOT_FOUND when absent. */
  async getVolume(name: string): Promise<VolumeInfo> {
    return this.info(await this.readMeta(name));
  }

  /** Whether the pool holds no volume. */
  async isEmpty(): Promise<boolean> {
    return (await this.allMetas()).length === 0;
  }

  /**
   * Runs `job` holding the volume's read-write lock (taken for this process). The lock is taken before the
   * existence check, so two creates of one name cannot both pass it.
   */
  private async withLock<T>(name: string, job: () => Promise<T>): Promise<T> {
    checkVolumeName(name);
    await this.ensureDir();
    const lock = await this.locks.acquire(this.name, name, 'rw');
    try {
      return await job();
    } finally {
      await lock.release();
    }
  }

  private async ensureDir(): Promise<void> {
    try {
      await mkdir(this.location, { recursive: true });
    } catch (err) {
      throw ioError(this.location, 'cannot create the pool directory', err);
    }
  }

  /**
   * Makes a new volume: `fill` writes the data file at a temporary path; it is then renamed into place and the
   * metadata written (temporary name, then rename). Any failure removes what was made.
   */
  private async make(
    name: string,
    format: VolumeFormat,
    backing: string | null,
    fill: (tmp: string) => Promise<void>,
  ): Promise<VolumeInfo> {
    return this.withLock(name, async () => {
      if (await pathExists(this.metaPath(name))) {
        throw new StrataError('ALREADY_EXISTS', `volume '${name}' already exists in pool '${this.name}'`);
      }
      const tmpData = this.tempPath(name, format);
      const tmpMeta = this.tempPath(name, 'json');
      const data = this.dataPath(name, format);
      let placed = false;
      try {
        await fill(tmpData);
        const meta: VolumeMeta = { strataVolume: 1, name, format, backing, createdAt: new Date().toISOString() };
        await writeFile(tmpMeta, `${JSON.stringify(meta, null, 2)}\n`, { flag: 'wx' });
        await rename(tmpData, data);
        placed = true;
        await rename(tmpMeta, this.metaPath(name));
        return await this.info(meta);
      } catch (err) {
        await unlink(tmpData).catch(() => {});
        await unlink(tmpMeta).catch(() => {});
        if (placed && !(await pathExists(this.metaPath(name)))) await unlink(data).catch(() => {});
        throw err;
      }
    });
  }

  /** An empty volume (qcow2 by default; raw is a sparse file). */
  async createVolume(name: string, opts: CreateVolumeOptions): Promise<VolumeInfo> {
    checkVolumeName(name);
    checkVolumeSize(opts.sizeBytes);
    const format = opts.format ?? 'qcow2';
    return this.make(name, format, null, async (tmp) => {
      if (format === 'qcow2') {
        await createQcow2(tmp, { sizeBytes: opts.sizeBytes });
      } else {
        await writeFile(tmp, '', { flag: 'wx' });
        await truncate(tmp, opts.sizeBytes);
      }
    });
  }

  /**
   * A copy of a raw or qcow2 image from the host: its whole backing chain is read through, so the volume stands
   * alone; zero clusters stay unallocated (qcow2) or holes (raw).
   */
  async importVolume(name: string, source: string, opts: ImportVolumeOptions = {}): Promise<VolumeInfo> {
    checkVolumeName(name);
    const format = opts.format ?? 'qcow2';
    return this.make(name, format, null, async (tmp) => {
      const src = await openImageChain(source, {
        readOnly: true,
        ...(opts.sourceFormat ? { format: opts.sourceFormat } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      try {
        if (src.sizeBytes === 0) throw new StrataError('INVALID_ARGUMENT', `${source}: the image is empty`);
        const transfer = {
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        };
        if (format === 'qcow2') await exportQcow2(src, tmp, transfer);
        else await copyToRaw(src, tmp, transfer);
      } finally {
        await src.close();
      }
    });
  }

  /**
   * A thin qcow2 overlay on `base` (qcow2.txt "backing_file_offset": the name is stored relative, resolved against
   * the overlay's folder, with the backing format extension so it is never probed). The base must not be open
   * read-write; once it has a clone it can no longer be attached read-write, reverted or deleted.
   */
  async cloneVolume(name: string, base: string): Promise<VolumeInfo> {
    checkVolumeName(name);
    const baseMeta = await this.readMeta(base);
    if (name === base)
      throw new StrataError('ALREADY_EXISTS', `volume '${name}' already exists in pool '${this.name}'`);
    const baseLock = await this.locks.acquire(this.name, base, 'ro');
    try {
      const baseFile = `${base}.${baseMeta.format}`;
      return await this.make(name, 'qcow2', base, (tmp) =>
        createQcow2(tmp, { backingFile: baseFile, backingFormat: baseMeta.format }),
      );
    } finally {
      await baseLock.release();
    }
  }

  /** Grows a volume; a smaller size is refused (CONFLICT), as is a raw or qcow2 size out of range. */
  async resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo> {
    checkVolumeSize(sizeBytes, 'new size');
    return this.withLock(name, async () => {
      const meta = await this.readMeta(name);
      // The base of clones is read-only: they read through to it.
      await this.refuseIfBacking(name, 'resized');
      const path = this.dataPath(name, meta.format);
      if (meta.format === 'qcow2') {
        await this.withQcow2(meta, (img) => resizeQcow2(img, sizeBytes));
      } else {
        const { capacityBytes } = await readVolumeFacts(path, 'raw');
        if (sizeBytes < capacityBytes) {
          throw new StrataError(
            'CONFLICT',
            `volume '${name}': shrinking from ${capacityBytes} to ${sizeBytes} bytes is refused: it would drop guest data`,
          );
        }
        try {
          await truncate(path, sizeBytes);
        } catch (err) {
          throw ioError(path, 'cannot grow the raw volume', err);
        }
      }
      return this.info(meta);
    });
  }

  /** Opens a qcow2 volume read-write (with its backing chain) for `job` and closes it cleanly. */
  private async withQcow2<T>(meta: VolumeMeta, job: (img: Qcow2Image) => Promise<T>): Promise<T> {
    if (meta.format !== 'qcow2') {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `volume '${meta.name}' is raw: snapshots need a qcow2 volume (import it with --format qcow2)`,
      );
    }
    const disk = await openImageChain(this.dataPath(meta.name, 'qcow2'), { format: 'qcow2' });
    try {
      if (!(disk instanceof Qcow2Image)) throw new StrataError('INTERNAL', `volume '${meta.name}' is not qcow2`);
      return await job(disk);
    } finally {
      await disk.close();
    }
  }

  /** Takes an internal snapshot of a qcow2 volume. */
  async createSnapshot(name: string, snapshot: string): Promise<VolumeSnapshotInfo> {
    checkName(snapshot, 'snapshot');
    return this.withLock(name, async () => {
      const meta = await this.readMeta(name);
      return this.withQcow2(meta, async (img) => {
        const id = await createSnapshot(img, snapshot);
        const found = (await listSnapshots(img)).find((s) => s.id === id);
        if (!found) throw new StrataError('INTERNAL', `volume '${name}': snapshot ${id} vanished`);
        return toSnapshotInfo(found);
      });
    });
  }

  /** The snapshots of a volume (none for raw). Taken under a read-only lock: refused while a VM writes it. */
  async listSnapshots(name: string): Promise<VolumeSnapshotInfo[]> {
    const meta = await this.readMeta(name);
    if (meta.format === 'raw') return [];
    const lock = await this.locks.acquire(this.name, name, 'ro');
    try {
      const img = await openImageChain(this.dataPath(name, 'qcow2'), { format: 'qcow2', readOnly: true });
      try {
        if (!(img instanceof Qcow2Image)) throw new StrataError('INTERNAL', `volume '${name}' is not qcow2`);
        return (await listSnapshots(img)).map(toSnapshotInfo);
      } finally {
        await img.close();
      }
    } finally {
      await lock.release();
    }
  }

  /** Reverts to a snapshot; refused while another volume uses this one as backing (its data would change). */
  async revertSnapshot(name: string, snapshot: string): Promise<void> {
    return this.withLock(name, async () => {
      const meta = await this.readMeta(name);
      await this.refuseIfBacking(name, 'reverted');
      await this.withQcow2(meta, (img) => applySnapshot(img, snapshot));
    });
  }

  /** Deletes a snapshot, freeing the clusters only it used. */
  async deleteSnapshot(name: string, snapshot: string): Promise<void> {
    return this.withLock(name, async () => {
      const meta = await this.readMeta(name);
      await this.withQcow2(meta, (img) => deleteSnapshot(img, snapshot));
    });
  }

  private async refuseIfBacking(name: string, what: string): Promise<void> {
    const dependents = (await this.allMetas()).filter((m) => m.backing === name).map((m) => m.name);
    if (dependents.length > 0) {
      throw new StrataError(
        'CONFLICT',
        `volume '${name}' cannot be ${what}: it is the backing of ${dependents.map((d) => `'${d}'`).join(', ')} in pool '${this.name}'`,
      );
    }
  }

  /**
   * Writes a standalone copy (backing chain flattened) to `dest`: under a temporary name in `dest`'s folder, then
   * hard-linked to `dest` (which fails if it appeared meanwhile) so a failed or refused export leaves no file.
   */
  async exportVolume(name: string, dest: string, opts: ExportVolumeOptions): Promise<void> {
    const meta = await this.readMeta(name);
    if (opts.compress && opts.format !== 'qcow2') {
      throw new StrataError('INVALID_ARGUMENT', 'compression needs the qcow2 export format');
    }
    if (await pathExists(dest)) throw new StrataError('ALREADY_EXISTS', `${dest}: the file exists`);
    const lock = await this.locks.acquire(this.name, name, 'ro');
    const tmp = join(dirname(dest), `.strata-export-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const src = await openImageChain(this.dataPath(name, meta.format), { format: meta.format, readOnly: true });
      try {
        const transfer = {
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        };
        if (opts.format === 'qcow2') await exportQcow2(src, tmp, { ...transfer, compress: opts.compress === true });
        else await copyToRaw(src, tmp, transfer);
      } finally {
        await src.close();
      }
      try {
        await link(tmp, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new StrataError('ALREADY_EXISTS', `${dest}: the file exists`);
        }
        throw ioError(dest, 'cannot create the exported image', err);
      }
    } finally {
      await unlink(tmp).catch(() => {});
      await lock.release();
    }
  }

  /** Deletes a volume: refused while a process uses it or another volume uses it as backing. */
  async deleteVolume(name: string): Promise<void> {
    return this.withLock(name, async () => {
      const meta = await this.readMeta(name);
      await this.refuseIfBacking(name, 'deleted');
      // the metadata goes first: from then on the volume does not exist, whatever happens to the data file
      try {
        await unlink(this.metaPath(name));
      } catch (err) {
        throw ioError(this.metaPath(name), 'cannot delete the volume metadata', err);
      }
      await unlink(this.dataPath(name, meta.format)).catch(() => {});
    });
  }

  /** Locks a volume for a VM (see PoolDriver.attachVolume). */
  async attachVolume(name: string, opts: { readOnly: boolean; pid?: number }): Promise<VolumeAttachment> {
    const meta = await this.readMeta(name);
    if (!opts.readOnly) await this.refuseIfBacking(name, 'attached read-write (attach it readonly)');
    const lock = await this.locks.acquire(this.name, name, opts.readOnly ? 'ro' : 'rw', opts.pid ?? process.pid);
    return {
      path: this.dataPath(name, meta.format),
      format: meta.format,
      readOnly: opts.readOnly,
      release: () => lock.release(),
    };
  }
}

function parseMeta(text: string, where: string, name: string): VolumeMeta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StrataError('INVALID_ARGUMENT', `${where}: not a volume metadata file (bad JSON)`);
  }
  const m = v as Partial<VolumeMeta> | null;
  if (
    m?.strataVolume !== 1 ||
    m.name !== name ||
    (m.format !== 'qcow2' && m.format !== 'raw') ||
    (m.backing !== null && typeof m.backing !== 'string') ||
    typeof m.createdAt !== 'string'
  ) {
    throw new StrataError('INVALID_ARGUMENT', `${where}: not a volume metadata file`);
  }
  if (m.backing !== null) checkVolumeName(m.backing);
  return m as VolumeMeta;
}

function toSnapshotInfo(s: { id: string; name: string; date: Date; diskSize: number }): VolumeSnapshotInfo {
  return { id: s.id, name: s.name, createdAt: s.date.toISOString(), diskSizeBytes: s.diskSize };
}
