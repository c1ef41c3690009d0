import { decompressCluster } from './compression.js';
import { corrupt } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import { decodeCompressed, entryOffset, HI_COMPRESSED, LO_ZERO } from './l2-entry.js';

/** What a guest cluster maps to (qcow2.txt "Cluster mapping"). */
export interface ClusterMapping {
  /** 'unallocated' reads from the backing file; 'zero' reads zeros. */
  kind: 'unallocated' | 'zero' | 'normal' | 'compressed';
  /** Host offset of a normal cluster (0 otherwise, or the preallocated offset of a zero cluster). */
  host: number;
  /** Raw entry halves. */
  hi: number;
  lo: number;
  /** Extended L2: allocation bitmap (bits 0-31) and zero bitmap (bits 32-63). */
  allocBits: number;
  zeroBits: number;
}

/** Looks up guest cluster `gc`, validating what the entry points at. */
export async function lookupCluster(
  img: Qcow2State,
  gc: number,
  out: ClusterMapping,
  forChange = false,
): Promise<ClusterMapping> {
  const l1i = Math.floor(gc / img.l2Entries);
  const table = await img.l2Table(l1i, forChange);
  out.host = 0;
  out.hi = 0;
  out.lo = 0;
  out.allocBits = 0;
  out.zeroBits = 0;
  if (!table) {
    out.kind = 'unallocated';
    return out;
  }
  const pos = (gc % img.l2Entries) * img.l2EntryBytes;
  const hi = table.dv.getUint32(pos);
  const lo = table.dv.getUint32(pos + 4);
  out.hi = hi;
  out.lo = lo;
  if (img.extendedL2) {
    out.zeroBits = table.dv.getUint32(pos + 8);
    out.allocBits = table.dv.getUint32(pos + 12);
  }
  if ((hi & HI_COMPRESSED) !== 0) {
    out.kind = 'compressed';
    return out;
  }
  const host = entryOffset(hi, lo);
  if (host !== 0) {
    if (host % img.clusterSize !== 0) throw corrupt(img.path, `L2 entry of guest cluster ${gc} is unaligned (${host})`);
    if (host >= img.file.size) {
      throw corrupt(img.path, `guest cluster ${gc} maps to offset ${host}, past the end of the file`);
    }
  }
  out.host = host;
  if (img.extendedL2) {
    // qcow2.txt "Extended L2 Entries": the subcluster bitmaps decide; the zero flag (bit 0) is reserved
    out.kind = host === 0 ? 'unallocated' : 'normal';
    if (host === 0 && out.allocBits !== 0) {
      throw corrupt(img.path, `guest cluster ${gc} has allocated subclusters but no host cluster`);
    }
    return out;
  }
  if ((lo & LO_ZERO) !== 0) out.kind = 'zero';
  else out.kind = host === 0 ? 'unallocated' : 'normal';
  return out;
}

/** Reads `len` guest bytes at `guest` from the backing file (zeros past its end or without one). */
export async function readBacking(img: Qcow2State, guest: number, dest: Uint8Array): Promise<void> {
  const b = img.backing;
  if (!b) {
    dest.fill(0);
    return;
  }
  const avail = Math.max(0, Math.min(dest.length, b.sizeBytes - guest));
  if (avail > 0) await b.read(guest, dest.subarray(0, avail));
  if (avail < dest.length) dest.fill(0, avail);
}

/** Decompresses the compressed cluster of a mapping into `img.scratch[2]` (cached by host offset). */
export async function decompressed(img: Qcow2State, m: ClusterMapping): Promise<Uint8Array> {
  const ref = decodeCompressed(m.hi, m.lo, img.clusterBits);
  const out = img.scratch[2];
  if (img.decompressedAt === ref.offset) return out;
  if (ref.offset >= img.file.size)
    throw corrupt(img.path, `compressed data at ${ref.offset} is past the end of the file`);
  const len = Math.min(ref.length, img.file.size - ref.offset);
  const data = new Uint8Array(len);
  await img.file.read(ref.offset, data);
  img.decompressedAt = -1;
  decompressCluster(img.path, img.header.compressionType, data, out);
  img.decompressedAt = ref.offset;
  return out;
}

type Run = { kind: 'host' | 'backing'; at: number; host: number; len: number };

/** Reads guest bytes [offset, offset + dest.length), coalescing contiguous host and backing ranges. */
export async function readGuest(img: Qcow2State, offset: number, dest: Uint8Array): Promise<void> {
  const cs = img.clusterSize;
  const m: ClusterMapping = { kind: 'unallocated', host: 0, hi: 0, lo: 0, allocBits: 0, zeroBits: 0 };
  let run: Run | null = null;
  const flushRun = async (): Promise<void> => {
    if (!run) return;
    const target = dest.subarray(run.at, run.at + run.len);
    if (run.kind === 'host') await img.file.read(run.host, target);
    else await readBacking(img, offset + run.at, target);
    run = null;
  };
  const addRun = async (kind: 'host' | 'backing', at: number, host: number, len: number): Promise<void> => {
    if (run && run.kind === kind && run.at + run.len === at && (kind === 'backing' || run.host + run.len === host)) {
      run.len += len;
      return;
    }
    await flushRun();
    run = { kind, at, host, len };
  };
  let pos = 0;
  while (pos < dest.length) {
    const g = offset + pos;
    const gc = Math.floor(g / cs);
    const inOff = g - gc * cs;
    const n = Math.min(cs - inOff, dest.length - pos);
    await lookupCluster(img, gc, m);
    if (m.kind === 'compressed') {
      await flushRun();
      const data = await decompressed(img, m);
      dest.set(data.subarray(inOff, inOff + n), pos);
    } else if (img.extendedL2) {
      const sub = cs / 32;
      let p = inOff;
      while (p < inOff + n) {
        const i = Math.floor(p / sub);
        const len = Math.min((i + 1) * sub, inOff + n) - p;
        if ((m.allocBits >>> i) & 1) await addRun('host', pos + p - inOff, m.host + p, len);
        else if ((m.zeroBits >>> i) & 1) {
          await flushRun();
          dest.fill(0, pos + p - inOff, pos + p - inOff + len);
        } else await addRun('backing', pos + p - inOff, 0, len);
        p += len;
      }
    } else if (m.kind === 'normal') {
      await addRun('host', pos, m.host + inOff, n);
    } else if (m.kind === 'unallocated') {
      await addRun('backing', pos, 0, n);
    } else {
      await flushRun();
      dest.fill(0, pos, pos + n);
    }
    pos += n;
  }
  await flushRun();
}
