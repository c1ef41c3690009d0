// Strata hart — FPU arithmetic: add, multiply, divide, square root and fused multiply-add with one rounding, in
// every RISC-V rounding mode, with exact exception flags.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter. No allocation, no BigInt.
//
// Operands arrive as f64 bit patterns that are not NaN (the caller has dealt with NaNs, whose handling depends
// on the source format); single-precision operands were widened exactly. Results are bit patterns in the
// target format (`dbl` false: single in the low 32 bits). For add, multiply, divide and square root,
// round-to-nearest-even uses WebAssembly's native arithmetic plus an exact error term for the inexact flag
// (TwoSum, a 128-bit integer product, the product q*b, q*q); the other modes, results near the subnormal or
// overflow range, and the fused multiply-add use integer arithmetic with a sticky bit and one final rounding.

import {
  canonNaN,
  F64_ABS,
  F64_INF,
  FLAG_DZ,
  FLAG_NV,
  FLAG_NX,
  FLAG_OF,
  infOf,
  mul128,
  RM_RDN,
  RM_RNE,
  RM_RTZ,
  RM_RUP,
  roundPack,
  scaleOf,
  shiftRightJam,
  shiftRightJam128,
  sigOf,
  signOf,
  wideHi,
  wideLo,
  zeroOf,
} from './fpu-round';
import { raiseFflags } from './state';

/** Largest biased exponent for which the native add path's error term cannot overflow. */
const FAST_ADD_MAX_EXP: u64 = 0x7fc;

/** Sum of two nonzero finite magnitudes `ma * 2^ea` and `mb * 2^eb` with signs, rounded once. */
function addCore(sa: u32, ea: i32, ma: u64, sb: u32, eb: i32, mb: u64, rm: u32, dbl: bool): u64 {
  // Both significands come from f64 (at most 53 bits), so after placing the leading one at bit 62 the low ten
  // bits are zero and an alignment shift of one bit is exact: cancellation never meets a sticky bit.
  const la = <i32>clz(ma) - 1;
  ma <<= <u64>la;
  ea -= la;
  const lb = <i32>clz(mb) - 1;
  mb <<= <u64>lb;
  eb -= lb;
  if (ea < eb) {
    const ts = sa;
    sa = sb;
    sb = ts;
    const te = ea;
    ea = eb;
    eb = te;
    const tm = ma;
    ma = mb;
    mb = tm;
  }
  mb = shiftRightJam(mb, ea - eb);
  if (sa == sb) return roundPack(sa, ea, ma + mb, rm, dbl);
  // IEEE 754-2019 §6.3: an exact zero sum of opposite-signed operands is +0, except -0 when rounding down.
  if (ma == mb) return zeroOf(rm == RM_RDN ? 1 : 0, dbl);
  if (ma > mb) return roundPack(sa, ea, ma - mb, rm, dbl);
  return roundPack(sb, ea, mb - ma, rm, dbl);
}

/** `a + b` for non-NaN f64 patterns, rounded to the target format under `rm` with flags. */
export function fpAdd(a: u64, b: u64, rm: u32, dbl: bool): u64 {
  const sa = signOf(a);
  const sb = signOf(b);
  const aa = a & F64_ABS;
  const ab = b & F64_ABS;
  if (rm == RM_RNE && aa >> 52 <= FAST_ADD_MAX_EXP && ab >> 52 <= FAST_ADD_MAX_EXP) {
    // Native RNE sum; TwoSum (Knuth) gives the exact error, zero iff the sum is exact. Operands are bounded
    // so that no intermediate overflows; sums that land in the subnormal range are always exact.
    const x = reinterpret<f64>(a);
    const y = reinterpret<f64>(b);
    if (dbl) {
      const s = x + y;
      const bv = s - x;
      const err = x - (s - bv) + (y - bv);
      if (err != 0) raiseFflags(FLAG_NX);
      return reinterpret<u64>(s);
    }
    // Single: the f32 sum is correctly rounded natively; it is exact iff the f64 sum is exact and equal to it.
    const r = <f32>x + <f32>y;
    const s = x + y;
    const bv = s - x;
    const err = x - (s - bv) + (y - bv);
    const inf = abs<f32>(r) == Infinity;
    if (inf) raiseFflags(FLAG_OF | FLAG_NX);
    else if (err != 0 || <f64>r != s) raiseFflags(FLAG_NX);
    return <u64>reinterpret<u32>(r);
  }
  if (aa == F64_INF) {
    if (ab == F64_INF && sa != sb) {
      raiseFflags(FLAG_NV);
      return canonNaN(dbl);
    }
    return infOf(sa, dbl);
  }
  if (ab == F64_INF) return infOf(sb, dbl);
  if (aa == 0) {
    if (ab == 0) return zeroOf(sa == sb ? sa : rm == RM_RDN ? 1 : 0, dbl);
    return roundPack(sb, scaleOf(b), sigOf(b), rm, dbl);
  }
  if (ab == 0) return roundPack(sa, scaleOf(a), sigOf(a), rm, dbl);
  return addCore(sa, scaleOf(a), sigOf(a), sb, scaleOf(b), sigOf(b), rm, dbl);
}

