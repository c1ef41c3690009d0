import { StrataError } from '../../../base/errors.js';
import { MAX_L1_BYTES } from './header.js';
import { corrupt } from './image-file.js';
import type { Qcow2State } from './image-state.js';

/** One internal snapshot (qcow2.txt "Snapshot table"). */
export interface SnapshotEntry {
  /** Unique id string (QEMU uses decimal numbers). */
  id: string;
  /** Name given by the user. */
  name: string;
  /** Offset of the snapshot's L1 table copy. */
  l1TableOffset: number;
  /** Entries in that L1 table. */
  l1Size: number;
  /** Creation time, seconds and nanoseconds since the epoch. */
  dateSec: number;
  dateNsec: number;
  /** Guest clock at creation, in nanoseconds. */
  vmClockNsec: bigint;
  /** Size of the saved VM state (0: disk-only snapshot). */
  vmStateSize: number;
  /** Virtual disk size when the snapshot was taken. */
  diskSize: number;
  /** Extra data bytes beyond the ones we interpret, kept as read. */
  extra: Uint8Array;
}

/** Largest extra_data_size accepted (QEMU's own limit is 1 KiB). */
const MAX_EXTRA = 1024;

/** Reads and validates the snapshot table. */
export async function readSnapshotTable(img: Qcow2State): Promise<SnapshotEntry[]> {
  return (await readSnapshotTableWithSize(img)).entries;
}

/** Reads the snapshot table and says how many bytes it occupies. */
export async function readSnapshotTableWithSize(img: Qcow2State): Promise<{ entries: SnapshotEntry[]; bytes: number }> {
  const h = img.header;
  const out: SnapshotEntry[] = [];
  let off = h.snapshotsOffset;
  const dec = new TextDecoder();
  for (let i = 0; i < h.nbSnapshots; i++) {
    const fixed = await img.file.readStrict(off, 40, `snapshot table entry ${i}`);
    const dv = new DataView(fixed.buffer);
    const l1TableOffset = Number(dv.getBigUint64(0));
    const l1Size = dv.getUint32(8);
    const idLen = dv.getUint16(12);
    const nameLen = dv.getUint16(14);
    const extraLen = dv.getUint32(36);
    if (extraLen > MAX_EXTRA)
      throw corrupt(img.path, `snapshot ${i} has ${extraLen} bytes of extra data (limit ${MAX_EXTRA})`);
    if (l1Size * 8 > MAX_L1_BYTES) throw corrupt(img.path, `snapshot ${i} has an L1 table of ${l1Size} entries`);
    if (l1TableOffset % img.clusterSize !== 0 || l1TableOffset + l1Size * 8 > img.file.size) {
      throw corrupt(img.path, `snapshot ${i} L1 table at ${l1TableOffset} is unaligned or past the end of the file`);
    }
    const rest = await img.file.readStrict(off + 40, extraLen + idLen + nameLen, `snapshot table entry ${i}`);
    const extra = rest.slice(0, extraLen);
    const edv = new DataView(extra.buffer);
    const vmStateLarge = extraLen >= 8 ? Number(edv.getBigUint64(0)) : 0;
    const diskSize = extraLen >= 16 ? Number(edv.getBigUint64(8)) : h.size;
    out.push({
      id: dec.decode(rest.subarray(extraLen, extraLen + idLen)),
      name: dec.decode(rest.subarray(extraLen + idLen, extraLen + idLen + nameLen)),
      l1TableOffset,
      l1Size,
      dateSec: dv.getUint32(16),
      dateNsec: dv.getUint32(20),
      vmClockNsec: dv.getBigUint64(24),
      vmStateSize: vmStateLarge || dv.getUint32(32),
      diskSize,
      extra,
    });
    // entries are padded to a multiple of 8 bytes
    off += Math.ceil((40 + extraLen + idLen + nameLen) / 8) * 8;
  }
  return { entries: out, bytes: off - h.snapshotsOffset };
}

/** Serializes a snapshot table (version 3: every entry carries at least 16 bytes of extra data). */
export function encodeSnapshotTable(entries: SnapshotEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const id = enc.encode(e.id);
    const name = enc.encode(e.name);
    if (id.length > 65535 || name.length > 65535) throw new StrataError('INVALID_ARGUMENT', `snapshot name too long`);
    const extra = new Uint8Array(Math.max(16, e.extra.length));
    extra.set(e.extra);
    const edv = new DataView(extra.buffer);
    edv.setBigUint64(0, BigInt(e.vmStateSize));
    edv.setBigUint64(8, BigInt(e.diskSize));
    const len = Math.ceil((40 + extra.length + id.length + name.length) / 8) * 8;
    const buf = new Uint8Array(len);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(0, BigInt(e.l1TableOffset));
    dv.setUint32(8, e.l1Size);
    dv.setUint16(12, id.length);
    dv.setUint16(14, name.length);
    dv.setUint32(16, e.dateSec);
    dv.setUint32(20, e.dateNsec);
    dv.setBigUint64(24, e.vmClockNsec);
    dv.setUint32(32, e.vmStateSize > 0xffffffff ? 0 : e.vmStateSize);
    dv.setUint32(36, extra.length);
    buf.set(extra, 40);
    buf.set(id, 40 + extra.length);
    buf.set(name, 40 + extra.length + id.length);
    parts.push(buf);
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads a snapshot's L1 table: L2 offsets (flags stripped). */
export async function readSnapshotL1(img: Qcow2State, s: SnapshotEntry): Promise<number[]> {
  const raw = await img.file.readStrict(s.l1TableOffset, s.l1Size * 8, `L1 table of snapshot ${s.id}`);
  const dv = new DataView(raw.buffer);
  const out: number[] = [];
  for (let i = 0; i < s.l1Size; i++) {
    const off = (dv.getUint32(i * 8) & 0x00ffffff) * 2 ** 32 + ((dv.getUint32(i * 8 + 4) & 0xfffffe00) >>> 0);
    if (off % img.clusterSize !== 0) throw corrupt(img.path, `snapshot ${s.id} L1 entry ${i} is unaligned`);
    out.push(off);
  }
  return out;
}
