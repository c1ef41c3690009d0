import { StrataError } from '../../../base/errors.js';
import { copiedFlagProblems } from './check.js';
import type { Qcow2State } from './image-state.js';
import { growL1, l1EntriesFor } from './resize.js';
import {
  encodeSnapshotTable,
  readSnapshotL1,
  readSnapshotTableWithSize,
  type SnapshotEntry,
} from './snapshot-table.js';
import { walkTree } from './tree.js';

/** What {@link listSnapshots} reports per snapshot. */
export interface SnapshotInfo {
  id: string;
  name: string;
  /** Creation time. */
  date: Date;
  /** Virtual disk size at creation. */
  diskSize: number;
  /** Saved VM state size (0 for disk-only snapshots). */
  vmStateSize: number;
}

/** Lists the internal snapshots of an image. */
export function listSnapshots(img: Qcow2State): Promise<SnapshotInfo[]> {
  return img.exclusive(async () =>
    (await readSnapshotTableWithSize(img)).entries.map((s) => ({
      id: s.id,
      name: s.name,
      date: new Date(s.dateSec * 1000 + Math.floor(s.dateNsec / 1e6)),
      diskSize: s.diskSize,
      vmStateSize: s.vmStateSize,
    })),
  );
}

function findSnapshot(img: Qcow2State, entries: SnapshotEntry[], idOrName: string): number {
  let i = entries.findIndex((s) => s.id === idOrName);
  if (i < 0) i = entries.findIndex((s) => s.name === idOrName);
  if (i < 0) throw new StrataError('NOT_FOUND', `${img.path}: no snapshot with id or name ${idOrName}`);
  return i;
}

/**
 * Runs a multi-step metadata change with the dirty bit set (qcow2.txt "incompatible_features" bit 0; it stays
 * set until the image is closed cleanly), so a crash in between makes the next open rebuild the refcounts
 * instead of trusting half-updated ones.
 */
async function underDirtyBit(img: Qcow2State, job: () => Promise<void>): Promise<void> {
  await img.flushMetadata();
  await img.markDirty();
  await job();
  await img.flushMetadata();
  await img.refreshMetadataMap();
}

/** Adds `delta` to the refcount of every cluster the L1 table reaches (an L1 reference taken or dropped). */
async function retainTree(img: Qcow2State, l1: number[], delta: 1 | -1): Promise<void> {
  const clusters: number[] = [];
  await walkTree(img, l1, (c) => clusters.push(c));
  for (const c of clusters) {
    if (delta === 1) img.refcounts.adjust(c, 1);
    else img.refcounts.deferDecrement(c);
  }
}

/** Writes a new snapshot table in fresh clusters and points the header at it; the old one is freed later. */
async function replaceTable(img: Qcow2State, entries: SnapshotEntry[], oldBytes: number): Promise<void> {
  const cs = img.clusterSize;
  const oldOffset = img.header.snapshotsOffset;
  let offset = 0;
  if (entries.length > 0) {
    const raw = encodeSnapshotTable(entries);
    const n = Math.ceil(raw.length / cs);
    offset = img.refcounts.allocate(n);
    const padded = new Uint8Array(n * cs);
    padded.set(raw);
    await img.file.write(offset, padded);
  }
  if (oldOffset !== 0 && oldBytes > 0) {
    for (let c = oldOffset / cs; c < Math.ceil((oldOffset + oldBytes) / cs); c++) img.refcounts.deferDecrement(c);
  }
  img.header.snapshotsOffset = offset;
  img.header.nbSnapshots = entries.length;
  img.headerDirty = true;
}

