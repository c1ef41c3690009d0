// Exact IEEE 754 reference arithmetic for testing the hart's FPU: every operation computes the exact result as
// a BigInt rational and rounds it once, under the five RISC-V rounding modes, with the fflags it raises
// (tininess after rounding, canonical NaNs, RISC-V float-to-integer saturation). Slow by design; test use only.

/** fflags invalid operation (RISC-V unprivileged spec §11.2). */
export const NV = 16;
/** fflags divide by zero. */
export const DZ = 8;
/** fflags overflow. */
export const OF = 4;
/** fflags underflow. */
export const UF = 2;
/** fflags inexact. */
export const NX = 1;
/** Rounding mode: nearest, ties to even. */
export const RNE = 0;
/** Rounding mode: towards zero. */
export const RTZ = 1;
/** Rounding mode: down. */
export const RDN = 2;
/** Rounding mode: up. */
export const RUP = 3;
/** Rounding mode: nearest, ties to max magnitude. */
export const RMM = 4;
/** NaN-boxing upper half of a single in a 64-bit f register. */
export const BOX = 0xffff_ffff_0000_0000n;

/** An IEEE 754 binary format: precision p (with the hidden bit), exponent range, field widths. */
export interface Fmt {
  p: number;
  emin: number;
  emax: number;
  ebits: number;
  width: number;
}
/** binary32. */
export const FS: Fmt = { p: 24, emin: -126, emax: 127, ebits: 8, width: 32 };
/** binary64. */
export const FD: Fmt = { p: 53, emin: -1022, emax: 1023, ebits: 11, width: 64 };

/** A decoded operand. */
export interface Val {
  cls: 'nan' | 'inf' | 'zero' | 'fin';
  snan: boolean;
  sign: number;
  /** value = m * 2^e for finite values */
  m: bigint;
  e: number;
}
/** A result bit pattern and the fflags it raises. */
export interface Res {
  bits: bigint;
  flags: number;
}

/** Width of the fraction field. */
export const fracBits = (f: Fmt) => BigInt(f.p - 1);
/** The all-ones exponent field. */
export const expAll = (f: Fmt) => (1n << BigInt(f.ebits)) - 1n;
/** The sign bit of format f. */
export const signBit = (f: Fmt) => 1n << BigInt(f.width - 1);
/** The canonical NaN of format f (RISC-V). */
export const canon = (f: Fmt) => (f === FS ? 0x7fc0_0000n : 0x7ff8_0000_0000_0000n);
/** Signed infinity. */
export const inf = (f: Fmt, s: number) => (s ? signBit(f) : 0n) | (expAll(f) << fracBits(f));
/** Signed zero. */
export const zero = (f: Fmt, s: number) => (s ? signBit(f) : 0n);
/** Largest finite magnitude with a sign. */
const maxFin = (f: Fmt, s: number) => inf(f, s) - 1n;

/** Reads a register pattern in format f (singles unboxed: not NaN-boxed reads as the canonical NaN). */
export function unbox(bits: bigint, f: Fmt): bigint {
  if (f === FD) return bits;
  return bits >> 32n === 0xffff_ffffn ? bits & 0xffff_ffffn : 0x7fc0_0000n;
}

/** Decodes a bit pattern of format f. */
export function decode(bits: bigint, f: Fmt): Val {
  const sign = Number(bits >> BigInt(f.width - 1)) & 1;
  const exp = (bits >> fracBits(f)) & expAll(f);
  const frac = bits & ((1n << fracBits(f)) - 1n);
  const bias = f.emax;
  if (exp === expAll(f)) {
    if (frac === 0n) return { cls: 'inf', snan: false, sign, m: 0n, e: 0 };
    return { cls: 'nan', snan: frac >> (fracBits(f) - 1n) === 0n, sign, m: 0n, e: 0 };
  }
  if (exp === 0n) {
    if (frac === 0n) return { cls: 'zero', snan: false, sign, m: 0n, e: 0 };
    return { cls: 'fin', snan: false, sign, m: frac, e: f.emin - (f.p - 1) };
  }
  return { cls: 'fin', snan: false, sign, m: frac | (1n << fracBits(f)), e: Number(exp) - bias - (f.p - 1) };
}

/** Number of significant bits of a non-negative BigInt. */
const bitlen = (n: bigint) => (n === 0n ? 0 : n.toString(2).length);

/** Does a discarded remainder r (of unit d) with kept integer n round away from zero under rm? */
function away(rm: number, sign: number, n: bigint, r: bigint, d: bigint): boolean {
  if (r === 0n) return false;
  if (rm === RNE) return 2n * r > d || (2n * r === d && (n & 1n) === 1n);
  if (rm === RMM) return 2n * r >= d;
  if (rm === RDN) return sign === 1;
  if (rm === RUP) return sign === 0;
  return false;
}

