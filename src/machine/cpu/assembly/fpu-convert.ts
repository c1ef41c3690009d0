// Strata hart — FPU conversions: floating point to integer (rounding, saturation, NV/NX), integer to floating
// point (rounding, NX) and double to single.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter. No allocation, no BigInt.

import {
  F64_ABS,
  F64_INF,
  FLAG_NV,
  FLAG_NX,
  infOf,
  roundPack,
  roundsAway,
  scaleOf,
  sigOf,
  signOf,
  zeroOf,
} from './fpu-round';
import { raiseFflags } from './state';

/** Integer kinds of FCVT, as encoded in the rs2 field (RISC-V unprivileged spec §11.7, §12.5). */
export const INT_W: u32 = 0;
/** 32-bit unsigned. */
export const INT_WU: u32 = 1;
/** 64-bit signed. */
export const INT_L: u32 = 2;
/** 64-bit unsigned. */
export const INT_LU: u32 = 3;

/** Largest result of each integer kind as written to an x register (32-bit results sign-extended). */
// @ts-ignore: decorator
@inline function intMax(kind: u32): u64 {
  if (kind == INT_W) return 0x7fff_ffff;
  if (kind == INT_L) return 0x7fff_ffff_ffff_ffff;
  // WU: 2^32-1 sign-extended from bit 31 is all ones, like LU's 2^64-1.
  return 0xffff_ffff_ffff_ffff;
}

/** Smallest result of each integer kind as written to an x register. */
// @ts-ignore: decorator
@inline function intMin(kind: u32): u64 {
  if (kind == INT_W) return 0xffff_ffff_8000_0000;
  if (kind == INT_L) return 0x8000_0000_0000_0000;
  return 0;
}

/**
 * FCVT.{W,WU,L,LU}.{S,D}: converts the f64 pattern `a` (a widened single for .S; `nan` says whether the
 * source operand was a NaN in its own format) to the integer `kind`, rounding with `rm`. Returns the value for
 * rd: 32-bit results are sign-extended, also for WU (RISC-V unprivileged spec §11.7). NaN and out-of-range
 * inputs raise NV and saturate per Table 11.4 (NaN and +inf to the maximum, -inf to the minimum); otherwise an
 * inexact conversion raises NX.
 */
export function fpToInt(a: u64, nan: bool, kind: u32, rm: u32): u64 {
  const sign = signOf(a);
  const aa = a & F64_ABS;
  if (nan || aa == F64_INF) {
    raiseFflags(FLAG_NV);
    return nan || sign == 0 ? intMax(kind) : intMin(kind);
  }
  if (aa == 0) return 0;
  const m = sigOf(a);
  const s = scaleOf(a);
  let mag: u64;
  let inexact = false;
  if (s >= 0) {
    // A normal value with scale >= 0 has a 53-bit significand, so scale > 11 means magnitude >= 2^64.
    if (s > 11) {
      raiseFflags(FLAG_NV);
      return sign == 0 ? intMax(kind) : intMin(kind);
    }
    mag = m << (<u64>s);
  } else {
    const n = -s;
    let kept: u64 = 0;
    let rem: u64 = 1;
    let half: u64 = (<u64>1) << 62;
    if (n <= 63) {
      kept = m >> (<u64>n);
      half = (<u64>1) << (<u64>(n - 1));
      rem = m & ((half << 1) - 1);
    }
    mag = kept + (roundsAway(rm, sign, kept, rem, half) ? 1 : 0);
    inexact = rem != 0;
  }
  let ok: bool;
  if (kind == INT_W) ok = mag <= (sign == 0 ? <u64>0x7fff_ffff : <u64>0x8000_0000);
  else if (kind == INT_WU) ok = sign == 0 ? mag <= 0xffff_ffff : mag == 0;
  else if (kind == INT_L) ok = mag <= (sign == 0 ? <u64>0x7fff_ffff_ffff_ffff : <u64>0x8000_0000_0000_0000);
  else ok = sign == 0 || mag == 0;
  if (!ok) {
    raiseFflags(FLAG_NV);
    return sign == 0 ? intMax(kind) : intMin(kind);
  }
  if (inexact) raiseFflags(FLAG_NX);
  if (sign != 0) return 0 - mag;
  if (kind == INT_WU) return <u64>(<i64>(<i32>(<u32>mag)));
  return mag;
}

/**
 * FCVT.{S,D}.{W,WU,L,LU}: converts the x-register value `x` read as integer `kind` (W and WU use the low 32
 * bits) to the target format, rounding with `rm` and raising NX when inexact (RISC-V unprivileged spec §11.7).
 */
export function intToFp(x: u64, kind: u32, rm: u32, dbl: bool): u64 {
  let neg: u32 = 0;
  let mag: u64;
  if (kind == INT_W) {
    const v = <i64>(<i32>(<u32>x));
    if (v < 0) neg = 1;
    mag = neg != 0 ? <u64>(0 - v) : <u64>v;
  } else if (kind == INT_WU) {
    mag = x & 0xffff_ffff;
  } else if (kind == INT_L) {
    if (<i64>x < 0) neg = 1;
    mag = neg != 0 ? 0 - x : x;
  } else {
    mag = x;
  }
  if (mag == 0) return 0;
  return roundPack(neg, 0, mag, rm, dbl);
}

/** FCVT.S.D for a non-NaN f64 pattern: rounds to single with `rm` and flags (RISC-V unprivileged spec §12.5). */
export function doubleToSingle(a: u64, rm: u32): u64 {
  const sign = signOf(a);
  const aa = a & F64_ABS;
  if (aa == F64_INF) return infOf(sign, false);
  if (aa == 0) return zeroOf(sign, false);
  return roundPack(sign, scaleOf(a), sigOf(a), rm, false);
}
