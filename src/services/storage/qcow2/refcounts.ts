import { StrataError } from '../../../base/errors.js';
import { corrupt, type ImageFile } from './image-file.js';

/** qcow2.txt "Refcount table": bits 9-63 of an entry are the block offset, bits 0-8 reserved. */
const REFTABLE_OFFSET_MASK = ~0x1ff;

/**
 * The refcount structure of an image held in memory: the refcount table and every refcount block
 * (qcow2.txt "Host cluster management"). Increments are written by {@link flushIncrements} before any
 * metadata points at the new clusters; decrements are queued with {@link deferDecrement} and applied by
 * {@link applyDeferred} only after the metadata that dropped the references is durable, so a freed cluster is
 * never reused while an on-disk table may still point at it.
 */
export class Refcounts {
  readonly clusterBits: number;
  readonly clusterSize: number;
  readonly refcountOrder: number;
  /** Refcount entries per block. */
  readonly entriesPerBlock: number;
  /** Largest refcount this width can hold. */
  readonly maxRefcount: number;
  /** Offset of the refcount table in the file. */
  tableOffset: number;
  /** Size of the refcount table in clusters. */
  tableClusters: number;
  /** Changes whenever the table moves or a block is added (for the metadata overlap check). */
  structureVersion = 0;
  /** One past the last cluster in use or reserved; allocation past it extends the file. */
  endCluster: number;
  private table: number[];
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly dirtyBlocks = new Set<number>();
  private tableDirty = false;
  private tableMoved: { offset: number; clusters: number } | null = null;
  private deferred: number[] = [];
  private freeHint = 0;
  private readonly file: ImageFile;

  private constructor(
    file: ImageFile,
    clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
  ) {
    this.file = file;
    this.clusterBits = clusterBits;
    this.clusterSize = 2 ** clusterBits;
    this.refcountOrder = refcountOrder;
    this.entriesPerBlock = (this.clusterSize * 8) >> refcountOrder;
    this.maxRefcount = refcountOrder >= 6 ? Number.MAX_SAFE_INTEGER : 2 ** (1 << refcountOrder) - 1;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.table = [];
    this.endCluster = Math.ceil(file.size / this.clusterSize);
  }

  /** Loads the table and all blocks; every offset is checked against the file. */
  static async load(
    file: ImageFile,
    clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
  ): Promise<Refcounts> {
    const rc = new Refcounts(file, clusterBits, refcountOrder, tableOffset, tableClusters);
    const raw = await file.readStrict(tableOffset, tableClusters * rc.clusterSize, 'refcount table');
    const dv = new DataView(raw.buffer);
    const seen = new Set<number>();
    for (let i = 0; i < raw.length / 8; i++) {
      const hi = dv.getUint32(i * 8);
      const lo = dv.getUint32(i * 8 + 4);
      const off = hi * 2 ** 32 + ((lo & REFTABLE_OFFSET_MASK) >>> 0);
      rc.table.push(off);
      if (off === 0) continue;
      if (hi > 0x00ffffff || off % rc.clusterSize !== 0) {
        throw corrupt(file.path, `refcount block offset ${off} (table entry ${i}) is invalid or unaligned`);
      }
      if (seen.has(off)) throw corrupt(file.path, `refcount block at ${off} is referenced twice by the refcount table`);
      seen.add(off);
      rc.blocks.set(i, await file.readStrict(off, rc.clusterSize, `refcount block ${i}`));
    }
    // clusters past the end of the file may carry refcounts (leaks): never hand those out as free
    for (const [bi, block] of rc.blocks) {
      if ((bi + 1) * rc.entriesPerBlock <= rc.endCluster) continue;
      for (let k = rc.entriesPerBlock - 1; k >= 0; k--) {
        if (readEntry(block, k, refcountOrder) !== 0) {
          rc.endCluster = Math.max(rc.endCluster, bi * rc.entriesPerBlock + k + 1);
          break;
        }
      }
    }
    return rc;
  }

  /** A fresh, empty in-memory structure for a rebuild; nothing is read. */
  static empty(file: ImageFile, clusterBits: number, refcountOrder: number): Refcounts {
    return new Refcounts(file, clusterBits, refcountOrder, 0, 0);
  }