/** Takes an internal snapshot of the disk (no VM state) named `name`; returns its id. */
export function createSnapshot(img: Qcow2State, name: string): Promise<string> {
  if (img.readOnly) return Promise.reject(new StrataError('INVALID_ARGUMENT', `${img.path}: the disk is read-only`));
  return img.exclusive(async () => {
    const { entries, bytes } = await readSnapshotTableWithSize(img);
    if (entries.some((s) => s.name === name)) {
      throw new StrataError('ALREADY_EXISTS', `${img.path}: a snapshot named ${name} exists`);
    }
    const id = String(entries.reduce((m, s) => Math.max(m, Number.parseInt(s.id, 10) || 0), 0) + 1);
    await underDirtyBit(img, async () => {
      // the snapshot's L1 table now also reaches every cluster of the active tree
      await retainTree(img, img.l1, 1);
      const cs = img.clusterSize;
      const l1Bytes = img.l1.length * 8;
      const n = Math.max(1, Math.ceil(l1Bytes / cs));
      const l1Offset = img.refcounts.allocate(n);
      const copy = new Uint8Array(n * cs);
      const dv = new DataView(copy.buffer);
      img.l1.forEach((off, i) => {
        dv.setUint32(i * 8, Math.floor(off / 2 ** 32));
        dv.setUint32(i * 8 + 4, off % 2 ** 32);
      });
      await img.file.write(l1Offset, copy);
      const now = Date.now();
      entries.push({
        id,
        name,
        l1TableOffset: l1Offset,
        l1Size: img.l1.length,
        dateSec: Math.floor(now / 1000),
        dateNsec: (now % 1000) * 1e6,
        vmClockNsec: 0n,
        vmStateSize: 0,
        diskSize: img.sizeBytes,
        extra: new Uint8Array(16),
      });
      await replaceTable(img, entries, bytes);
      // shared clusters have refcount > 1 now: clear COPIED so writes copy them
      await copiedFlagProblems(img, true);
    });
    return id;
  });
}

/** Reverts the disk to a snapshot (by id or name); the current state is lost. */
export function applySnapshot(img: Qcow2State, idOrName: string): Promise<void> {
  if (img.readOnly) return Promise.reject(new StrataError('INVALID_ARGUMENT', `${img.path}: the disk is read-only`));
  return img.exclusive(async () => {
    const { entries } = await readSnapshotTableWithSize(img);
    const s = entries[findSnapshot(img, entries, idOrName)]!;
    if (s.diskSize % 512 !== 0 || l1EntriesFor(img, s.diskSize) > Math.max(s.l1Size, img.l1.length)) {
      throw new StrataError('INVALID_ARGUMENT', `${img.path}: snapshot ${s.id} has an invalid disk size ${s.diskSize}`);
    }
    const snapL1 = await readSnapshotL1(img, s);
    await underDirtyBit(img, async () => {
      // qcow2.txt "Snapshot table entry" disk_size: the disk had this size when the snapshot was taken; the
      // revert restores it (as QEMU does), growing the active L1 table first if the snapshot's is longer
      await growL1(img, s.l1Size);
      await retainTree(img, snapL1, 1);
      await retainTree(img, img.l1, -1);
      for (let i = 0; i < img.l1.length; i++) img.setL1(i, snapL1[i] ?? 0, false);
      if (img.header.size !== s.diskSize) {
        img.header.size = s.diskSize;
        img.headerDirty = true;
      }
      img.decompressedAt = -1;
      await img.flushMetadata();
      await copiedFlagProblems(img, true);
    });
  });
}

/** Deletes a snapshot (by id or name), freeing the clusters only it used. */
export function deleteSnapshot(img: Qcow2State, idOrName: string): Promise<void> {
  if (img.readOnly) return Promise.reject(new StrataError('INVALID_ARGUMENT', `${img.path}: the disk is read-only`));
  return img.exclusive(async () => {
    const { entries, bytes } = await readSnapshotTableWithSize(img);
    const idx = findSnapshot(img, entries, idOrName);
    const s = entries[idx]!;
    const snapL1 = await readSnapshotL1(img, s);
    await underDirtyBit(img, async () => {
      entries.splice(idx, 1);
      await replaceTable(img, entries, bytes);
      await retainTree(img, snapL1, -1);
      const cs = img.clusterSize;
      for (let c = s.l1TableOffset / cs; c < Math.ceil((s.l1TableOffset + s.l1Size * 8) / cs); c++) {
        img.refcounts.deferDecrement(c);
      }
      await img.flushMetadata();
      await copiedFlagProblems(img, true);
    });
  });
}