/** Rounds the exact positive rational num/den with sign to format f (IEEE 754, tininess after rounding). */
function roundRat(sign: number, num: bigint, den: bigint, f: Fmt, rm: number): Res {
  let e = bitlen(num) - bitlen(den);
  const ge = (k: number) => (k >= 0 ? num >= den << BigInt(k) : num << BigInt(-k) >= den);
  if (!ge(e)) e--;
  const roundAt = (q: number) => {
    const N = q <= 0 ? num << BigInt(-q) : num;
    const D = q > 0 ? den << BigInt(q) : den;
    const n = N / D;
    const r = N % D;
    return { n: n + (away(rm, sign, n, r, D) ? 1n : 0n), inexact: r !== 0n };
  };
  let flags = 0;
  let q = Math.max(e, f.emin) - (f.p - 1);
  let { n, inexact } = roundAt(q);
  if (inexact) flags |= NX;
  if (e < f.emin) {
    const u = roundAt(e - (f.p - 1));
    const tiny = u.n < 1n << BigInt(f.p - 1 + f.emin - e);
    if (tiny && inexact) flags |= UF;
  }
  if (n === 1n << BigInt(f.p)) {
    n >>= 1n;
    q++;
  }
  let exp = 0n;
  let frac = n;
  if (n >= 1n << fracBits(f)) {
    exp = BigInt(q + f.p - 1 + f.emax);
    frac = n - (1n << fracBits(f));
  }
  if (exp >= expAll(f)) {
    const toInf = rm === RNE || rm === RMM || (rm === RUP && sign === 0) || (rm === RDN && sign === 1);
    return { bits: toInf ? inf(f, sign) : maxFin(f, sign), flags: OF | NX };
  }
  return { bits: (sign ? signBit(f) : 0n) | (exp << fracBits(f)) | frac, flags };
}

/** Rounds the exact dyadic sign * m * 2^e. */
export function roundDy(sign: number, m: bigint, e: number, f: Fmt, rm: number): Res {
  return roundRat(sign, e >= 0 ? m << BigInt(e) : m, e >= 0 ? 1n : 1n << BigInt(-e), f, rm);
}

/** The canonical NaN result, with NV when `nv`. */
export const nanRes = (f: Fmt, nv: boolean): Res => ({ bits: canon(f), flags: nv ? NV : 0 });

/** Exact signed sum of finite values as a dyadic: returns [signed mantissa, exponent]. */
function dySum(sa: number, ma: bigint, ea: number, sb: number, mb: bigint, eb: number): [bigint, number] {
  const k = Math.min(ea, eb);
  const a = (sa ? -ma : ma) << BigInt(ea - k);
  const b = (sb ? -mb : mb) << BigInt(eb - k);
  return [a + b, k];
}

/** a + b (subtraction: flip the sign of b first). */
export function refAdd(a: Val, b: Val, f: Fmt, rm: number): Res {
  if (a.cls === 'nan' || b.cls === 'nan') return nanRes(f, a.snan || b.snan);
  if (a.cls === 'inf' && b.cls === 'inf' && a.sign !== b.sign) return nanRes(f, true);
  if (a.cls === 'inf') return { bits: inf(f, a.sign), flags: 0 };
  if (b.cls === 'inf') return { bits: inf(f, b.sign), flags: 0 };
  const [s, k] = dySum(a.sign, a.m, a.e, b.sign, b.m, b.e);
  if (s === 0n) {
    const zs = a.cls === 'zero' && b.cls === 'zero' && a.sign === b.sign ? a.sign : rm === RDN ? 1 : 0;
    return { bits: zero(f, zs), flags: 0 };
  }
  return roundDy(s < 0n ? 1 : 0, s < 0n ? -s : s, k, f, rm);
}

/** a * b. */
export function refMul(a: Val, b: Val, f: Fmt, rm: number): Res {
  if (a.cls === 'nan' || b.cls === 'nan') return nanRes(f, a.snan || b.snan);
  const s = a.sign ^ b.sign;
  if ((a.cls === 'inf' && b.cls === 'zero') || (a.cls === 'zero' && b.cls === 'inf')) return nanRes(f, true);
  if (a.cls === 'inf' || b.cls === 'inf') return { bits: inf(f, s), flags: 0 };
  if (a.cls === 'zero' || b.cls === 'zero') return { bits: zero(f, s), flags: 0 };
  return roundDy(s, a.m * b.m, a.e + b.e, f, rm);
}

