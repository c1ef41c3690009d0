// Strata hart — FPU execute unit: the F and D extensions (RISC-V unprivileged spec chapters 11 and 12) for the
// OP-FP and fused multiply-add major opcodes. Loads, stores and the fcsr CSRs belong to the hart.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter. Speed outranks the usual style rules:
// no allocation, no BigInt, illegal instructions are a return code.
//
// Registers hold raw 64-bit patterns. Single-precision operands must be NaN-boxed (upper 32 bits all ones)
// or they read as the canonical NaN, and single-precision results are written NaN-boxed (§12.2). Every NaN
// produced by arithmetic is the canonical NaN (§11.3); sign injection and moves copy bits.
//
// Section numbers (§) refer to the RISC-V unprivileged ISA specification, version 20191213.

import { fpAdd, fpDiv, fpFma, fpMul, fpSqrt } from './fpu-arith';
import { doubleToSingle, fpToInt, intToFp } from './fpu-convert';
import { CANON_NAN_D, CANON_NAN_S, F64_ABS, F64_FRAC, F64_INF, FLAG_NV } from './fpu-round';
import { frm, getF, getX, raiseFflags, setF, setX } from './state';

const OPC_OP_FP: u32 = 0x53;
const OPC_FMSUB: u32 = 0x47;
const OPC_FNMSUB: u32 = 0x4b;
const OPC_FNMADD: u32 = 0x4f;
const BOX: u64 = 0xffff_ffff_0000_0000;

/**
 * The effective rounding mode for rm field `rm`, or 8 when it is reserved (§11.2). Instructions that cannot
 * round (FCVT.D.S, FCVT.D.W) still decode their rm field "as usual", so a reserved rm makes them illegal too.
 */
// @ts-ignore: decorator
@inline function effectiveRm(rm: u32): u32 {
  const r = rm == 7 ? frm : rm;
  return r <= 4 ? r : 8;
}

/** Reads f register `r` as a single: a pattern that is not NaN-boxed is the canonical NaN (§12.2). */
// @ts-ignore: decorator
@inline function readS(r: u32): u32 {
  const v = getF(r);
  return (v >> 32) == 0xffff_ffff ? <u32>v : <u32>CANON_NAN_S;
}

/** Widens a single pattern to the f64 pattern of the same value (exact; callers exclude NaNs). */
// @ts-ignore: decorator
@inline function widen(s: u32): u64 {
  return reinterpret<u64>(<f64>reinterpret<f32>(s));
}

/** NaN tests on raw patterns; a NaN is signaling when the most significant fraction bit is clear (§11.3). */
// @ts-ignore: decorator
@inline function isNaN32(s: u32): bool {
  return (s & 0x7fff_ffff) > 0x7f80_0000;
}

// @ts-ignore: decorator
@inline function isSNaN32(s: u32): bool {
  return isNaN32(s) && (s & 0x0040_0000) == 0;
}

// @ts-ignore: decorator
@inline function isNaN64(d: u64): bool {
  return (d & F64_ABS) > F64_INF;
}

// @ts-ignore: decorator
@inline function isSNaN64(d: u64): bool {
  return isNaN64(d) && (d & 0x0008_0000_0000_0000) == 0;
}

/** Writes a result in the target format: singles NaN-boxed (§12.2). */
// @ts-ignore: decorator
@inline function writeF(rd: u32, bits: u64, dbl: bool): void {
  setF(rd, dbl ? bits : BOX | bits);
}

/** Set by `operand` when an operand read since the caller cleared it was a NaN. */
let opNaN = false;
/** Set by `operand` when an operand read since the caller cleared it was a signaling NaN. */
let opSNaN = false;

/**
 * Operand f register `r` as an f64 pattern (singles widened exactly). A NaN operand sets `opNaN` (and `opSNaN`)
 * and comes back as some NaN pattern: NaN results do not depend on operand payloads (§11.3).
 */
function operand(r: u32, dbl: bool): u64 {
  if (dbl) {
    const d = getF(r);
    if (isNaN64(d)) {
      opNaN = true;
      if (isSNaN64(d)) opSNaN = true;
    }
    return d;
  }
  const s = readS(r);
  if (isNaN32(s)) {
    opNaN = true;
    if (isSNaN32(s)) opSNaN = true;
    return CANON_NAN_D;
  }
  return widen(s);
}

/**
 * Executes one F/D instruction with major opcode OP-FP (0x53) or FMADD/FMSUB/FNMSUB/FNMADD (0x43/47/4b/4f).
 * The hart has checked that mstatus.FS is not Off. Returns 0 when executed, nonzero for an illegal
 * instruction (reserved encodings, H/Q formats, reserved rounding modes), in which case no state changed.
 */