  /** Refcount of the cluster with index `cluster` (0 past the covered area). */
  get(cluster: number): number {
    const block = this.blocks.get(Math.floor(cluster / this.entriesPerBlock));
    if (!block) return 0;
    return readEntry(block, cluster % this.entriesPerBlock, this.refcountOrder);
  }

  /** Adds `delta` to a cluster's refcount now (use {@link deferDecrement} for frees of referenced clusters). */
  adjust(cluster: number, delta: number): void {
    const value = this.get(cluster) + delta;
    if (value < 0) throw corrupt(this.file.path, `refcount of cluster ${cluster} would drop below zero`);
    if (value > this.maxRefcount) {
      throw new StrataError(
        'CONFLICT',
        `${this.file.path}: refcount of cluster ${cluster} would exceed ${this.maxRefcount} (refcount_bits ${1 << this.refcountOrder})`,
      );
    }
    const bi = Math.floor(cluster / this.entriesPerBlock);
    let block = this.blocks.get(bi);
    if (!block) {
      if (value === 0) return;
      block = this.createBlock(bi);
    }
    writeEntry(block, cluster % this.entriesPerBlock, this.refcountOrder, value);
    this.dirtyBlocks.add(bi);
    if (cluster >= this.endCluster) this.endCluster = cluster + 1;
    if (value === 0 && cluster < this.freeHint) this.freeHint = cluster;
  }

  /** Queues a decrement to apply after the referencing metadata is durable. */
  deferDecrement(cluster: number): void {
    this.deferred.push(cluster);
  }

  /** True when decrements wait for {@link applyDeferred}. */
  get hasDeferred(): boolean {
    return this.deferred.length > 0;
  }

  /** Applies the queued decrements in memory (call {@link flushIncrements} next to write them). */
  applyDeferred(): void {
    const list = this.deferred;
    this.deferred = [];
    for (const c of list) this.adjust(c, -1);
  }

  /**
   * Allocates `n` contiguous clusters with refcount 1 and returns the first one's byte offset. Reuses free
   * clusters inside the file when a run of `n` exists past the free hint, else extends the file.
   */
  allocate(n: number): number {
    const start = this.findFree(n);
    if (start + n > this.endCluster) this.endCluster = start + n;
    for (let c = start; c < start + n; c++) this.adjust(c, 1);
    return start * this.clusterSize;
  }

  /** First cluster of a run of `n` free clusters (possibly running past the end); does not reserve it. */
  private findFree(n: number): number {
    let run = 0;
    let c = this.freeHint;
    for (; c < this.endCluster; c++) {
      if (this.get(c) === 0) {
        run++;
        if (run === n) return c - n + 1;
      } else {
        run = 0;
        if (n === 1 || c === this.freeHint) this.freeHint = c + 1;
      }
    }
    return this.endCluster - run;
  }

  /** Creates an empty block for index `bi` in a fresh cluster at the end (growing the table if needed). */
  private createBlock(bi: number): Uint8Array {
    if (bi >= this.table.length) {
      this.growTable(bi + 1);
      // the new table's own refcounts may already have created this block
      const made = this.blocks.get(bi);
      if (made) return made;
    }
    const blockCluster = this.endCluster++;
    this.structureVersion++;
    const block = new Uint8Array(this.clusterSize);
    this.blocks.set(bi, block);
    this.table[bi] = blockCluster * this.clusterSize;
    this.tableDirty = true;
    this.dirtyBlocks.add(bi);
    // the block's own refcount: it may fall in this block or need yet another one
    this.adjust(blockCluster, 1);
    return block;
  }

  /** Moves the table to fresh clusters at the end with room for at least `minEntries` entries. */
  private growTable(minEntries: number): void {
    const perCluster = this.clusterSize / 8;
    const entries = Math.max(minEntries + 2, this.table.length * 2, perCluster);
    const clusters = Math.ceil(entries / perCluster);
    const start = this.endCluster;
    this.structureVersion++;
    this.endCluster += clusters;
    if (this.tableClusters > 0) {
      const oldFirst = this.tableOffset / this.clusterSize;
      for (let c = oldFirst; c < oldFirst + this.tableClusters; c++) this.deferDecrement(c);
    }
    while (this.table.length < clusters * perCluster) this.table.push(0);
    this.tableOffset = start * this.clusterSize;
    this.tableClusters = clusters;
    this.tableMoved = { offset: this.tableOffset, clusters };
    this.tableDirty = true;
    for (let c = start; c < start + clusters; c++) this.adjust(c, 1);
  }

