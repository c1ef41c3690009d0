import type { BlockBackend } from '../../../machine/ports/block-backend.js';
import { createQcow2 } from '../image-create.js';
import { compressCluster } from './compression.js';
import { encodeCompressed } from './l2-entry.js';
import { Qcow2Image } from './qcow2-image.js';
import { writableL2, writeGuest } from './write-path.js';

/** Options of {@link exportQcow2}. */
export interface ExportOptions {
  /** Store clusters deflate-compressed when that saves space (qcow2.txt "Compressed Clusters"). */
  compress?: boolean;
  /** Cluster size of the new image (default 64 KiB). */
  clusterSize?: number;
  /** Aborts the export between clusters. */
  signal?: AbortSignal;
  /** Reports progress in bytes done. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Copies a whole disk into a new standalone qcow2 image at `dest` (no backing file): clusters of zeros stay
 * unallocated; with `compress`, clusters are stored compressed with raw deflate, packed one after another into
 * host clusters, each host cluster's refcount counting the compressed clusters stored in it.
 */
export async function exportQcow2(src: BlockBackend, dest: string, opts: ExportOptions = {}): Promise<void> {
  await createQcow2(dest, { sizeBytes: src.sizeBytes, clusterSize: opts.clusterSize ?? 65536 });
  const img = await Qcow2Image.open(dest);
  try {
    await img.exclusive(async () => {
      const cs = img.clusterSize;
      const buf = new Uint8Array(cs);
      let cursor = 0; // next free byte in the current compressed-data cluster (0: none)
      for (let g = 0; g < src.sizeBytes; g += cs) {
        opts.signal?.throwIfAborted();
        const n = Math.min(cs, src.sizeBytes - g);
        const view = buf.subarray(0, n);
        await src.read(g, view);
        if (n < cs) buf.fill(0, n);
        if (isZero(view)) {
          opts.onProgress?.(g + n, src.sizeBytes);
          continue;
        }
        const packed = opts.compress && n === cs ? compressCluster(buf) : null;
        if (!packed) {
          await writeGuest(img, g, buf.slice(0, n));
        } else {
          // qcow2.txt "Compressed Clusters Descriptor": data may start anywhere; we keep it inside one host cluster
          if (cursor === 0 || (cursor % cs) + packed.length > cs || cursor % cs === 0) {
            cursor = img.refcounts.allocate(1);
          } else {
            img.refcounts.adjust(Math.floor(cursor / cs), 1);
          }
          await img.file.write(cursor, packed);
          const gc = g / cs;
          const table = await writableL2(img, Math.floor(gc / img.l2Entries));
          const e = encodeCompressed(cursor, packed.length, img.clusterBits);
          const pos = (gc % img.l2Entries) * img.l2EntryBytes;
          table.dv.setUint32(pos, e.hi >>> 0);
          table.dv.setUint32(pos + 4, e.lo >>> 0);
          table.dirty = true;
          img.needSync = true;
          cursor += packed.length;
          if (cursor % cs === 0) cursor = 0;
        }
        opts.onProgress?.(g + n, src.sizeBytes);
        img.l2.unpinAll();
      }
      await img.flushMetadata();
      // compressed data may end mid-cluster: keep the file a whole number of clusters
      if (img.file.size % cs !== 0) await img.file.truncate(Math.ceil(img.file.size / cs) * cs);
    });
  } finally {
    await img.close();
  }
}

function isZero(b: Uint8Array): boolean {
  const words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length << 2; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
