import { corrupt } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import type { Refcounts } from './refcounts.js';
import { readSnapshotTableWithSize } from './snapshot-table.js';

/**
 * The clusters that hold metadata (header, L1 tables, snapshot table, refcount table and blocks), so that a
 * corrupt or hostile L1/L2 entry that points at one of them is refused instead of letting guest data or an L2
 * update overwrite it (the qcow2 counterpart of QEMU's "metadata overlap check").
 */
export class MetadataMap {
  private fixed = new Set<number>();
  private rcSet = new Set<number>();
  private rcOwner: Refcounts | null = null;
  private rcVersion = -1;

  /** Recomputes the header, L1 and snapshot parts (after open and after snapshot operations). */
  async rebuild(img: Qcow2State): Promise<void> {
    const cs = img.clusterSize;
    const fixed = new Set<number>([0]);
    const addRange = (offset: number, bytes: number): void => {
      for (let c = Math.floor(offset / cs); c < Math.ceil((offset + bytes) / cs); c++) fixed.add(c);
    };
    addRange(img.header.l1TableOffset, img.l1.length * 8);
    if (img.header.nbSnapshots > 0) {
      const { entries, bytes } = await readSnapshotTableWithSize(img);
      addRange(img.header.snapshotsOffset, bytes);
      for (const s of entries) addRange(s.l1TableOffset, s.l1Size * 8);
    }
    this.fixed = fixed;
  }

  /** Throws a corrupt-image error when `cluster` holds metadata; `what` names the would-be writer. */
  check(img: Qcow2State, cluster: number, what: string): void {
    const rc = img.refcounts;
    if (rc !== this.rcOwner || rc.structureVersion !== this.rcVersion) {
      this.rcSet = new Set(rc.ownClusters().map((off) => off / img.clusterSize));
      this.rcOwner = rc;
      this.rcVersion = rc.structureVersion;
    }
    if (this.fixed.has(cluster) || this.rcSet.has(cluster)) {
      throw corrupt(img.path, `${what} points at metadata (cluster ${cluster}); refusing to overwrite it`);
    }
  }
}