  /**
   * Writes dirty blocks, syncs, then writes the table (if changed) and syncs again; returns the table's new
   * place when it moved, for the caller to put in the header (and sync) before anything else.
   */
  async flushIncrements(): Promise<{ offset: number; clusters: number } | null> {
    if (this.dirtyBlocks.size === 0 && !this.tableDirty) return null;
    const order = [...this.dirtyBlocks].sort((a, b) => a - b);
    for (const bi of order) {
      const off = this.table[bi];
      const block = this.blocks.get(bi);
      if (off !== undefined && block) await this.file.write(off, block);
    }
    this.dirtyBlocks.clear();
    await this.file.sync();
    if (!this.tableDirty) return null;
    const raw = new Uint8Array(this.tableClusters * this.clusterSize);
    const dv = new DataView(raw.buffer);
    this.table.forEach((off, i) => {
      dv.setUint32(i * 8, Math.floor(off / 2 ** 32));
      dv.setUint32(i * 8 + 4, off % 2 ** 32);
    });
    await this.file.write(this.tableOffset, raw);
    await this.file.sync();
    this.tableDirty = false;
    const moved = this.tableMoved;
    this.tableMoved = null;
    return moved;
  }

  /** Byte offsets of the table's clusters and all blocks (for the consistency check). */
  ownClusters(): number[] {
    const out: number[] = [];
    for (let c = 0; c < this.tableClusters; c++) out.push(this.tableOffset + c * this.clusterSize);
    for (const off of this.table) if (off !== 0) out.push(off);
    return out;
  }

  /** Calls `fn` for every cluster with a non-zero refcount (block by block). */
  forEachNonZero(fn: (cluster: number, refcount: number) => void): void {
    for (const bi of [...this.blocks.keys()].sort((a, b) => a - b)) {
      const block = this.blocks.get(bi)!;
      for (let i = 0; i < this.entriesPerBlock; i++) {
        const v = readEntry(block, i, this.refcountOrder);
        if (v !== 0) fn(bi * this.entriesPerBlock + i, v);
      }
    }
  }

  /** Number of clusters that have a refcount block (the covered range). */
  get coveredClusters(): number {
    return this.table.length * this.entriesPerBlock;
  }
}

/** Reads refcount `i` of a block; qcow2.txt "Refcount block": big-endian, sub-byte widths LSB-first. */
function readEntry(block: Uint8Array, i: number, order: number): number {
  switch (order) {
    case 4:
      return (block[i * 2]! << 8) | block[i * 2 + 1]!;
    case 3:
      return block[i]!;
    case 5:
      return (
        (block[i * 4]! * 2 ** 24 + ((block[i * 4 + 1]! << 16) | (block[i * 4 + 2]! << 8) | block[i * 4 + 3]!)) >>> 0
      );
    case 6: {
      let v = 0;
      for (let k = 0; k < 8; k++) v = v * 256 + block[i * 8 + k]!;
      return v;
    }
    default: {
      const bits = 1 << order;
      const per = 8 / bits;
      return (block[Math.floor(i / per)]! >> ((i % per) * bits)) & ((1 << bits) - 1);
    }
  }
}

function writeEntry(block: Uint8Array, i: number, order: number, v: number): void {
  switch (order) {
    case 4:
      block[i * 2] = v >> 8;
      block[i * 2 + 1] = v & 0xff;
      return;
    case 3:
      block[i] = v;
      return;
    case 5:
    case 6: {
      const bytes = order === 5 ? 4 : 8;
      let x = v;
      for (let k = bytes - 1; k >= 0; k--) {
        block[i * bytes + k] = x % 256;
        x = Math.floor(x / 256);
      }
      return;
    }
    default: {
      const bits = 1 << order;
      const per = 8 / bits;
      const shift = (i % per) * bits;
      const mask = ((1 << bits) - 1) << shift;
      const at = Math.floor(i / per);
      block[at] = (block[at]! & ~mask) | ((v << shift) & mask);
    }
  }
}
