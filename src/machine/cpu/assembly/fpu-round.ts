// Strata hart — FPU rounding core: the one place where an exact (or sticky-jammed) magnitude becomes an IEEE 754
// single or double bit pattern under a RISC-V rounding mode, with the exception flags that go with it.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter. No allocation, no BigInt; multi-word
// results travel through module globals.
//
// Internal convention: a finite nonzero value is `sig * 2^scale` with `sig` a u64 integer. Operations work on
// f64 bit patterns; single-precision operands are widened to f64 first (exact), and only the final rounding
// knows the target format (`dbl`).

import { mulHiU64 } from './mul128';
import { raiseFflags } from './state';

/** fflags bit: invalid operation (RISC-V unprivileged spec §11.2). */
export const FLAG_NV: u32 = 16;
/** fflags bit: divide by zero. */
export const FLAG_DZ: u32 = 8;
/** fflags bit: overflow. */
export const FLAG_OF: u32 = 4;
/** fflags bit: underflow. */
export const FLAG_UF: u32 = 2;
/** fflags bit: inexact. */
export const FLAG_NX: u32 = 1;

/** Rounding mode: round to nearest, ties to even (RISC-V unprivileged spec §11.2, Table 11.1). */
export const RM_RNE: u32 = 0;
/** Rounding mode: round towards zero. */
export const RM_RTZ: u32 = 1;
/** Rounding mode: round down (towards -infinity). */
export const RM_RDN: u32 = 2;
/** Rounding mode: round up (towards +infinity). */
export const RM_RUP: u32 = 3;
/** Rounding mode: round to nearest, ties to max magnitude. */
export const RM_RMM: u32 = 4;

/** Canonical quiet NaN of single precision (RISC-V unprivileged spec §11.3). */
export const CANON_NAN_S: u64 = 0x7fc0_0000;
/** Canonical quiet NaN of double precision (RISC-V unprivileged spec §11.3, which chapter 12 extends to D). */
export const CANON_NAN_D: u64 = 0x7ff8_0000_0000_0000;
/** Magnitude mask of an f64 pattern. */
export const F64_ABS: u64 = 0x7fff_ffff_ffff_ffff;
/** +infinity as an f64 pattern. */
export const F64_INF: u64 = 0x7ff0_0000_0000_0000;
/** Fraction field mask of an f64 pattern. */
export const F64_FRAC: u64 = 0x000f_ffff_ffff_ffff;
/** Hidden (implicit) bit of a normal f64 significand. */
export const F64_HIDDEN: u64 = 0x0010_0000_0000_0000;

/** High word of the last `mul128` / `shiftRightJam128` result. */
export let wideHi: u64 = 0;
/** Low word of the last `mul128` / `shiftRightJam128` result. */
export let wideLo: u64 = 0;

/** Integer significand of finite f64 bits `b` (hidden bit included for normals, subnormals as they are). */
// @ts-ignore: decorator
@inline export function sigOf(b: u64): u64 {
  const f = b & F64_FRAC;
  return (b & F64_INF) == 0 ? f : f | F64_HIDDEN;
}

/** Exponent of the least significant bit of `sigOf(b)`: the value is `sigOf(b) * 2^scaleOf(b)`. */
// @ts-ignore: decorator
@inline export function scaleOf(b: u64): i32 {
  const e = <i32>((b >> 52) & 0x7ff);
  return e == 0 ? -1074 : e - 1075;
}

/** Sign bit (0 or 1) of an f64 pattern. */
// @ts-ignore: decorator
@inline export function signOf(b: u64): u32 {
  return <u32>(b >> 63);
}

/** A signed zero in the target format. */
// @ts-ignore: decorator
@inline export function zeroOf(sign: u32, dbl: bool): u64 {
  return dbl ? (<u64>sign) << 63 : (<u64>sign) << 31;
}

/** A signed infinity in the target format. */
// @ts-ignore: decorator
@inline export function infOf(sign: u32, dbl: bool): u64 {
  return dbl ? ((<u64>sign) << 63) | F64_INF : ((<u64>sign) << 31) | 0x7f80_0000;
}

/** The canonical NaN of the target format. */
// @ts-ignore: decorator
@inline export function canonNaN(dbl: bool): u64 {
  return dbl ? CANON_NAN_D : CANON_NAN_S;
}

/** `x >> n` with every bit shifted out ORed into bit 0 (sticky), for any `n >= 0`. */
// @ts-ignore: decorator
@inline export function shiftRightJam(x: u64, n: i32): u64 {
  if (n <= 0) return x;
  if (n >= 64) return x != 0 ? 1 : 0;
  return (x >> (<u64>n)) | ((x << (<u64>(64 - n))) != 0 ? 1 : 0);
}

/** Full 128-bit product of two u64 into `wideHi:wideLo`. */
export function mul128(a: u64, b: u64): void {
  wideLo = a * b;
  wideHi = mulHiU64(a, b);
}

