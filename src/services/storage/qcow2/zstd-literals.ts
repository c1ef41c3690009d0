import { BackwardBits, buildFseTable, readFseDescription, zstdError } from './zstd-bits.js';

/** RFC 8878 §3.1.1.2: Block_Maximum_Size. */
export const MAX_BLOCK = 128 * 1024;

/** A Huffman decoding table: indexed by the next `maxBits` bits. */
export interface HuffTable {
  maxBits: number;
  symbol: Uint8Array;
  nbBits: Uint8Array;
}

/** Reads `n` bytes little-endian (missing bytes read as zero). */
export function readLE(src: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (src[at + i] ?? 0);
  return v;
}

/** RFC 8878 §3.1.1.3.1: the literals section of a compressed block; `huff` carries the table between blocks. */
export function decodeLiterals(
  src: Uint8Array,
  start: number,
  end: number,
  st: { huff: HuffTable | null },
): { literals: Uint8Array; at: number } {
  let at = start;
  if (at >= end) throw zstdError('truncated literals section');
  const b0 = src[at]!;
  const type = b0 & 3;
  const sf = (b0 >> 2) & 3;
  // §3.1.1.3.1.1 Literals_Section_Header
  if (type === 0 || type === 1) {
    let size: number;
    if (sf === 0 || sf === 2) {
      size = b0 >> 3;
      at += 1;
    } else if (sf === 1) {
      if (at + 2 > end) throw zstdError('truncated literals header');
      size = (b0 >> 4) + (src[at + 1]! << 4);
      at += 2;
    } else {
      if (at + 3 > end) throw zstdError('truncated literals header');
      size = (b0 >> 4) + (src[at + 1]! << 4) + (src[at + 2]! << 12);
      at += 3;
    }
    if (size > MAX_BLOCK) throw zstdError('literals larger than a block');
    if (type === 0) {
      if (at + size > end) throw zstdError('truncated raw literals');
      return { literals: src.subarray(at, at + size), at: at + size };
    }
    if (at >= end) throw zstdError('truncated RLE literals');
    return { literals: new Uint8Array(size).fill(src[at]!), at: at + 1 };
  }
  const hbytes = sf <= 1 ? 3 : sf === 2 ? 4 : 5;
  if (at + hbytes > end) throw zstdError('truncated literals header');
  const v = readLE(src, at, hbytes);
  const sizeBits = sf <= 1 ? 10 : sf === 2 ? 14 : 18;
  const regen = Math.floor(v / 16) % 2 ** sizeBits;
  const comp = Math.floor(v / 2 ** (4 + sizeBits)) % 2 ** sizeBits;
  const streams = sf === 0 ? 1 : 4;
  at += hbytes;
  if (regen > MAX_BLOCK) throw zstdError('literals larger than a block');
  if (at + comp > end) throw zstdError('truncated compressed literals');
  let p = at;
  if (type === 2) {
    const r = readHuffmanTree(src, p, at + comp);
    st.huff = r.table;
    p = r.at;
  } else if (!st.huff) throw zstdError('treeless literals without a previous Huffman table');
  const literals = new Uint8Array(regen);
  decodeHuffmanStreams(src, p, at + comp, streams, st.huff, literals);
  return { literals, at: at + comp };
}

