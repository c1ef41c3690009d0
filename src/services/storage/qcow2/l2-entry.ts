/**
 * Decoding and encoding of qcow2 L1 and L2 entries (qcow2.txt "Cluster mapping"). Entries are handled as two
 * 32-bit halves so the hot path needs no BigInt.
 */

/** Bit 63 (bit 31 of the high word): refcount is exactly one, the cluster may be written in place. */
export const HI_COPIED = 0x80000000;
/** Bit 62: compressed cluster. */
export const HI_COMPRESSED = 0x40000000;
/** Bit 0 of a standard cluster descriptor: the cluster reads as zeros. */
export const LO_ZERO = 1;

/** Offset bits 9-55 of a standard descriptor or L1 entry, as a number. */
export function entryOffset(hi: number, lo: number): number {
  return (hi & 0x00ffffff) * 4294967296 + ((lo & 0xfffffe00) >>> 0);
}

/** Reserved bits of a standard L2 entry (1-8 and 56-61) that must be zero. */
export function standardReserved(hi: number, lo: number): boolean {
  return (hi & 0x3f000000) !== 0 || (lo & 0x1fe) !== 0;
}

/** Writes a 64-bit entry from an offset and flags at byte `pos` of a table. */
export function putEntry(dv: DataView, pos: number, offset: number, copied: boolean, zero: boolean): void {
  const hi = Math.floor(offset / 4294967296);
  dv.setUint32(pos, (hi | (copied ? HI_COPIED : 0)) >>> 0);
  dv.setUint32(pos + 4, ((offset % 4294967296) | (zero ? LO_ZERO : 0)) >>> 0);
}

/** A compressed cluster descriptor decoded (qcow2.txt "Compressed Clusters Descriptor"). */
export interface CompressedRef {
  /** Host byte offset of the compressed data. */
  offset: number;
  /** Bytes from `offset` to the end of the last sector holding compressed data. */
  length: number;
}

/** Decodes a compressed descriptor: x = 62 - (cluster_bits - 8) offset bits, then the extra sector count. */
export function decodeCompressed(hi: number, lo: number, clusterBits: number): CompressedRef {
  const v = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
  const x = BigInt(62 - (clusterBits - 8));
  const offset = Number(v & ((1n << x) - 1n));
  const sectors = Number(v >> x);
  // "Number of additional 512-byte sectors used for the compressed data, beyond the sector containing the offset"
  const end = (Math.floor(offset / 512) + 1 + sectors) * 512;
  return { offset, length: end - offset };
}

/** Encodes a compressed descriptor for data of `length` bytes at `offset`. */
export function encodeCompressed(offset: number, length: number, clusterBits: number): { hi: number; lo: number } {
  const x = BigInt(62 - (clusterBits - 8));
  const sectors = BigInt(Math.floor((offset + length - 1) / 512) - Math.floor(offset / 512));
  const v = (1n << 62n) | (sectors << x) | BigInt(offset);
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
}

/** Host clusters (indexes) touched by a compressed cluster's data; each holds one reference per descriptor. */
export function compressedClusters(ref: CompressedRef, clusterBits: number): number[] {
  const first = Math.floor(ref.offset / 2 ** clusterBits);
  const last = Math.floor((ref.offset + ref.length - 1) / 2 ** clusterBits);
  const out: number[] = [];
  for (let c = first; c <= last; c++) out.push(c);
  return out;
}