/** a / b. */
export function refDiv(a: Val, b: Val, f: Fmt, rm: number): Res {
  if (a.cls === 'nan' || b.cls === 'nan') return nanRes(f, a.snan || b.snan);
  const s = a.sign ^ b.sign;
  if (a.cls === 'inf') return b.cls === 'inf' ? nanRes(f, true) : { bits: inf(f, s), flags: 0 };
  if (b.cls === 'inf') return { bits: zero(f, s), flags: 0 };
  if (b.cls === 'zero') return a.cls === 'zero' ? nanRes(f, true) : { bits: inf(f, s), flags: DZ };
  if (a.cls === 'zero') return { bits: zero(f, s), flags: 0 };
  const d = a.e - b.e;
  const num = d >= 0 ? a.m << BigInt(d) : a.m;
  const den = d >= 0 ? b.m : b.m << BigInt(-d);
  return roundRat(s, num, den, f, rm);
}

/** floor(sqrt(n)). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitlen(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** sqrt(a). */
export function refSqrt(a: Val, f: Fmt, rm: number): Res {
  if (a.cls === 'nan') return nanRes(f, a.snan);
  if (a.cls === 'zero') return { bits: zero(f, a.sign), flags: 0 };
  if (a.sign === 1) return nanRes(f, true);
  if (a.cls === 'inf') return { bits: inf(f, 0), flags: 0 };
  const l2 = bitlen(a.m) - 1 + a.e;
  const e = Math.floor(l2 / 2);
  const q = e - (f.p - 1);
  const sh = a.e - 2 * q;
  if (sh < 0) throw new Error(`sqrt reference: negative shift ${sh}`);
  const N = a.m << BigInt(sh);
  let n = isqrt(N);
  const r = N - n * n;
  if (r !== 0n) {
    const aboveHalf = 4n * N > (2n * n + 1n) ** 2n;
    if (rm === RUP || ((rm === RNE || rm === RMM) && aboveHalf)) n++;
  }
  // sqrt results are never subnormal and never overflow; n may carry to 2^p.
  return { bits: roundDy(0, n, q, f, RTZ).bits, flags: r !== 0n ? NX : 0 };
}

/** Fused (±(a*b)) ± c with one rounding; negP/negC negate the product / the addend (FNMSUB, FMSUB...). */
export function refFma(a: Val, b: Val, c: Val, negP: number, negC: number, f: Fmt, rm: number): Res {
  const infZero = (a.cls === 'inf' && b.cls === 'zero') || (a.cls === 'zero' && b.cls === 'inf');
  if (a.cls === 'nan' || b.cls === 'nan' || c.cls === 'nan' || infZero)
    return nanRes(f, a.snan || b.snan || c.snan || infZero);
  const sp = a.sign ^ b.sign ^ negP;
  const sc = c.sign ^ negC;
  if (a.cls === 'inf' || b.cls === 'inf') {
    if (c.cls === 'inf' && sc !== sp) return nanRes(f, true);
    return { bits: inf(f, sp), flags: 0 };
  }
  if (c.cls === 'inf') return { bits: inf(f, sc), flags: 0 };
  const [s, k] = dySum(sp, a.m * b.m, a.e + b.e, sc, c.m, c.e);
  if (s === 0n) {
    const pz = a.cls === 'zero' || b.cls === 'zero';
    const zs = pz && c.cls === 'zero' && sp === sc ? sp : rm === RDN ? 1 : 0;
    return { bits: zero(f, zs), flags: 0 };
  }
  return roundDy(s < 0n ? 1 : 0, s < 0n ? -s : s, k, f, rm);
}

/** FCVT to integer: kind 0 W, 1 WU, 2 L, 3 LU; result as the 64-bit x register value. */
export function refToInt(a: Val, kind: number, rm: number): Res {
  const lim = [
    [-(1n << 31n), (1n << 31n) - 1n],
    [0n, (1n << 32n) - 1n],
    [-(1n << 63n), (1n << 63n) - 1n],
    [0n, (1n << 64n) - 1n],
  ][kind]!;
  const [lo, hi] = lim as [bigint, bigint];
  const wr = (v: bigint) => (kind < 2 ? BigInt.asUintN(64, BigInt.asIntN(32, v)) : BigInt.asUintN(64, v));
  if (a.cls === 'nan') return { bits: wr(hi), flags: NV };
  if (a.cls === 'inf') return { bits: wr(a.sign ? lo : hi), flags: NV };
  if (a.cls === 'zero') return { bits: 0n, flags: 0 };
  const num = a.e >= 0 ? a.m << BigInt(a.e) : a.m;
  const den = a.e >= 0 ? 1n : 1n << BigInt(-a.e);
  let n = num / den;
  const r = num % den;
  if (away(rm, a.sign, n, r, den)) n++;
  const v = a.sign ? -n : n;
  if (v < lo || v > hi) return { bits: wr(a.sign ? lo : hi), flags: NV };
  return { bits: wr(v), flags: r !== 0n ? NX : 0 };
}