/** §4.2.1 Huffman tree description: FSE-compressed or direct 4-bit weights; the last weight is implied. */
function readHuffmanTree(src: Uint8Array, start: number, end: number): { table: HuffTable; at: number } {
  if (start >= end) throw zstdError('truncated Huffman tree');
  const hb = src[start]!;
  let at = start + 1;
  const weights: number[] = [];
  if (hb >= 128) {
    const n = hb - 127;
    const bytes = Math.ceil(n / 2);
    if (at + bytes > end) throw zstdError('truncated Huffman weights');
    for (let i = 0; i < n; i++) {
      const byte = src[at + (i >> 1)]!;
      weights.push(i % 2 === 0 ? byte >> 4 : byte & 15);
    }
    at += bytes;
  } else {
    if (at + hb > end) throw zstdError('truncated Huffman weights');
    const d = readFseDescription(src, at, at + hb, 6, 255);
    const table = buildFseTable(d.probs, d.accuracyLog);
    const bits = new BackwardBits(src, at + d.bytes, at + hb);
    let s1 = bits.read(d.accuracyLog);
    let s2 = bits.read(d.accuracyLog);
    // §4.2.1.2: two interleaved states until the bitstream overflows
    for (;;) {
      if (weights.length > 254) throw zstdError('too many Huffman weights');
      weights.push(table.symbol[s1]!);
      s1 = table.baseline[s1]! + bits.read(table.nbBits[s1]!);
      if (bits.overflowed) {
        weights.push(table.symbol[s2]!);
        break;
      }
      weights.push(table.symbol[s2]!);
      s2 = table.baseline[s2]! + bits.read(table.nbBits[s2]!);
      if (bits.overflowed) {
        weights.push(table.symbol[s1]!);
        break;
      }
    }
    at += hb;
  }
  let sum = 0;
  for (const w of weights) {
    if (w > 11) throw zstdError(`Huffman weight ${w} too large`);
    if (w > 0) sum += 1 << (w - 1);
  }
  if (sum === 0) throw zstdError('Huffman weights are all zero');
  const maxBits = 32 - Math.clz32(sum);
  if (maxBits > 11) throw zstdError('Huffman code longer than 11 bits');
  const rest = (1 << maxBits) - sum;
  if (rest & (rest - 1)) throw zstdError('Huffman weights do not complete a tree');
  weights.push(32 - Math.clz32(rest));
  if (weights.length > 256) throw zstdError('too many Huffman symbols');
  const size = 1 << maxBits;
  const symbol = new Uint8Array(size);
  const nbBits = new Uint8Array(size);
  let pos = 0;
  for (let w = 1; w <= maxBits; w++) {
    const span = 1 << (w - 1);
    for (let s = 0; s < weights.length; s++) {
      if (weights[s] !== w) continue;
      symbol.fill(s, pos, pos + span);
      nbBits.fill(maxBits + 1 - w, pos, pos + span);
      pos += span;
    }
  }
  return { table: { maxBits, symbol, nbBits }, at };
}

/** §3.1.1.3.1.6: one stream, or four behind a 6-byte jump table. */
function decodeHuffmanStreams(
  src: Uint8Array,
  start: number,
  end: number,
  streams: number,
  t: HuffTable,
  out: Uint8Array,
): void {
  if (streams === 1) {
    decodeHuffmanStream(src, start, end, t, out, 0, out.length);
    return;
  }
  if (start + 6 > end) throw zstdError('truncated jump table');
  const s1 = readLE(src, start, 2);
  const s2 = readLE(src, start + 2, 2);
  const s3 = readLE(src, start + 4, 2);
  const seg = Math.ceil(out.length / 4);
  let p = start + 6;
  const sizes = [s1, s2, s3, end - p - s1 - s2 - s3];
  for (let i = 0; i < 4; i++) {
    const size = sizes[i]!;
    if (size <= 0 || p + size > end) throw zstdError('bad jump table');
    const o0 = Math.min(out.length, i * seg);
    const o1 = i === 3 ? out.length : Math.min(out.length, (i + 1) * seg);
    decodeHuffmanStream(src, p, p + size, t, out, o0, o1);
    p += size;
  }
}

function decodeHuffmanStream(
  src: Uint8Array,
  start: number,
  end: number,
  t: HuffTable,
  out: Uint8Array,
  from: number,
  to: number,
): void {
  const bits = new BackwardBits(src, start, end);
  for (let i = from; i < to; i++) {
    const k = bits.peek(t.maxBits);
    out[i] = t.symbol[k]!;
    bits.skip(t.nbBits[k]!);
  }
  if (bits.pos !== 0) throw zstdError('Huffman stream not fully consumed');
}