/** Product of nonzero integer significands `ma * mb * 2^scale`, rounded once. */
function mulCore(sign: u32, scale: i32, ma: u64, mb: u64, rm: u32, dbl: bool): u64 {
  mul128(ma, mb);
  const hi = wideHi;
  const lo = wideLo;
  if (hi == 0) return roundPack(sign, scale, lo, rm, dbl);
  const lz = <i32>clz(hi);
  let sig: u64;
  if (lz == 0) sig = hi | (lo != 0 ? 1 : 0);
  else sig = (hi << (<u64>lz)) | (lo >> (<u64>(64 - lz))) | ((lo << (<u64>lz)) != 0 ? 1 : 0);
  return roundPack(sign, scale + 64 - lz, sig, rm, dbl);
}

/** Whether the 128-bit `wideHi:wideLo` equals `m * 2^k`; false for k outside 0..63. */
// @ts-ignore: decorator
@inline function wideEquals(m: u64, k: i32): bool {
  if (k < 0 || k > 63) return false;
  const hi: u64 = k == 0 ? 0 : m >> (<u64>(64 - k));
  return wideHi == hi && wideLo == m << (<u64>k);
}

/**
 * True when a native RNE result `q` (f64 pattern, or f32 pattern for singles) is a normal number above the
 * smallest normal: then no overflow happened and the result is not tiny even with tininess detected after
 * rounding, so NX is the only flag left to decide.
 */
// @ts-ignore: decorator
@inline function safeNormal(q: u64, dbl: bool): bool {
  if (dbl) {
    const e = (q >> 52) & 0x7ff;
    return e > 1 && e < 0x7ff;
  }
  const m = q & 0x7fff_ffff;
  return m > 0x0080_0000 && m < 0x7f80_0000;
}

/** `a * b` for non-NaN f64 patterns, rounded to the target format under `rm` with flags. */
export function fpMul(a: u64, b: u64, rm: u32, dbl: bool): u64 {
  if (rm == RM_RNE) {
    // Native product; exact iff the 106-bit (single: 48-bit, exact in double) product equals it.
    const x = reinterpret<f64>(a);
    const y = reinterpret<f64>(b);
    if (dbl) {
      const qb = reinterpret<u64>(x * y);
      if (safeNormal(qb, true)) {
        mul128(sigOf(a), sigOf(b));
        if (!wideEquals(sigOf(qb), scaleOf(qb) - scaleOf(a) - scaleOf(b))) raiseFflags(FLAG_NX);
        return qb;
      }
    } else {
      const q = <f32>x * <f32>y;
      const qb = <u64>reinterpret<u32>(q);
      if (safeNormal(qb, false)) {
        if (<f64>q != x * y) raiseFflags(FLAG_NX);
        return qb;
      }
    }
  }
  const sign = signOf(a) ^ signOf(b);
  const aa = a & F64_ABS;
  const ab = b & F64_ABS;
  if (aa == F64_INF || ab == F64_INF) {
    // IEEE 754-2019 §7.2: infinity times zero is invalid.
    if (aa == 0 || ab == 0) {
      raiseFflags(FLAG_NV);
      return canonNaN(dbl);
    }
    return infOf(sign, dbl);
  }
  if (aa == 0 || ab == 0) return zeroOf(sign, dbl);
  return mulCore(sign, scaleOf(a) + scaleOf(b), sigOf(a), sigOf(b), rm, dbl);
}