export function fpExecute(insn: u32): i32 {
  const opcode = insn & 0x7f;
  const rd = (insn >> 7) & 31;
  const rmField = (insn >> 12) & 7;
  const rs1 = (insn >> 15) & 31;
  const rs2 = (insn >> 20) & 31;
  if (opcode != OPC_OP_FP) return fused(insn, opcode, rd, rmField, rs1, rs2);
  const funct7 = insn >> 25;
  // fmt 2 (H) and 3 (Q) belong to extensions this hart does not have (§11.6, fmt field).
  if ((funct7 & 2) != 0) return 1;
  const dbl = (funct7 & 1) != 0;
  switch (funct7 >> 2) {
    case 0b00000: // FADD
    case 0b00001: // FSUB
    case 0b00010: // FMUL
    case 0b00011: {
      // FDIV
      const rm = effectiveRm(rmField);
      if (rm > 4) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, dbl);
      const b = operand(rs2, dbl);
      if (opNaN) {
        if (opSNaN) raiseFflags(FLAG_NV);
        writeF(rd, dbl ? CANON_NAN_D : CANON_NAN_S, dbl);
        return 0;
      }
      const op = funct7 >> 2;
      let r: u64;
      if (op == 0) r = fpAdd(a, b, rm, dbl);
      else if (op == 1) r = fpAdd(a, b ^ 0x8000_0000_0000_0000, rm, dbl);
      else if (op == 2) r = fpMul(a, b, rm, dbl);
      else r = fpDiv(a, b, rm, dbl);
      writeF(rd, r, dbl);
      return 0;
    }
    case 0b01011: {
      // FSQRT
      if (rs2 != 0) return 1;
      const rm = effectiveRm(rmField);
      if (rm > 4) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, dbl);
      if (opNaN) {
        if (opSNaN) raiseFflags(FLAG_NV);
        writeF(rd, dbl ? CANON_NAN_D : CANON_NAN_S, dbl);
        return 0;
      }
      writeF(rd, fpSqrt(a, rm, dbl), dbl);
      return 0;
    }
    case 0b00100: {
      // FSGNJ / FSGNJN / FSGNJX (§11.6): pure bit operations, no flags, no NaN canonicalisation. Single
      // operands that are not NaN-boxed still read as the canonical NaN.
      if (rmField > 2) return 1;
      if (dbl) {
        const a = getF(rs1);
        const b = getF(rs2);
        const sb = rmField == 0 ? b : rmField == 1 ? ~b : a ^ b;
        setF(rd, (a & F64_ABS) | (sb & 0x8000_0000_0000_0000));
      } else {
        const a = readS(rs1);
        const b = readS(rs2);
        const sb = rmField == 0 ? b : rmField == 1 ? ~b : a ^ b;
        setF(rd, BOX | <u64>((a & 0x7fff_ffff) | (sb & 0x8000_0000)));
      }
      return 0;
    }
    case 0b00101: {
      // FMIN / FMAX: IEEE 754-2019 minimumNumber/maximumNumber as RISC-V F 2.2 defines them (§11.6): a NaN
      // operand is ignored, two NaNs give the canonical NaN, -0 is less than +0, a signaling NaN raises NV.
      if (rmField > 1) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, dbl);
      const aNaN = opNaN;
      opNaN = false;
      const b = operand(rs2, dbl);
      const bNaN = opNaN;
      if (opSNaN) raiseFflags(FLAG_NV);
      let pickA: bool;
      if (aNaN && bNaN) {
        writeF(rd, dbl ? CANON_NAN_D : CANON_NAN_S, dbl);
        return 0;
      } else if (aNaN) {
        pickA = false;
      } else if (bNaN) {
        pickA = true;
      } else {
        const x = reinterpret<f64>(a);
        const y = reinterpret<f64>(b);
        if (x == y) {
          // Equal values differ only for zeros of opposite sign: min takes the negative one.
          const aNeg = (a >> 63) != 0;
          pickA = rmField == 0 ? aNeg : !aNeg;
        } else {
          pickA = rmField == 0 ? x < y : x > y;
        }
      }
      if (dbl) setF(rd, pickA ? a : b);
      else setF(rd, BOX | <u64>(pickA ? readS(rs1) : readS(rs2)));
      return 0;
    }
    case 0b01000: {
      // FCVT.S.D (fmt S, rs2 = D) and FCVT.D.S (fmt D, rs2 = S) (§12.5).
      if (rs2 != (dbl ? 0 : 1)) return 1;
      const rm = effectiveRm(rmField);
      if (rm > 4) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, !dbl);
      if (opNaN) {
        if (opSNaN) raiseFflags(FLAG_NV);
        writeF(rd, dbl ? CANON_NAN_D : CANON_NAN_S, dbl);
        return 0;
      }
      writeF(rd, dbl ? a : doubleToSingle(a, rm), dbl);
      return 0;
    }
    case 0b10100: {
      // FLE (rm 0), FLT (1), FEQ (2) (§11.8): FEQ is a quiet comparison (NV only for signaling NaNs), FLT and
      // FLE are signaling (NV for any NaN). A NaN operand gives 0.
      if (rmField > 2) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, dbl);
      const b = operand(rs2, dbl);
      if (opNaN) {
        if (opSNaN || rmField != 2) raiseFflags(FLAG_NV);
        setX(rd, 0);
        return 0;
      }
      const x = reinterpret<f64>(a);
      const y = reinterpret<f64>(b);
      const t = rmField == 2 ? x == y : rmField == 1 ? x < y : x <= y;
      setX(rd, t ? 1 : 0);
      return 0;
    }
    case 0b11000: {
      // FCVT.W/WU/L/LU.S/D (§11.7, §12.5).
      if (rs2 > 3) return 1;
      const rm = effectiveRm(rmField);
      if (rm > 4) return 1;
      opNaN = false;
      opSNaN = false;
      const a = operand(rs1, dbl);
      setX(rd, fpToInt(a, opNaN, rs2, rm));
      return 0;
    }
    case 0b11010: {
      // FCVT.S/D.W/WU/L/LU (§11.7, §12.5).
      if (rs2 > 3) return 1;
      const rm = effectiveRm(rmField);
      if (rm > 4) return 1;
      writeF(rd, intToFp(getX(rs1), rs2, rm, dbl), dbl);
      return 0;
    }
    case 0b11100: {
      // FMV.X.W / FMV.X.D (rm 0) and FCLASS (rm 1) (§11.7, §11.9, §12.5, §12.7).
      if (rs2 != 0) return 1;
      if (rmField == 0) {
        const v = getF(rs1);
        // FMV.X.W copies the low 32 bits whatever the boxing and sign-extends them (§11.7).
        setX(rd, dbl ? v : <u64>(<i64>(<i32>(<u32>v))));
        return 0;
      }
      if (rmField != 1) return 1;
      if (dbl) {
        const d = getF(rs1);
        setX(rd, classify((d >> 63) != 0, (d >> 52) & 0x7ff, d & F64_FRAC, 0x7ff, 0x0008_0000_0000_0000));
      } else {
        const s = readS(rs1);
        setX(rd, classify((s >> 31) != 0, <u64>((s >> 23) & 0xff), <u64>(s & 0x7f_ffff), 0xff, 0x40_0000));
      }
      return 0;
    }
    case 0b11110: {
      // FMV.W.X / FMV.D.X (§11.7, §12.5): bits move unchanged; a single is NaN-boxed.
      if (rs2 != 0 || rmField != 0) return 1;
      const v = getX(rs1);
      setF(rd, dbl ? v : BOX | (v & 0xffff_ffff));
      return 0;
    }
  }
  return 1;
}

