import { basename } from 'node:path';
import { StrataError } from '../../../base/errors.js';
import type { BlockBackend } from '../../../machine/ports/block-backend.js';
import { checkRange, makeSerial, ReadWriteQueue } from '../io-util.js';
import {
  encodeMutableFields,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  MUTABLE_FIELDS_OFFSET,
  parseHeader,
  type Qcow2Header,
} from './header.js';
import { corrupt, ImageFile } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import { L2Cache, type L2Table } from './l2-cache.js';
import { entryOffset, HI_COPIED } from './l2-entry.js';
import { MetadataMap } from './overlap.js';
import { readGuest } from './read-path.js';
import { Refcounts } from './refcounts.js';
import { writeGuest, zeroGuest } from './write-path.js';

/** A BlockBackend that can be closed (a backing file). */
export type Closable = BlockBackend & { close(): Promise<void> };

/** Options of {@link Qcow2Image.open}. */
export interface Qcow2OpenOptions {
  /** Refuse writes. */
  readOnly?: boolean;
  /** Opens the backing file named in the header (resolved by the caller); absent: a backing file is an error. */
  openBacking?: (name: string, format: string | null) => Promise<Closable>;
  /** Bytes of L2 tables to cache (default: enough to map 64 GiB, at most 32 MiB). */
  l2CacheBytes?: number;
  /** Called before a dirty image is repaired (for logging). */
  onRepair?: (what: string) => void;
}

/**
 * A qcow2 image (version 3 read-write, version 2 read-only) as a BlockBackend: cluster allocation with
 * refcounts, copy-on-write over a backing file and over snapshot-shared clusters, zero clusters, discard,
 * compressed clusters (read), extended L2 entries (read) and an ordered metadata flush
 * (qcow2.txt "Host cluster management"): refcount increments, then L2 tables, then L1 and header, then the
 * deferred decrements, each step made durable by fdatasync before the next, so a crash leaks clusters at worst.
 */
export class Qcow2Image implements BlockBackend, Qcow2State {
  readonly readOnly: boolean;
  readonly serial: string;
  /** Path of the image file. */
  readonly path: string;
  /** The image file (internal to the qcow2 modules). */
  readonly file: ImageFile;
  /** The parsed header; mutable fields change as the image changes. */
  readonly header: Qcow2Header;
  /** log2 of the cluster size. */
  readonly clusterBits: number;
  /** Cluster size in bytes. */
  readonly clusterSize: number;
  /** Bytes per L2 entry: 8, or 16 with extended L2 entries. */
  readonly l2EntryBytes: number;
  /** Entries per L2 table. */
  readonly l2Entries: number;
  /** True for extended L2 entries (qcow2.txt "Extended L2 Entries"). */
  readonly extendedL2: boolean;
  /** Active L1 table: L2 table offsets (0 = none). */
  l1: number[];
  /** Per L1 entry: the COPIED flag. */
  l1Copied: Uint8Array;
  /** Refcount structure. */
  refcounts: Refcounts;
  /** L2 table cache. */
  readonly l2: L2Cache;
  /** The backing file, or null. */
  readonly backing: Closable | null;
  /** Lowest and highest+1 dirty L1 index. */
  l1DirtyLo = Number.POSITIVE_INFINITY;
  /** Upper bound of the dirty L1 range. */
  l1DirtyHi = 0;
  /** Header fields changed in memory. */
  headerDirty = false;
  /** Data was written since the last fdatasync. */
  needSync = false;
  /** Scratch cluster buffers for partial-cluster copy-on-write and compressed reads. */
  readonly scratch: [Uint8Array, Uint8Array, Uint8Array];
  /** Host offset whose decompressed cluster is in scratch[2], or -1. */
  decompressedAt = -1;
  private readonly queue = new ReadWriteQueue();
  private readonly metadata = new MetadataMap();
  private closed = false;

