import { BackwardBits, buildFseTable, type FseTable, readFseDescription, rleTable, zstdError } from './zstd-bits.js';
import { decodeLiterals, type HuffTable, MAX_BLOCK, readLE } from './zstd-literals.js';

/** RFC 8878 §3.1.1: frame magic, little-endian. */
const ZSTD_MAGIC = 0xfd2fb528;
/** RFC 8878 §3.1.2: skippable frames use magics 0x184D2A50..5F. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

// RFC 8878 §3.1.1.3.2.1.1 "Literals_Length_Code" baselines and extra bits
const LL_BASE = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024,
  2048, 4096, 8192, 16384, 32768, 65536,
];
const LL_BITS = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];
// §3.1.1.3.2.1.1 "Match_Length_Code"
const ML_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
  34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539,
];
const ML_BITS = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3,
  3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];
// §3.1.1.3.2.2 "Default Distributions"
const LL_DEFAULT = [
  4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1,
];
const ML_DEFAULT = [
  1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
const OF_DEFAULT = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];

let defaults: { ll: FseTable; ml: FseTable; of: FseTable } | null = null;
function defaultTables(): { ll: FseTable; ml: FseTable; of: FseTable } {
  defaults ??= {
    ll: buildFseTable(LL_DEFAULT, 6),
    ml: buildFseTable(ML_DEFAULT, 6),
    of: buildFseTable(OF_DEFAULT, 5),
  };
  return defaults;
}

/** Decoding state kept across the blocks of a frame (RFC 8878 §3.1.1.3: repeat modes and offsets). */
interface FrameState {
  out: Uint8Array;
  pos: number;
  frameStart: number;
  windowSize: number;
  huff: HuffTable | null;
  ll: FseTable | null;
  of: FseTable | null;
  ml: FseTable | null;
  rep: [number, number, number];
}

/**
 * Decompresses zstd data (RFC 8878) into a new buffer of at most `maxOutput` bytes. Frames are decoded one after
 * another until the input ends or the output is full (qcow2 pads compressed clusters up to a sector, so bytes
 * after the last frame are ignored once the output is full); skippable frames are skipped. Dictionaries are
 * not supported. Malformed input throws a StrataError; nothing is ever allocated beyond `maxOutput` bytes.
 */
export function zstdDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  const out = new Uint8Array(maxOutput);
  let at = 0;
  let pos = 0;
  let frames = 0;
  while (at + 4 <= src.length && pos < maxOutput) {
    const magic = readLE(src, at, 4);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (at + 8 > src.length) throw zstdError('truncated skippable frame');
      at += 8 + readLE(src, at + 4, 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      if (frames > 0) break; // padding after the data
      throw zstdError(`bad frame magic 0x${magic.toString(16)}`);
    }
    const r = decodeFrame(src, at + 4, out, pos);
    at = r.at;
    pos = r.pos;
    frames++;
  }
  if (frames === 0) throw zstdError('no frame found');
  return out.subarray(0, pos);
}

function need(src: Uint8Array, at: number, n: number, what: string): void {
  if (at + n > src.length) throw zstdError(`truncated ${what}`);
}