/** 128-bit `hi:lo >> n` with the shifted-out bits ORed into bit 0, into `wideHi:wideLo`. */
export function shiftRightJam128(hi: u64, lo: u64, n: i32): void {
  if (n <= 0) {
    wideHi = hi;
    wideLo = lo;
  } else if (n < 64) {
    const s = <u64>n;
    wideLo = (lo >> s) | (hi << (64 - s)) | ((lo << (64 - s)) != 0 ? 1 : 0);
    wideHi = hi >> s;
  } else if (n == 64) {
    wideLo = hi | (lo != 0 ? 1 : 0);
    wideHi = 0;
  } else if (n < 128) {
    const s = <u64>(n - 64);
    wideLo = (hi >> s) | (((hi << (64 - s)) | lo) != 0 ? 1 : 0);
    wideHi = 0;
  } else {
    wideLo = (hi | lo) != 0 ? 1 : 0;
    wideHi = 0;
  }
}

/**
 * Whether a magnitude whose kept part has least significant bit `lsb` and whose discarded part is `rem` (out of
 * a unit of `2 * half`) rounds away from zero under `rm` (RISC-V unprivileged spec §11.2).
 */
// @ts-ignore: decorator
@inline export function roundsAway(rm: u32, sign: u32, lsb: u64, rem: u64, half: u64): bool {
  if (rem == 0) return false;
  if (rm == RM_RNE) return rem > half || (rem == half && (lsb & 1) != 0);
  if (rm == RM_RMM) return rem >= half;
  if (rm == RM_RDN) return sign != 0;
  if (rm == RM_RUP) return sign == 0;
  return false;
}

/**
 * The result of an overflow in the target format: infinity or the largest finite number depending on the
 * rounding direction (IEEE 754-2019 §7.4), raising OF and NX.
 */
export function overflowResult(sign: u32, rm: u32, dbl: bool): u64 {
  raiseFflags(FLAG_OF | FLAG_NX);
  const toInf = rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && sign == 0) || (rm == RM_RDN && sign != 0);
  if (toInf) return infOf(sign, dbl);
  return dbl ? ((<u64>sign) << 63) | 0x7fef_ffff_ffff_ffff : ((<u64>sign) << 31) | 0x7f7f_ffff;
}

/**
 * Rounds the nonzero magnitude `sig * 2^scale` (bit 0 of `sig` may be a sticky bit standing for any nonzero
 * tail below it, as long as at least two bits of `sig` lie below the rounding position) with sign `sign` to
 * the target format, raising NX, UF and OF as needed. Returns the bit pattern (single: low 32 bits).
 * Underflow follows IEEE 754 with tininess detected after rounding, as RISC-V requires
 * (RISC-V unprivileged spec §11.4): UF is raised when the result is tiny and inexact.
 */
export function roundPack(sign: u32, scale: i32, sig: u64, rm: u32, dbl: bool): u64 {
  const p: i32 = dbl ? 53 : 24;
  const emin: i32 = dbl ? -1022 : -126;
  const emax: i32 = dbl ? 1023 : 127;
  const lz = <i32>clz(sig);
  // Normalise so the leading one sits at bit 62; e is the binade: 2^e <= value < 2^(e+1).
  let e = scale + 63 - lz;
  if (lz == 0) sig = (sig >> 1) | (sig & 1);
  else sig <<= <u64>(lz - 1);
  if (e > emax) return overflowResult(sign, rm, dbl);
  let shift: i32 = 63 - p;
  let tiny = false;
  if (e < emin) {
    tiny = true;
    if (e == emin - 1) {
      // Tininess after rounding: the value is not tiny if rounding to p bits with an unbounded exponent
      // carries it up to 2^emin.
      const k = sig >> (<u64>shift);
      const h = (<u64>1) << (<u64>(shift - 1));
      if (k == ((<u64>1) << (<u64>p)) - 1 && roundsAway(rm, sign, k, sig & ((h << 1) - 1), h)) tiny = false;
    }
    shift += emin - e;
    e = emin;
    if (shift > 63) {
      sig = 1;
      shift = 63;
    }
  }
  const half = (<u64>1) << (<u64>(shift - 1));
  const rem = sig & ((half << 1) - 1);
  let kept = sig >> (<u64>shift);
  if (rem != 0) {
    raiseFflags(tiny ? FLAG_UF | FLAG_NX : FLAG_NX);
    if (roundsAway(rm, sign, kept, rem, half)) kept++;
  }
  // A carry out of the significand increments the exponent field by itself (also from subnormal to normal).
  const bias: i32 = dbl ? 1023 : 127;
  const bits = ((<u64>(e + bias - 1)) << (<u64>(p - 1))) + kept;
  if (bits >= (dbl ? F64_INF : <u64>0x7f80_0000)) return overflowResult(sign, rm, dbl);
  return bits | (dbl ? (<u64>sign) << 63 : (<u64>sign) << 31);
}
