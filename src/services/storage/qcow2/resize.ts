import { StrataError } from '../../../base/errors.js';
import { MAX_L1_BYTES, MAX_VIRTUAL_SIZE } from './header.js';
import type { Qcow2State } from './image-state.js';
import { HI_COPIED } from './l2-entry.js';
import { zeroGuest } from './write-path.js';

/** L1 entries needed to map `sizeBytes` of guest data (qcow2.txt "Cluster mapping"). */
export function l1EntriesFor(img: Pick<Qcow2State, 'clusterSize' | 'l2Entries'>, sizeBytes: number): number {
  return Math.ceil(sizeBytes / (img.clusterSize * img.l2Entries));
}

/**
 * Grows the active L1 table to `entries` entries (qcow2.txt "l1_size", "l1_table_offset"). When the table's last
 * cluster has room it grows in place; otherwise, as the table must be contiguous, it moves to fresh clusters.
 * The order keeps every on-disk
 * state consistent, so a crash leaks clusters at worst (qcow2.txt "Host cluster management"):
 *   1. the new clusters get refcount 1 on disk (refcount blocks first, then a moved refcount table and header);
 *   2. the new table (old entries with their COPIED flags, zeros after) is written and made durable;
 *   3. the header's l1_size and l1_table_offset switch to it in one sector write, made durable;
 *   4. only then the old table's clusters are released.
 * The caller holds the image exclusively and has flushed its metadata.
 */
export async function growL1(img: Qcow2State, entries: number): Promise<void> {
  if (entries <= img.l1.length) return;
  if (entries * 8 > MAX_L1_BYTES) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${img.path}: an L1 table of ${entries} entries is larger than the limit of ${MAX_L1_BYTES} bytes`,
    );
  }
  const cs = img.clusterSize;
  const oldOffset = img.header.l1TableOffset;
  const oldClusters = Math.ceil((img.l1.length * 8) / cs);
  const n = Math.ceil((entries * 8) / cs);
  if (oldOffset !== 0 && n <= oldClusters) {
    // the table's last cluster has room: zero the new entries (the padding's content is not specified), make
    // them durable, then raise l1_size
    await img.file.write(oldOffset + img.l1.length * 8, new Uint8Array((entries - img.l1.length) * 8));
    await img.file.sync();
    img.header.l1Size = entries;
    await img.writeHeader();
    await img.file.sync();
    const copied = new Uint8Array(entries);
    copied.set(img.l1Copied);
    img.l1Copied = copied;
    while (img.l1.length < entries) img.l1.push(0);
    await img.refreshMetadataMap();
    return;
  }
  // 1. reserve the clusters and make their refcounts durable before anything points at them
  const offset = img.refcounts.allocate(n);
  const moved = await img.refcounts.flushIncrements();
  if (moved) {
    img.header.refcountTableOffset = moved.offset;
    img.header.refcountTableClusters = moved.clusters;
    await img.writeHeader();
    await img.file.sync();
  }
  // 2. the new table, durable before the header names it
  const raw = new Uint8Array(n * cs);
  const dv = new DataView(raw.buffer);
  img.l1.forEach((off, i) => {
    dv.setUint32(i * 8, (Math.floor(off / 2 ** 32) | (img.l1Copied[i] ? HI_COPIED : 0)) >>> 0);
    dv.setUint32(i * 8 + 4, off % 2 ** 32);
  });
  await img.file.write(offset, raw);
  await img.file.sync();
  // 3. switch: l1_size (byte 36) and l1_table_offset (byte 40) lie in the same sector as the rest of the fields
  img.header.l1TableOffset = offset;
  img.header.l1Size = entries;
  await img.writeHeader();
  await img.file.sync();
  const copied = new Uint8Array(entries);
  copied.set(img.l1Copied);
  img.l1Copied = copied;
  while (img.l1.length < entries) img.l1.push(0);
  // 4. release the old table once nothing on disk refers to it
  if (oldOffset !== 0) {
    for (let c = 0; c < oldClusters; c++) img.refcounts.deferDecrement(oldOffset / cs + c);
  }
  await img.flushMetadata();
  await img.refreshMetadataMap();
}

/**
 * Grows a qcow2 image to `newSize` bytes (a multiple of 512). The L1 table grows first when the new size needs
 * more entries (see {@link growL1}); then the header's `size` field changes. When a backing file is longer than
 * the old size, the newly visible range is made to read as zeros first (zero clusters), as QEMU does, so a grown
 * overlay never shows stale backing data. Shrinking is refused: it would drop guest data and QEMU needs
 * `--shrink` for it. Runs exclusively with the image's other requests.
 */
export function resizeQcow2(img: Qcow2State, newSize: number): Promise<void> {
  if (img.readOnly) return Promise.reject(new StrataError('INVALID_ARGUMENT', `${img.path}: the disk is read-only`));
  if (!Number.isSafeInteger(newSize) || newSize <= 0 || newSize % 512 !== 0 || newSize > MAX_VIRTUAL_SIZE) {
    return Promise.reject(
      new StrataError(
        'INVALID_ARGUMENT',
        `${img.path}: new size ${newSize} is not a positive multiple of 512 in range`,
      ),
    );
  }
  return img.exclusive(async () => {
    const oldSize = img.header.size;
    if (newSize < oldSize) {
      throw new StrataError(
        'CONFLICT',
        `${img.path}: shrinking from ${oldSize} to ${newSize} bytes is refused: it would drop guest data`,
      );
    }
    if (newSize === oldSize) return;
    const entries = l1EntriesFor(img, newSize);
    if (entries * 8 > MAX_L1_BYTES) {
      throw new StrataError('INVALID_ARGUMENT', `${img.path}: new size ${newSize} is too large for this cluster size`);
    }
    await img.flushMetadata();
    await growL1(img, entries);
    img.header.size = newSize;
    const backingEnd = img.backing ? Math.ceil(img.backing.sizeBytes / 512) * 512 : 0;
    if (backingEnd > oldSize) {
      await img.markDirty();
      await zeroGuest(img, oldSize, Math.min(newSize, backingEnd) - oldSize, false);
      await img.flushMetadata();
    }
    // qcow2.txt "size": the one field that makes the new range visible, written last
    await img.writeHeader();
    await img.file.sync();
  });
}
