import { corrupt } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import { compressedClusters, decodeCompressed, entryOffset, HI_COMPRESSED } from './l2-entry.js';

/**
 * Visits every cluster an L1 table holds a reference on (qcow2.txt "Snapshots": a refcount counts the L1
 * tables, active and snapshot, that reach a cluster): each L2 table once, then each cluster its entries name
 * (normal, preallocated zero, and every host cluster a compressed descriptor's data touches).
 */
export async function walkTree(
  img: Qcow2State,
  l1: number[],
  visit: (cluster: number, kind: 'l2' | 'data') => void,
): Promise<void> {
  const cs = img.clusterSize;
  for (let i = 0; i < l1.length; i++) {
    const off = l1[i] ?? 0;
    if (off === 0) continue;
    visit(off / cs, 'l2');
    const t = await img.l2.load(off, `L2 table of L1 entry ${i}`);
    for (let e = 0; e < img.l2Entries; e++) {
      const pos = e * img.l2EntryBytes;
      const hi = t.dv.getUint32(pos);
      const lo = t.dv.getUint32(pos + 4);
      if ((hi & HI_COMPRESSED) !== 0) {
        const ref = decodeCompressed(hi, lo, img.clusterBits);
        for (const c of compressedClusters(ref, img.clusterBits)) visit(c, 'data');
        continue;
      }
      const host = entryOffset(hi, lo);
      if (host === 0) continue;
      if (host % cs !== 0) throw corrupt(img.path, `L2 table at ${off} entry ${e} is unaligned (${host})`);
      visit(host / cs, 'data');
    }
  }
}