/**
 * FMADD/FMSUB/FNMSUB/FNMADD (§11.6): rs1*rs2 with the product and/or rs3 negated, one rounding. The fmt field
 * sits in bits 26:25, rs3 in 31:27.
 */
function fused(insn: u32, opcode: u32, rd: u32, rmField: u32, rs1: u32, rs2: u32): i32 {
  const fmt = (insn >> 25) & 3;
  if (fmt > 1) return 1;
  const dbl = fmt == 1;
  const rm = effectiveRm(rmField);
  if (rm > 4) return 1;
  const rs3 = insn >> 27;
  opNaN = false;
  opSNaN = false;
  let a = operand(rs1, dbl);
  const b = operand(rs2, dbl);
  let c = operand(rs3, dbl);
  // §11.6: infinity times zero is invalid even when the addend is a quiet NaN.
  const infZero =
    ((a & F64_ABS) == F64_INF && (b & F64_ABS) == 0) || ((a & F64_ABS) == 0 && (b & F64_ABS) == F64_INF);
  if (opNaN || infZero) {
    // A NaN operand never matches the infinity or zero patterns (single NaNs were replaced by the f64 NaN).
    if (opSNaN || infZero) raiseFflags(FLAG_NV);
    writeF(rd, dbl ? CANON_NAN_D : CANON_NAN_S, dbl);
    return 0;
  }
  // FNMSUB = -(rs1*rs2) + rs3 and FNMADD = -(rs1*rs2) - rs3: negating the operands (not the result) keeps the
  // IEEE sign rules for exact zero sums and the rounding direction of the whole operation.
  if (opcode == OPC_FNMSUB || opcode == OPC_FNMADD) a ^= 0x8000_0000_0000_0000;
  if (opcode == OPC_FMSUB || opcode == OPC_FNMADD) c ^= 0x8000_0000_0000_0000;
  writeF(rd, fpFma(a, b, c, rm, dbl), dbl);
  return 0;
}

/**
 * FCLASS mask (§11.9, Table 11.5): bit 0 -inf, 1 negative normal, 2 negative subnormal, 3 -0, 4 +0, 5 positive
 * subnormal, 6 positive normal, 7 +inf, 8 signaling NaN, 9 quiet NaN. `expMax` is the all-ones exponent field
 * and `quiet` the quiet bit of the format; `exp` and `frac` are the fields of the operand.
 */
// @ts-ignore: decorator
@inline function classify(neg: bool, exp: u64, frac: u64, expMax: u64, quiet: u64): u64 {
  if (exp == expMax) {
    if (frac == 0) return neg ? 1 : 1 << 7;
    return (frac & quiet) != 0 ? 1 << 9 : 1 << 8;
  }
  if (exp == 0) {
    if (frac == 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}