  private constructor(
    file: ImageFile,
    header: Qcow2Header,
    rc: Refcounts,
    l1: number[],
    l1Copied: Uint8Array,
    opts: {
      readOnly: boolean;
      backing: Closable | null;
      l2CacheBytes: number | undefined;
    },
  ) {
    this.file = file;
    this.path = file.path;
    this.header = header;
    this.readOnly = opts.readOnly;
    this.serial = makeSerial(basename(file.path));
    this.clusterBits = header.clusterBits;
    this.clusterSize = 2 ** header.clusterBits;
    this.extendedL2 = (header.incompatible & INCOMPAT_EXTL2) !== 0n;
    this.l2EntryBytes = this.extendedL2 ? 16 : 8;
    this.l2Entries = this.clusterSize / this.l2EntryBytes;
    this.l1 = l1;
    this.l1Copied = l1Copied;
    this.refcounts = rc;
    this.backing = opts.backing;
    const mapped = this.l2Entries * this.clusterSize;
    const want = opts.l2CacheBytes ?? Math.min(32 << 20, Math.ceil((64 * 2 ** 30) / mapped) * this.clusterSize);
    this.l2 = new L2Cache(file, this.clusterSize, Math.ceil(want / this.clusterSize));
    this.scratch = [
      new Uint8Array(this.clusterSize),
      new Uint8Array(this.clusterSize),
      new Uint8Array(this.clusterSize),
    ];
  }

  /** Capacity the guest sees: the header's virtual size (it changes on a resize or a snapshot revert). */
  get sizeBytes(): number {
    return this.header.size;
  }

  /** Opens a qcow2 image; a dirty image opened writable gets its refcounts rebuilt first. */
  static async open(path: string, opts: Qcow2OpenOptions = {}): Promise<Qcow2Image> {
    const readOnly = opts.readOnly ?? false;
    const file = await ImageFile.open(path, readOnly);
    let backing: Closable | null = null;
    try {
      const probe = new Uint8Array(Math.min(file.size, 512));
      await file.read(0, probe);
      let first = probe;
      if (probe.length >= 24) {
        const bits = new DataView(probe.buffer).getUint32(20);
        if (bits >= 9 && bits <= 21) {
          first = new Uint8Array(Math.min(file.size, 2 ** bits));
          await file.read(0, first);
        }
      }
      const header = parseHeader(path, first, file.size);
      if (!readOnly) {
        if ((header.incompatible & INCOMPAT_CORRUPT) !== 0n) {
          throw new StrataError('CONFLICT', `${path}: the image is marked corrupt; open it read-only or repair it`);
        }
        if ((header.incompatible & INCOMPAT_EXTL2) !== 0n) {
          throw new StrataError('INVALID_ARGUMENT', `${path}: images with extended L2 entries open read-only`);
        }
        if (header.version !== 3) {
          throw new StrataError('INVALID_ARGUMENT', `${path}: qcow2 version 2 images open read-only`);
        }
      }
      const l1Raw = await file.readStrict(header.l1TableOffset, header.l1Size * 8, 'L1 table');
      const l1: number[] = new Array(header.l1Size);
      const l1Copied = new Uint8Array(header.l1Size);
      const dv = new DataView(l1Raw.buffer);
      const cs = 2 ** header.clusterBits;
      for (let i = 0; i < header.l1Size; i++) {
        const hi = dv.getUint32(i * 8);
        const lo = dv.getUint32(i * 8 + 4);
        const off = entryOffset(hi, lo);
        if (off % cs !== 0) throw corrupt(path, `L1 entry ${i} points at unaligned offset ${off}`);
        l1[i] = off;
        l1Copied[i] = (hi & HI_COPIED) !== 0 ? 1 : 0;
      }
      const rc = await Refcounts.load(
        file,
        header.clusterBits,
        header.refcountOrder,
        header.refcountTableOffset,
        header.refcountTableClusters,
      );
      if (header.backingFile !== null) {
        if (!opts.openBacking) {
          throw new StrataError(
            'INVALID_ARGUMENT',
            `${path}: has backing file ${header.backingFile} but none may be opened`,
          );
        }
        backing = await opts.openBacking(header.backingFile, header.backingFormat);
      }
      const img = new Qcow2Image(file, header, rc, l1, l1Copied, {
        readOnly,
        backing,
        l2CacheBytes: opts.l2CacheBytes,
      });
      if (!readOnly) await img.prepareForWriting(opts.onRepair);
      return img;
    } catch (err) {
      await backing?.close().catch(() => {});
      await file.close().catch(() => {});
      throw err;
    }
  }

