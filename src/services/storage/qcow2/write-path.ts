import { writeMany } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import type { L2Table } from './l2-cache.js';
import { compressedClusters, decodeCompressed, HI_COPIED, putEntry } from './l2-entry.js';
import { type ClusterMapping, decompressed, lookupCluster, readBacking } from './read-path.js';

/**
 * The L2 table for L1 index `l1i`, ready to be changed: allocated when missing, copied when shared with a
 * snapshot (refcount > 1; qcow2.txt "Snapshots": the COPIED flag is clear), and pinned for the request.
 */
export async function writableL2(img: Qcow2State, l1i: number): Promise<L2Table> {
  const cs = img.clusterSize;
  const off = img.l1[l1i] ?? 0;
  let t: L2Table;
  if (off === 0) {
    const host = img.refcounts.allocate(1);
    t = img.l2.insert(host, new Uint8Array(cs), true);
    img.setL1(l1i, host, true);
  } else if (img.refcounts.get(off / cs) !== 1) {
    const old = await img.l2.load(off, `L2 table of L1 entry ${l1i}`);
    const copy = old.data.slice();
    const host = img.refcounts.allocate(1);
    t = img.l2.insert(host, copy, true);
    img.setL1(l1i, host, true);
    img.refcounts.deferDecrement(off / cs);
  } else {
    img.guardMetadata(off / cs, `L1 entry ${l1i}`);
    t = (await img.l2Table(l1i, true))!;
    if (!img.l1Copied[l1i]) img.setL1(l1i, off, true);
  }
  img.l2.pin(t);
  return t;
}

/** Queues the decrements that drop a mapping's hold on host clusters. */
export function releaseMapping(img: Qcow2State, m: ClusterMapping): void {
  const cs = img.clusterSize;
  if (m.kind === 'compressed') {
    for (const c of compressedClusters(decodeCompressed(m.hi, m.lo, img.clusterBits), img.clusterBits)) {
      img.refcounts.deferDecrement(c);
    }
  } else if (m.host !== 0) {
    img.refcounts.deferDecrement(m.host / cs);
  }
}

type Update = { table: L2Table; pos: number; host: number; old: ClusterMapping | null };

/** Writes guest bytes; new clusters get their data (and copy-on-write fill) before any L2 entry names them. */
export async function writeGuest(img: Qcow2State, offset: number, src: Uint8Array): Promise<void> {
  img.decompressedAt = -1;
  const cs = img.clusterSize;
  const writes: { host: number; data: Uint8Array }[] = [];
  const updates: Update[] = [];
  let partials = 0;
  let pos = 0;
  while (pos < src.length) {
    const g = offset + pos;
    const gc = Math.floor(g / cs);
    const inOff = g - gc * cs;
    const n = Math.min(cs - inOff, src.length - pos);
    const l1i = Math.floor(gc / img.l2Entries);
    const table = await writableL2(img, l1i);
    const m = await lookupCluster(img, gc, freshMapping(), true);
    const entryPos = (gc % img.l2Entries) * img.l2EntryBytes;
    if (m.kind === 'normal' && img.refcounts.get(m.host / cs) === 1) {
      img.guardMetadata(m.host / cs, `L2 entry of guest cluster ${gc}`);
      writes.push({ host: m.host + inOff, data: src.subarray(pos, pos + n) });
      if ((m.hi & HI_COPIED) === 0) updates.push({ table, pos: entryPos, host: m.host, old: null });
    } else {
      let data: Uint8Array;
      if (n === cs) data = src.subarray(pos, pos + n);
      else {
        data = img.scratch[partials++ % 2]!;
        await fillBase(img, m, gc * cs, data);
        data.set(src.subarray(pos, pos + n), inOff);
      }
      const reuse = m.kind === 'zero' && m.host !== 0 && img.refcounts.get(m.host / cs) === 1;
      if (reuse) img.guardMetadata(m.host / cs, `L2 entry of guest cluster ${gc}`);
      const host = reuse ? m.host : img.refcounts.allocate(1);
      writes.push({ host, data });
      updates.push({ table, pos: entryPos, host, old: reuse ? null : m });
    }
    pos += n;
  }
  // data first (coalesced into vectored writes of contiguous host ranges) ...
  let i = 0;
  while (i < writes.length) {
    const first = writes[i]!;
    const bufs = [first.data];
    let end = first.host + first.data.length;
    let j = i + 1;
    while (j < writes.length && writes[j]!.host === end && bufs.length < 512) {
      bufs.push(writes[j]!.data);
      end += writes[j]!.data.length;
      j++;
    }
    await writeMany(img.file, first.host, bufs);
    i = j;
  }
  img.needSync = true;
  // ... then the L2 entries in memory; the ordered flush writes them after the refcounts and data are durable
  for (const u of updates) {
    putEntry(u.table.dv, u.pos, u.host, true, false);
    u.table.dirty = true;
    if (u.old) releaseMapping(img, u.old);
  }
}

