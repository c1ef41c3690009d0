import { StrataError } from '../../../base/errors.js';

/** A zstd format error (RFC 8878); the qcow2 reader adds the image's path. */
export function zstdError(problem: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `zstd: ${problem}`);
}

/**
 * A backward bit reader (RFC 8878 §4.1 "Bitstream"): the stream is read from its last byte towards its first;
 * the highest set bit of the last byte marks the start. Reading past the first bit yields zeros and makes
 * {@link overflowed} true, which FSE weight decoding uses as its end condition.
 */
export class BackwardBits {
  private readonly buf: Uint8Array;
  private readonly start: number;
  /** Bits still unread (bit 0 is the lowest bit of the first byte). */
  pos: number;

  constructor(buf: Uint8Array, start: number, end: number) {
    if (end <= start) throw zstdError('empty bitstream');
    const last = buf[end - 1]!;
    if (last === 0) throw zstdError('bitstream has no start marker');
    this.buf = buf;
    this.start = start;
    this.pos = (end - start - 1) * 8 + (31 - Math.clz32(last));
  }

  /** True when more bits were read than the stream holds. */
  get overflowed(): boolean {
    return this.pos < 0;
  }

  /** The next `n` bits (0..32) without consuming them. */
  peek(n: number): number {
    if (n === 0) return 0;
    const from = this.pos - n;
    if (from >= 0) return this.extract(from, n);
    const avail = this.pos;
    if (avail <= 0) return 0;
    return this.extract(0, avail) * 2 ** (n - avail);
  }

  /** Consumes `n` bits. */
  skip(n: number): void {
    this.pos -= n;
  }

  /** Reads `n` bits (0..32). */
  read(n: number): number {
    const v = this.peek(n);
    this.pos -= n;
    return v;
  }

  private extract(from: number, n: number): number {
    const b = this.start + (from >> 3);
    const shift = from & 7;
    const buf = this.buf;
    const need = Math.ceil((shift + n) / 8);
    let v = 0;
    for (let k = need - 1; k >= 0; k--) v = v * 256 + buf[b + k]!;
    return Math.floor(v / 2 ** shift) % 2 ** n;
  }
}

/** A decoding table for FSE (RFC 8878 §4.1.1): per state, the symbol, bits to read and the next state's base. */
export interface FseTable {
  accuracyLog: number;
  symbol: Uint8Array;
  nbBits: Uint8Array;
  baseline: Uint16Array;
}

/**
 * Reads an FSE table description (RFC 8878 §4.1.1) from `src` at `at`: returns the normalized probabilities and
 * the number of bytes used. `maxLog` and `maxSymbol` bound what the caller accepts.
 */
export function readFseDescription(
  src: Uint8Array,
  at: number,
  end: number,
  maxLog: number,
  maxSymbol: number,
): { probs: number[]; accuracyLog: number; bytes: number } {
  let bit = 0;
  const bits = (n: number): number => {
    // forward little-endian bit order
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = at + ((bit + i) >> 3);
      if (byte >= end) throw zstdError('truncated FSE table description');
      v += ((src[byte]! >> ((bit + i) & 7)) & 1) * 2 ** i;
    }
    return v;
  };
  const accuracyLog = (bits(4) as number) + 5;
  bit += 4;
  if (accuracyLog > maxLog) throw zstdError(`FSE accuracy log ${accuracyLog} exceeds ${maxLog}`);
  let remaining = (1 << accuracyLog) + 1;
  let threshold = 1 << accuracyLog;
  let nbBits = accuracyLog + 1;
  const probs: number[] = [];
  while (remaining > 1) {
    if (probs.length > maxSymbol) throw zstdError('FSE table has too many symbols');
    const max = 2 * threshold - 1 - remaining;
    let value: number;
    const low = bits(nbBits - 1);
    if (low < max) {
      value = low;
      bit += nbBits - 1;
    } else {
      value = bits(nbBits);
      bit += nbBits;
      if (value >= threshold) value -= max;
    }
    const proba = value - 1;
    remaining -= proba < 0 ? -proba : proba;
    probs.push(proba);
    if (proba === 0) {
      // repeat flags: 2 bits each, 3 means "3 more zeros and another flag"
      for (;;) {
        const rep = bits(2);
        bit += 2;
        for (let i = 0; i < rep; i++) probs.push(0);
        if (probs.length > maxSymbol + 1) throw zstdError('FSE table has too many symbols');
        if (rep !== 3) break;
      }
    }
    while (remaining < threshold && threshold > 1) {
      nbBits--;
      threshold >>= 1;
    }
  }
  if (remaining !== 1) throw zstdError('FSE probabilities do not add up');
  if (probs.length > maxSymbol + 1) throw zstdError('FSE table has too many symbols');
  return { probs, accuracyLog, bytes: Math.ceil(bit / 8) };
}

/** Builds the decoding table from normalized probabilities (RFC 8878 §4.1.1 "FSE Table construction"). */
export function buildFseTable(probs: number[], accuracyLog: number): FseTable {
  const size = 1 << accuracyLog;
  const symbol = new Uint8Array(size);
  const nbBits = new Uint8Array(size);
  const baseline = new Uint16Array(size);
  const next = new Uint32Array(probs.length);
  let high = size - 1;
  for (let s = 0; s < probs.length; s++) {
    if (probs[s] === -1) {
      symbol[high--] = s;
      next[s] = 1;
    } else next[s] = probs[s]!;
  }
  const step = (size >> 1) + (size >> 3) + 3;
  let pos = 0;
  for (let s = 0; s < probs.length; s++) {
    const p = probs[s]!;
    for (let i = 0; i < p; i++) {
      symbol[pos] = s;
      do pos = (pos + step) & (size - 1);
      while (pos > high);
    }
  }
  if (pos !== 0) throw zstdError('FSE table spread is inconsistent');
  for (let u = 0; u < size; u++) {
    const s = symbol[u]!;
    const n = next[s]!++;
    const bitsNeeded = accuracyLog - (31 - Math.clz32(n));
    nbBits[u] = bitsNeeded;
    baseline[u] = (n << bitsNeeded) - size;
  }
  return { accuracyLog, symbol, nbBits, baseline };
}

/** A one-symbol table (RLE mode): every state decodes `sym` and reads no bits. */
export function rleTable(sym: number): FseTable {
  return { accuracyLog: 0, symbol: Uint8Array.of(sym), nbBits: Uint8Array.of(0), baseline: Uint16Array.of(0) };
}