/** FCVT.{S,D}.{W,WU,L,LU} of x register value x. */
export function refFromInt(x: bigint, kind: number, f: Fmt, rm: number): Res {
  const v = [BigInt.asIntN(32, x), BigInt.asUintN(32, x), BigInt.asIntN(64, x), BigInt.asUintN(64, x)][kind]!;
  if (v === 0n) return { bits: 0n, flags: 0 };
  return roundRat(v < 0n ? 1 : 0, v < 0n ? -v : v, 1n, f, rm);
}

/** NaN-boxes a single result. */
export const boxed = (f: Fmt, r: Res): Res => (f === FS ? { bits: r.bits | BOX, flags: r.flags } : r);

/** Exact order of two non-NaN values: -1, 0 or 1 (-0 equals +0). */
function order(a: Val, b: Val): number {
  const key = (v: Val): [number, bigint, number] => {
    if (v.cls === 'zero') return [0, 0n, 0];
    if (v.cls === 'inf') return [v.sign ? -2 : 2, 0n, 0];
    return [v.sign ? -1 : 1, v.m, v.e];
  };
  const [ka, ma, ea] = key(a);
  const [kb, mb, eb] = key(b);
  if (Math.abs(ka) === 2 || Math.abs(kb) === 2 || ka !== kb || ka === 0) return Math.sign(ka - kb);
  const k = Math.min(ea, eb);
  const x = ma << BigInt(ea - k);
  const y = mb << BigInt(eb - k);
  const c = x < y ? -1 : x > y ? 1 : 0;
  return ka < 0 ? -c : c;
}

/** FMIN (max = false) / FMAX on unboxed patterns: minimumNumber/maximumNumber, -0 < +0 (RISC-V §11.6). */
export function refMinMax(a: bigint, b: bigint, f: Fmt, max: boolean): Res {
  const va = decode(a, f);
  const vb = decode(b, f);
  const flags = va.snan || vb.snan ? NV : 0;
  if (va.cls === 'nan' && vb.cls === 'nan') return { bits: canon(f), flags };
  if (va.cls === 'nan') return { bits: b, flags };
  if (vb.cls === 'nan') return { bits: a, flags };
  let c = order(va, vb);
  if (c === 0) c = va.sign === vb.sign ? 0 : va.sign ? -1 : 1;
  return { bits: c <= 0 !== max ? a : b, flags };
}

/** FLE (which 0), FLT (1), FEQ (2): 0/1 result; FEQ is quiet, FLT/FLE signal on any NaN (RISC-V §11.8). */
export function refCompare(a: bigint, b: bigint, f: Fmt, which: number): Res {
  const va = decode(a, f);
  const vb = decode(b, f);
  if (va.cls === 'nan' || vb.cls === 'nan') {
    const nv = which === 2 ? va.snan || vb.snan : true;
    return { bits: 0n, flags: nv ? NV : 0 };
  }
  const c = order(va, vb);
  const t = which === 0 ? c <= 0 : which === 1 ? c < 0 : c === 0;
  return { bits: t ? 1n : 0n, flags: 0 };
}

/** FSGNJ (which 0), FSGNJN (1), FSGNJX (2) on unboxed patterns. */
export function refSignInject(a: bigint, b: bigint, f: Fmt, which: number): Res {
  const sa = (a & signBit(f)) !== 0n ? 1 : 0;
  const sb = (b & signBit(f)) !== 0n ? 1 : 0;
  const s = which === 0 ? sb : which === 1 ? sb ^ 1 : sa ^ sb;
  return { bits: (a & (signBit(f) - 1n)) | (s ? signBit(f) : 0n), flags: 0 };
}

/** FCLASS mask of an unboxed pattern (RISC-V §11.9). */
export function refClass(a: bigint, f: Fmt): bigint {
  const v = decode(a, f);
  if (v.cls === 'nan') return v.snan ? 1n << 8n : 1n << 9n;
  const sub = v.cls === 'fin' && v.m < 1n << fracBits(f);
  const bit = { inf: [7, 0], fin: sub ? [5, 2] : [6, 1], zero: [4, 3] }[v.cls][v.sign]!;
  return 1n << BigInt(bit);
}

/** FCVT between formats: the value of `a` (format `from`) rounded to format `to`. */
export function refConvert(a: Val, to: Fmt, rm: number): Res {
  if (a.cls === 'nan') return nanRes(to, a.snan);
  if (a.cls === 'inf') return { bits: inf(to, a.sign), flags: 0 };
  if (a.cls === 'zero') return { bits: zero(to, a.sign), flags: 0 };
  return roundDy(a.sign, a.m, a.e, to, rm);
}