  /** Repairs a dirty image and clears autoclear bits we do not maintain (qcow2.txt "autoclear_features"). */
  private async prepareForWriting(onRepair?: (what: string) => void): Promise<void> {
    await this.metadata.rebuild(this);
    if ((this.header.incompatible & INCOMPAT_DIRTY) !== 0n) {
      onRepair?.(`${this.path}: dirty bit set, rebuilding refcounts`);
      const { rebuildRefcounts } = await import('./check.js');
      await rebuildRefcounts(this);
      this.header.incompatible &= ~INCOMPAT_DIRTY;
      this.headerDirty = true;
    }
    if (this.header.autoclear !== 0n) {
      this.header.autoclear = 0n;
      this.headerDirty = true;
    }
    if (this.headerDirty) {
      await this.writeHeader();
      await this.file.sync();
    }
  }

  /** Throws when `cluster` holds metadata (see MetadataMap). */
  guardMetadata(cluster: number, what: string): void {
    this.metadata.check(this, cluster, what);
  }

  /** Recomputes the metadata map (after snapshot operations). */
  refreshMetadataMap(): Promise<void> {
    return this.metadata.rebuild(this);
  }

  /** Writes the header's mutable fields (one sector: atomic on the disks we care about). */
  async writeHeader(): Promise<void> {
    await this.file.write(MUTABLE_FIELDS_OFFSET, encodeMutableFields(this.header));
    this.headerDirty = false;
  }