/** RFC 8878 §3.1.1: frame header, blocks, optional checksum. */
function decodeFrame(src: Uint8Array, at0: number, out: Uint8Array, pos0: number): { at: number; pos: number } {
  let at = at0;
  need(src, at, 1, 'frame header');
  const fhd = src[at++]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictFlag = fhd & 3;
  if (fhd & 8) throw zstdError('reserved frame header bit set');
  let windowSize = 0;
  if (!single) {
    need(src, at, 1, 'window descriptor');
    const wd = src[at++]!;
    const windowLog = 10 + (wd >> 3);
    const base = 2 ** windowLog;
    windowSize = base + (base / 8) * (wd & 7);
  }
  const dictBytes = [0, 1, 2, 4][dictFlag]!;
  need(src, at, dictBytes, 'dictionary id');
  if (dictBytes > 0 && readLE(src, at, dictBytes) !== 0) throw zstdError('dictionaries are not supported');
  at += dictBytes;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  need(src, at, fcsBytes, 'frame content size');
  let contentSize = -1;
  if (fcsBytes > 0) contentSize = readLE(src, at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
  at += fcsBytes;
  if (single) windowSize = contentSize;
  if (contentSize > out.length - pos0) throw zstdError(`frame content of ${contentSize} bytes exceeds the output`);
  const st: FrameState = {
    out,
    pos: pos0,
    frameStart: pos0,
    windowSize,
    huff: null,
    ll: null,
    of: null,
    ml: null,
    rep: [1, 4, 8],
  };
  const blockMax = Math.min(MAX_BLOCK, Math.max(windowSize, 1));
  for (;;) {
    need(src, at, 3, 'block header');
    const bh = readLE(src, at, 3);
    at += 3;
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw zstdError('reserved block type');
    if (type === 1) {
      need(src, at, 1, 'RLE block');
      if (size > out.length - st.pos) throw zstdError('output exceeds the expected size');
      out.fill(src[at]!, st.pos, st.pos + size);
      st.pos += size;
      at += 1;
    } else {
      need(src, at, size, 'block');
      if (size > blockMax) throw zstdError(`block of ${size} bytes exceeds the maximum ${blockMax}`);
      if (type === 0) {
        if (size > out.length - st.pos) throw zstdError('output exceeds the expected size');
        out.set(src.subarray(at, at + size), st.pos);
        st.pos += size;
      } else decodeCompressedBlock(src, at, at + size, st);
      at += size;
    }
    if (last) break;
  }
  if (checksum) {
    need(src, at, 4, 'content checksum');
    at += 4;
  }
  if (contentSize >= 0 && st.pos - pos0 !== contentSize) throw zstdError('frame content size mismatch');
  return { at, pos: st.pos };
}

/** RFC 8878 §3.1.1.3: literals section, then sequences section, then sequence execution. */
function decodeCompressedBlock(src: Uint8Array, start: number, end: number, st: FrameState): void {
  const { literals, at } = decodeLiterals(src, start, end, st);
  decodeSequences(src, at, end, st, literals);
}

/** §3.1.1.3.2: sequence count, symbol compression modes, FSE tables, then the interleaved bitstream. */
function decodeSequences(src: Uint8Array, start: number, end: number, st: FrameState, literals: Uint8Array): void {
  let at = start;
  if (at >= end) throw zstdError('truncated sequences section');
  const b0 = src[at]!;
  let count: number;
  if (b0 < 128) {
    count = b0;
    at += 1;
  } else if (b0 < 255) {
    if (at + 2 > end) throw zstdError('truncated sequence count');
    count = ((b0 - 128) << 8) + src[at + 1]!;
    at += 2;
  } else {
    if (at + 3 > end) throw zstdError('truncated sequence count');
    count = src[at + 1]! + (src[at + 2]! << 8) + 0x7f00;
    at += 3;
  }
  if (count === 0) {
    copyOut(st, literals, 0, literals.length);
    return;
  }
  if (at >= end) throw zstdError('truncated symbol compression modes');
  const modes = src[at++]!;
  if (modes & 3) throw zstdError('reserved symbol compression mode bits set');
  const d = defaultTables();
  const pick = (mode: number, prev: FseTable | null, def: FseTable, maxLog: number, maxSym: number): FseTable => {
    switch (mode) {
      case 0:
        return def;
      case 1: {
        if (at >= end) throw zstdError('truncated RLE symbol');
        const sym = src[at++]!;
        if (sym > maxSym) throw zstdError('RLE symbol out of range');
        return rleTable(sym);
      }
      case 2: {
        const r = readFseDescription(src, at, end, maxLog, maxSym);
        at += r.bytes;
        return buildFseTable(r.probs, r.accuracyLog);
      }
      default:
        if (!prev) throw zstdError('repeat mode without a previous table');
        return prev;
    }
  };
  st.ll = pick(modes >> 6, st.ll, d.ll, 9, 35);
  st.of = pick((modes >> 4) & 3, st.of, d.of, 8, 31);
  st.ml = pick((modes >> 2) & 3, st.ml, d.ml, 9, 52);
  const ll = st.ll;
  const of = st.of;
  const ml = st.ml;
  const bits = new BackwardBits(src, at, end);
  let sLL = bits.read(ll.accuracyLog);
  let sOF = bits.read(of.accuracyLog);
  let sML = bits.read(ml.accuracyLog);
  let lit = 0;
  const rep = st.rep;
  const out = st.out;
  for (let i = 0; i < count; i++) {
    const ofCode = of.symbol[sOF]!;
    const llCode = ll.symbol[sLL]!;
    const mlCode = ml.symbol[sML]!;
    if (ofCode > 31) throw zstdError('offset code out of range');
    // §3.1.1.3.2.1.1: offset bits first, then match length, then literals length
    const ofValue = 2 ** ofCode + bits.read(ofCode);
    const matchLen = ML_BASE[mlCode]! + bits.read(ML_BITS[mlCode]!);
    const litLen = LL_BASE[llCode]! + bits.read(LL_BITS[llCode]!);
    // §3.1.1.5 repeat offsets
    let offset: number;
    if (ofValue > 3) {
      offset = ofValue - 3;
      rep[2] = rep[1];
      rep[1] = rep[0];
      rep[0] = offset;
    } else {
      const idx = ofValue - 1 + (litLen === 0 ? 1 : 0);
      if (idx === 0) offset = rep[0];
      else {
        offset = idx === 3 ? rep[0] - 1 : rep[idx]!;
        if (idx !== 1) rep[2] = rep[1];
        rep[1] = rep[0];
        rep[0] = offset;
      }
    }
    if (i + 1 < count) {
      // state updates: literals length, match length, offset
      sLL = ll.baseline[sLL]! + bits.read(ll.nbBits[sLL]!);
      sML = ml.baseline[sML]! + bits.read(ml.nbBits[sML]!);
      sOF = of.baseline[sOF]! + bits.read(of.nbBits[sOF]!);
    }
    if (bits.overflowed) throw zstdError('sequence bitstream overflow');
    if (lit + litLen > literals.length) throw zstdError('sequence uses more literals than decoded');
    copyOut(st, literals, lit, lit + litLen);
    lit += litLen;
    if (offset <= 0 || offset > st.pos - st.frameStart)
      throw zstdError(`match offset ${offset} before the frame start`);
    if (matchLen > out.length - st.pos) throw zstdError('output exceeds the expected size');
    let from = st.pos - offset;
    let p = st.pos;
    if (offset >= matchLen) {
      out.copyWithin(p, from, from + matchLen);
      p += matchLen;
    } else {
      for (let k = 0; k < matchLen; k++) out[p++] = out[from++]!;
    }
    st.pos = p;
  }
  if (bits.pos !== 0) throw zstdError('sequence bitstream not fully consumed');
  copyOut(st, literals, lit, literals.length);
}

function copyOut(st: FrameState, literals: Uint8Array, from: number, to: number): void {
  const n = to - from;
  if (n > st.out.length - st.pos) throw zstdError('output exceeds the expected size');
  st.out.set(literals.subarray(from, to), st.pos);
  st.pos += n;
}