/** `a / b` for non-NaN f64 patterns, rounded to the target format under `rm` with flags. */
export function fpDiv(a: u64, b: u64, rm: u32, dbl: bool): u64 {
  const sign = signOf(a) ^ signOf(b);
  const aa = a & F64_ABS;
  const ab = b & F64_ABS;
  if (aa == F64_INF) {
    if (ab == F64_INF) {
      raiseFflags(FLAG_NV);
      return canonNaN(dbl);
    }
    return infOf(sign, dbl);
  }
  if (ab == F64_INF) return zeroOf(sign, dbl);
  if (ab == 0) {
    // IEEE 754-2019 §7.2 / §7.3: 0/0 is invalid, finite/0 divides by zero.
    if (aa == 0) {
      raiseFflags(FLAG_NV);
      return canonNaN(dbl);
    }
    raiseFflags(FLAG_DZ);
    return infOf(sign, dbl);
  }
  if (aa == 0) return zeroOf(sign, dbl);
  if (rm == RM_RNE) {
    // Native quotient; exact iff q * b == a exactly (single: that product is exact in double).
    const x = reinterpret<f64>(a);
    const y = reinterpret<f64>(b);
    if (dbl) {
      const qb = reinterpret<u64>(x / y);
      if (safeNormal(qb, true)) {
        let mx = sigOf(a);
        const lx = <i32>clz(mx) - 11;
        mx <<= <u64>lx;
        mul128(sigOf(qb), sigOf(b));
        if (!wideEquals(mx, scaleOf(a) - lx - scaleOf(qb) - scaleOf(b))) raiseFflags(FLAG_NX);
        return qb;
      }
    } else {
      const q = <f32>x / <f32>y;
      const qb = <u64>reinterpret<u32>(q);
      if (safeNormal(qb, false)) {
        if (<f64>q * y != x) raiseFflags(FLAG_NX);
        return qb;
      }
    }
  }
  // Long division, 11 quotient bits per step, with both significands normalised to 53 bits so that the
  // shifted remainder always fits in 64 bits. The quotient gets 55 or 56 bits plus a sticky bit.
  let ma = sigOf(a);
  let ea = scaleOf(a);
  const la = <i32>clz(ma) - 11;
  ma <<= <u64>la;
  ea -= la;
  let mb = sigOf(b);
  let eb = scaleOf(b);
  const lb = <i32>clz(mb) - 11;
  mb <<= <u64>lb;
  eb -= lb;
  let q: u64 = 0;
  let r = ma;
  if (r >= mb) {
    q = 1;
    r -= mb;
  }
  for (let i = 0; i < 5; i++) {
    r <<= 11;
    const d = r / mb;
    q = (q << 11) | d;
    r -= d * mb;
  }
  if (r != 0) q |= 1;
  return roundPack(sign, ea - eb - 55, q, rm, dbl);
}

/** Square root of a non-NaN f64 pattern, rounded to the target format under `rm` with flags. */
export function fpSqrt(a: u64, rm: u32, dbl: bool): u64 {
  const aa = a & F64_ABS;
  if (aa == 0) return dbl ? a : (a >> 32) & 0x8000_0000;
  if (signOf(a) != 0) {
    // IEEE 754-2019 §9.2: the square root of a number below zero is invalid (but sqrt(-0) is -0).
    raiseFflags(FLAG_NV);
    return canonNaN(dbl);
  }
  if (aa == F64_INF) return infOf(0, dbl);
  // The native square root is correctly rounded to nearest, and a square root is never exactly halfway between
  // two floating-point numbers, so RNE and RMM are done; comparing q*q with a exactly tells the direction of
  // the error for the directed modes and whether it is inexact.
  let cmp: i32;
  let qb: u64;
  if (dbl) {
    const q = sqrt<f64>(reinterpret<f64>(a));
    qb = reinterpret<u64>(q);
    let mx = sigOf(a);
    let ex = scaleOf(a);
    const lx = <i32>clz(mx) - 11;
    mx <<= <u64>lx;
    ex -= lx;
    const mq = sigOf(qb);
    mul128(mq, mq);
    // a = mx * 2^ex = (mx << k) * 2^(2*eq); k lies in 51..54 because q*q is within an ulp of a.
    const k = ex - 2 * scaleOf(qb);
    const xh = mx >> (<u64>(64 - k));
    const xl = mx << (<u64>k);
    cmp = wideHi > xh || (wideHi == xh && wideLo > xl) ? 1 : wideHi == xh && wideLo == xl ? 0 : -1;
  } else {
    const x = reinterpret<f64>(a);
    const q = sqrt<f32>(<f32>x);
    qb = <u64>reinterpret<u32>(q);
    const q2 = <f64>q * <f64>q;
    cmp = q2 > x ? 1 : q2 < x ? -1 : 0;
  }
  if (cmp != 0) {
    raiseFflags(FLAG_NX);
    if (cmp > 0 && (rm == RM_RTZ || rm == RM_RDN)) qb--;
    else if (cmp < 0 && rm == RM_RUP) qb++;
  }
  return qb;
}