function freshMapping(): ClusterMapping {
  return { kind: 'unallocated', host: 0, hi: 0, lo: 0, allocBits: 0, zeroBits: 0 };
}

/** The current content of a guest cluster, as the base of a partial write. */
async function fillBase(img: Qcow2State, m: ClusterMapping, guest: number, buf: Uint8Array): Promise<void> {
  switch (m.kind) {
    case 'normal':
      await img.file.read(m.host, buf);
      return;
    case 'compressed':
      buf.set(await decompressed(img, m));
      return;
    case 'zero':
      buf.fill(0);
      return;
    default: {
      const avail = Math.max(0, Math.min(buf.length, img.sizeBytes - guest));
      await readBacking(img, guest, buf.subarray(0, avail));
      buf.fill(0, avail);
    }
  }
}

let zeroCluster: Uint8Array | null = null;

/**
 * Makes guest bytes read as zeros: whole clusters become unallocated (no backing file, unmapping allowed) or
 * zero clusters (qcow2.txt "Standard Cluster Descriptor" bit 0), freeing their host clusters; partial clusters
 * are written with zeros.
 */
export async function zeroGuest(img: Qcow2State, offset: number, length: number, mayUnmap: boolean): Promise<void> {
  img.decompressedAt = -1;
  const cs = img.clusterSize;
  if (!zeroCluster || zeroCluster.length < cs) zeroCluster = new Uint8Array(Math.max(cs, 65536));
  const toUnallocated = mayUnmap && img.backing === null;
  let pos = 0;
  while (pos < length) {
    const g = offset + pos;
    const gc = Math.floor(g / cs);
    const inOff = g - gc * cs;
    const n = Math.min(cs - inOff, length - pos);
    // The last cluster may lie partly past the end of the disk: a request that covers all of its in-disk part
    // (from its first byte to the end of the disk) covers the whole cluster as the guest sees it.
    const tail = inOff === 0 && gc * cs + cs > img.sizeBytes && n === img.sizeBytes - gc * cs;
    if (n < cs && !tail) {
      // a part of a cluster: write zeros unless it already reads as zeros
      const m = await lookupCluster(img, gc, freshMapping(), true);
      if (!(m.kind === 'zero' || (m.kind === 'unallocated' && img.backing === null))) {
        await writeGuest(img, g, zeroCluster.subarray(0, n));
      }
      pos += n;
      continue;
    }
    const l1i = Math.floor(gc / img.l2Entries);
    if ((img.l1[l1i] ?? 0) === 0 && toUnallocated) {
      // a whole unallocated L2 range already reads as zeros
      const next = (l1i + 1) * img.l2Entries * cs;
      pos = Math.min(length, next - offset);
      continue;
    }
    const m = await lookupCluster(img, gc, freshMapping(), true);
    const done = toUnallocated ? m.kind === 'unallocated' : m.kind === 'zero' && m.host === 0;
    if (!done) {
      const table = await writableL2(img, l1i);
      const again = await lookupCluster(img, gc, freshMapping(), true);
      putEntry(table.dv, (gc % img.l2Entries) * img.l2EntryBytes, 0, false, !toUnallocated);
      table.dirty = true;
      releaseMapping(img, again);
    }
    pos += n;
  }
}
