import type { ImageFile } from './image-file.js';

/** An L2 table in memory. */
export interface L2Table {
  /** Host offset of the table. */
  offset: number;
  /** The table's bytes (one cluster). */
  data: Uint8Array;
  /** Big-endian view of `data`. */
  dv: DataView;
  /** Changed in memory and not yet written. */
  dirty: boolean;
}

/**
 * A least-recently-used cache of L2 tables keyed by host offset. Dirty tables are written only by
 * {@link writeDirty} (the image's ordered flush) and are never evicted before; pinned tables (in use by the
 * current request) are never evicted either. When only dirty tables could go, `needFlush` tells the caller to
 * flush metadata first.
 */
export class L2Cache {
  /** Tables kept beyond which clean ones are evicted. */
  readonly capacity: number;
  private readonly map = new Map<number, L2Table>();
  private readonly pins = new Set<L2Table>();
  private readonly file: ImageFile;
  private readonly clusterSize: number;

  constructor(file: ImageFile, clusterSize: number, capacity: number) {
    this.file = file;
    this.clusterSize = clusterSize;
    this.capacity = Math.max(8, capacity);
  }

  /** The cached table at `offset`, marked most recently used, or undefined. */
  peek(offset: number): L2Table | undefined {
    const t = this.map.get(offset);
    if (t) {
      this.map.delete(offset);
      this.map.set(offset, t);
    }
    return t;
  }

  /** Loads the table at `offset` (checked against the file) and caches it. */
  async load(offset: number, what: string): Promise<L2Table> {
    const hit = this.peek(offset);
    if (hit) return hit;
    const data = await this.file.readStrict(offset, this.clusterSize, what);
    return this.insert(offset, data, false);
  }

  /** Caches `data` as the table at `offset` (replacing any cached copy). */
  insert(offset: number, data: Uint8Array, dirty: boolean): L2Table {
    const t: L2Table = { offset, data, dv: new DataView(data.buffer, data.byteOffset, data.byteLength), dirty };
    this.map.delete(offset);
    this.map.set(offset, t);
    this.evict();
    return t;
  }

  /** Forgets a clean table (its cluster was freed). */
  drop(offset: number): void {
    const t = this.map.get(offset);
    if (t && !t.dirty && !this.pins.has(t)) this.map.delete(offset);
  }

  /** True when the cache is full of dirty or pinned tables and a metadata flush would let it shrink. */
  get needFlush(): boolean {
    if (this.map.size <= this.capacity) return false;
    for (const t of this.map.values()) if (!t.dirty && !this.pins.has(t)) return false;
    return true;
  }

  /** Keeps `t` in the cache until {@link unpinAll}. */
  pin(t: L2Table): void {
    this.pins.add(t);
  }

  /** Releases every pin. */
  unpinAll(): void {
    this.pins.clear();
    this.evict();
  }

  /** True when some table waits to be written. */
  get hasDirty(): boolean {
    for (const t of this.map.values()) if (t.dirty) return true;
    return false;
  }

  /** Writes every dirty table (in offset order); the caller syncs. Returns how many were written. */
  async writeDirty(): Promise<number> {
    const dirty = [...this.map.values()].filter((t) => t.dirty).sort((a, b) => a.offset - b.offset);
    for (const t of dirty) {
      await this.file.write(t.offset, t.data);
      t.dirty = false;
    }
    this.evict();
    return dirty.length;
  }

  /** Every cached table (for walks that must see unwritten changes). */
  tables(): IterableIterator<L2Table> {
    return this.map.values();
  }

  private evict(): void {
    if (this.map.size <= this.capacity) return;
    for (const [off, t] of this.map) {
      if (this.map.size <= this.capacity) return;
      if (!t.dirty && !this.pins.has(t)) this.map.delete(off);
    }
  }
}