/**
 * Fused `a * b + c` for non-NaN f64 patterns (signs already adjusted for the FMSUB/FNMSUB/FNMADD variants),
 * rounded once to the target format (RISC-V unprivileged spec §11.6). The caller has handled the invalid
 * combinations involving infinities and NaNs.
 */
export function fpFma(a: u64, b: u64, c: u64, rm: u32, dbl: bool): u64 {
  const sp = signOf(a) ^ signOf(b);
  const sc = signOf(c);
  const aa = a & F64_ABS;
  const ab = b & F64_ABS;
  const ac = c & F64_ABS;
  if (aa == F64_INF || ab == F64_INF) {
    if (ac == F64_INF && sc != sp) {
      raiseFflags(FLAG_NV);
      return canonNaN(dbl);
    }
    return infOf(sp, dbl);
  }
  if (ac == F64_INF) return infOf(sc, dbl);
  if (aa == 0 || ab == 0) {
    if (ac == 0) return zeroOf(sp == sc ? sp : rm == RM_RDN ? 1 : 0, dbl);
    return roundPack(sc, scaleOf(c), sigOf(c), rm, dbl);
  }
  if (!dbl) {
    // The product of two singles is exact in double (48 bits, exponent in range), so one rounding of the sum
    // of that product and c is the fused result.
    const p = reinterpret<f64>(a) * reinterpret<f64>(b);
    if (ac == 0) return roundPack(sp, scaleOf(reinterpret<u64>(p)), sigOf(reinterpret<u64>(p)), rm, false);
    const pb = reinterpret<u64>(p);
    return addCore(sp, scaleOf(pb), sigOf(pb), sc, scaleOf(c), sigOf(c), rm, false);
  }
  if (ac == 0) return mulCore(sp, scaleOf(a) + scaleOf(b), sigOf(a), sigOf(b), rm, true);
  // Double: exact 106-bit product and the addend, both placed with their leading one at bit 125 of a 128-bit
  // word, aligned with a sticky shift, added or subtracted, then reduced to 64 bits with a sticky bit.
  let ma = sigOf(a);
  let ea = scaleOf(a);
  const la = <i32>clz(ma) - 11;
  ma <<= <u64>la;
  ea -= la;
  let mb = sigOf(b);
  let eb = scaleOf(b);
  const lb = <i32>clz(mb) - 11;
  mb <<= <u64>lb;
  eb -= lb;
  mul128(ma, mb);
  let ph = wideHi;
  let pl = wideLo;
  const sh = <i32>clz(ph) - 2;
  ph = (ph << (<u64>sh)) | (pl >> (<u64>(64 - sh)));
  pl <<= <u64>sh;
  let scaleP = ea + eb - sh;
  let mc = sigOf(c);
  let ec = scaleOf(c);
  const lc = <i32>clz(mc) - 11;
  mc <<= <u64>lc;
  ec -= lc;
  let ch = mc << 9;
  let cl: u64 = 0;
  const scaleC = ec - 73;
  let scale: i32;
  if (scaleP >= scaleC) {
    shiftRightJam128(ch, cl, scaleP - scaleC);
    ch = wideHi;
    cl = wideLo;
    scale = scaleP;
  } else {
    shiftRightJam128(ph, pl, scaleC - scaleP);
    ph = wideHi;
    pl = wideLo;
    scale = scaleC;
  }
  let rh: u64;
  let rl: u64;
  let sign: u32;
  if (sp == sc) {
    rl = pl + cl;
    rh = ph + ch + (rl < pl ? 1 : 0);
    sign = sp;
  } else if (ph > ch || (ph == ch && pl >= cl)) {
    rl = pl - cl;
    rh = ph - ch - (pl < cl ? 1 : 0);
    sign = sp;
  } else {
    rl = cl - pl;
    rh = ch - ph - (cl < pl ? 1 : 0);
    sign = sc;
  }
  if (rh == 0) {
    if (rl == 0) return zeroOf(rm == RM_RDN ? 1 : 0, true);
    return roundPack(sign, scale, rl, rm, true);
  }
  const lz = <i32>clz(rh);
  let sig: u64;
  if (lz == 0) sig = rh | (rl != 0 ? 1 : 0);
  else sig = (rh << (<u64>lz)) | (rl >> (<u64>(64 - lz))) | ((rl << (<u64>lz)) != 0 ? 1 : 0);
  return roundPack(sign, scale + 64 - lz, sig, rm, true);
}