  /** Reads guest data; unallocated clusters come from the backing file or read as zeros. */
  async read(offsetBytes: number, dest: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this.path, this.sizeBytes, offsetBytes, dest.length);
    return this.queue.read(() => readGuest(this, offsetBytes, dest));
  }

  /** Writes guest data, allocating clusters and copying on write as needed. */
  async write(offsetBytes: number, src: Uint8Array): Promise<void> {
    this.checkWritable();
    checkRange(this.path, this.sizeBytes, offsetBytes, src.length);
    return this.queue.change(() =>
      this.guard(async () => {
        await this.markDirty();
        await writeGuest(this, offsetBytes, src);
      }),
    );
  }

  /** The dirty bit is set on disk for this session (see {@link markDirty}). */
  private sessionDirty = false;

  /**
   * Sets the dirty bit (qcow2.txt "incompatible_features" bit 0) before the first change of a session and
   * clears it on a clean close: after a crash the next open (ours or QEMU's) rebuilds the refcounts, which
   * reclaims the clusters a crash may have leaked. The ordered flush keeps the refcounts consistent anyway.
   */
  async markDirty(): Promise<void> {
    if (this.sessionDirty) return;
    this.header.incompatible |= INCOMPAT_DIRTY;
    await this.writeHeader();
    await this.file.sync();
    this.sessionDirty = true;
  }

  /** Deallocates whole clusters of the range and zeroes the partial ones. */
  async discard(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.writeZeroes(offsetBytes, lengthBytes, true);
  }

  /** Makes the range read as zeros with zero clusters (deallocating when `mayUnmap`). */
  async writeZeroes(offsetBytes: number, lengthBytes: number, mayUnmap: boolean): Promise<void> {
    this.checkWritable();
    checkRange(this.path, this.sizeBytes, offsetBytes, lengthBytes);
    return this.queue.change(() =>
      this.guard(async () => {
        await this.markDirty();
        await zeroGuest(this, offsetBytes, lengthBytes, mayUnmap);
      }),
    );
  }

  /** Writes all metadata in crash-safe order and makes every completed write durable. */
  async flush(): Promise<void> {
    this.checkOpen();
    if (this.readOnly) return;
    return this.queue.change(() => this.guard(() => this.flushMetadata()));
  }

  /** Runs a mutating job; after a failure the image refuses further writes (its memory may be ahead of disk). */
  private broken: Error | null = null;
  private async guard<T>(job: () => Promise<T>): Promise<T> {
    if (this.broken) {
      throw new StrataError('IO', `${this.path}: an earlier write failed (${this.broken.message}); reopen the image`);
    }
    try {
      return await job();
    } catch (err) {
      // I/O failures may leave memory ahead of the disk; refusals (bad argument, not found, conflict) do not
      if (!(err instanceof StrataError) || err.code === 'IO' || err.code === 'NO_SPACE' || err.code === 'INTERNAL') {
        this.broken = err instanceof Error ? err : new Error(String(err));
      }
      throw err;
    } finally {
      this.l2.unpinAll();
    }
  }

  /**
   * The ordered metadata flush: (1) refcount blocks, table, header if the table moved; (2) L2 tables;
   * (3) L1 table and header; (4) deferred decrements. Each step ends with fdatasync.
   */
  async flushMetadata(): Promise<void> {
    const moved = await this.refcounts.flushIncrements();
    let synced = false;
    if (moved) {
      this.header.refcountTableOffset = moved.offset;
      this.header.refcountTableClusters = moved.clusters;
      await this.writeHeader();
      await this.file.sync();
      synced = true;
    }
    if (this.l2.hasDirty) {
      await this.l2.writeDirty();
      await this.file.sync();
      synced = true;
    }
    if (this.l1DirtyHi > 0 || this.headerDirty) {
      if (this.l1DirtyHi > 0) await this.writeL1Range(this.l1DirtyLo, this.l1DirtyHi);
      if (this.headerDirty) await this.writeHeader();
      await this.file.sync();
      synced = true;
    }
    if (this.refcounts.hasDeferred) {
      this.refcounts.applyDeferred();
      const again = await this.refcounts.flushIncrements();
      if (again) {
        this.header.refcountTableOffset = again.offset;
        this.header.refcountTableClusters = again.clusters;
        await this.writeHeader();
        await this.file.sync();
      }
      synced = true;
    }
    if (this.needSync && !synced) await this.file.sync();
    this.needSync = false;
  }

  /** Writes L1 entries [lo, hi) rounded out to 512-byte sectors. */
  private async writeL1Range(lo: number, hi: number): Promise<void> {
    const first = Math.floor(lo / 64) * 64;
    const last = Math.min(this.l1.length, Math.ceil(hi / 64) * 64);
    const buf = new Uint8Array((last - first) * 8);
    const dv = new DataView(buf.buffer);
    for (let i = first; i < last; i++) {
      const off = this.l1[i] ?? 0;
      dv.setUint32((i - first) * 8, (Math.floor(off / 2 ** 32) | (this.l1Copied[i] ? HI_COPIED : 0)) >>> 0);
      dv.setUint32((i - first) * 8 + 4, off % 2 ** 32);
    }
    await this.file.write(this.header.l1TableOffset + first * 8, buf);
    this.l1DirtyLo = Number.POSITIVE_INFINITY;
    this.l1DirtyHi = 0;
  }

  /** Records a change of L1 entry `i`. */
  setL1(i: number, offset: number, copied: boolean): void {
    this.l1[i] = offset;
    this.l1Copied[i] = copied ? 1 : 0;
    if (i < this.l1DirtyLo) this.l1DirtyLo = i;
    if (i + 1 > this.l1DirtyHi) this.l1DirtyHi = i + 1;
  }

  /**
   * The L2 table for L1 index `i` (loaded through the cache), or null when unallocated. Changes (never reads,
   * which may run concurrently) flush metadata first when the cache is full of dirty tables.
   */
  async l2Table(i: number, forChange = false): Promise<L2Table | null> {
    const off = this.l1[i] ?? 0;
    if (off === 0) return null;
    if (forChange && this.l2.needFlush) await this.flushMetadata();
    return this.l2.load(off, `L2 table of L1 entry ${i}`);
  }

  /** Runs `job` exclusively with the other requests (snapshot operations, checks). */
  async exclusive<T>(job: () => Promise<T>): Promise<T> {
    this.checkOpen();
    return this.queue.change(() => this.guard(job));
  }

  /** Flushes (when writable), closes the backing chain and the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.readOnly && !this.broken) {
        await this.queue.change(async () => {
          await this.flushMetadata();
          if (this.sessionDirty) {
            this.header.incompatible &= ~INCOMPAT_DIRTY;
            await this.writeHeader();
            await this.file.sync();
            this.sessionDirty = false;
          }
        });
      }
    } finally {
      this.closed = true;
      await this.backing?.close().catch(() => {});
      await this.file.close();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError('INVALID_ARGUMENT', `${this.path}: the disk is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new StrataError('INVALID_ARGUMENT', `${this.path}: the disk is read-only`);
  }
}
