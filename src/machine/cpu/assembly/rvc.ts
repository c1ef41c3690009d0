// Strata hart — the C extension as a table: every 16-bit instruction maps to the 32-bit instruction it expands to
// (RISC-V unprivileged spec ch. 16, "C" Standard Extension, RV64 encodings), so the interpreter decodes compressed
// code with one table load and its single 32-bit decoder. Reserved encodings map to RVC_ILLEGAL.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { RVC_TABLE } from './layout';

// @ts-ignore: decorator
@inline function bit(x: u32, from: u32, to: u32): u32 {
  return ((x >> from) & 1) << to;
}

// @ts-ignore: decorator
@inline function bits(x: u32, hi: u32, lo: u32, to: u32): u32 {
  return ((x >> lo) & ((1 << (hi - lo + 1)) - 1)) << to;
}

/** Sign-extends the low `n` bits of `x`. */
// @ts-ignore: decorator
@inline function sext(x: u32, n: u32): i32 {
  return (<i32>(x << (32 - n))) >> (32 - n);
}

function encI(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return ((<u32>imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

function encS(imm: i32, rs2: u32, rs1: u32, f3: u32, op: u32): u32 {
  const u = <u32>imm;
  return (((u >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((u & 31) << 7) | op;
}

function encR(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

function encB(imm: i32, rs2: u32, rs1: u32, f3: u32): u32 {
  const u = <u32>imm;
  return (
    (((u >> 12) & 1) << 31) |
    (((u >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((u >> 1) & 0xf) << 8) |
    (((u >> 11) & 1) << 7) |
    0x63
  );
}

function encJ(imm: i32, rd: u32): u32 {
  const u = <u32>imm;
  return (
    (((u >> 20) & 1) << 31) |
    (((u >> 1) & 0x3ff) << 21) |
    (((u >> 11) & 1) << 20) |
    (((u >> 12) & 0xff) << 12) |
    (rd << 7) |
    0x6f
  );
}

/** Expands one 16-bit instruction to its 32-bit equivalent, or 0 when it is reserved or not implemented. */
export function expandRvc(c: u32): u32 {
  const op = c & 3;
  const f3 = (c >> 13) & 7;
  const rdFull = (c >> 7) & 31;
  const rs2Full = (c >> 2) & 31;
  const rdP = 8 + ((c >> 2) & 7); // rd' / rs2' in bits 4:2
  const rs1P = 8 + ((c >> 7) & 7); // rs1' / rd' in bits 9:7
  const imm6 = sext(bit(c, 12, 5) | bits(c, 6, 2, 0), 6);
  if (op == 0) {
    switch (f3) {
      case 0: {
        // C.ADDI4SPN: nzuimm[5:4|9:6|2|3]
        const imm = bits(c, 12, 11, 4) | bits(c, 10, 7, 6) | bit(c, 6, 2) | bit(c, 5, 3);
        if (imm == 0) return 0;
        return encI(<i32>imm, 2, 0, rdP, 0x13);
      }
      case 1: // C.FLD
        return encI(<i32>(bits(c, 12, 10, 3) | bits(c, 6, 5, 6)), rs1P, 3, rdP, 0x07);
      case 2: // C.LW
        return encI(<i32>(bits(c, 12, 10, 3) | bit(c, 6, 2) | bit(c, 5, 6)), rs1P, 2, rdP, 0x03);
      case 3: // C.LD
        return encI(<i32>(bits(c, 12, 10, 3) | bits(c, 6, 5, 6)), rs1P, 3, rdP, 0x03);
      case 5: // C.FSD
        return encS(<i32>(bits(c, 12, 10, 3) | bits(c, 6, 5, 6)), rdP, rs1P, 3, 0x27);
      case 6: // C.SW
        return encS(<i32>(bits(c, 12, 10, 3) | bit(c, 6, 2) | bit(c, 5, 6)), rdP, rs1P, 2, 0x23);
      case 7: // C.SD
        return encS(<i32>(bits(c, 12, 10, 3) | bits(c, 6, 5, 6)), rdP, rs1P, 3, 0x23);
      default:
        return 0;
    }
  }
  if (op == 1) {
    switch (f3) {
      case 0: // C.ADDI (rd = 0: C.NOP / hint)
        return encI(imm6, rdFull, 0, rdFull, 0x13);
      case 1: // C.ADDIW (rd = 0 reserved)
        if (rdFull == 0) return 0;
        return encI(imm6, rdFull, 0, rdFull, 0x1b);
      case 2: // C.LI
        return encI(imm6, 0, 0, rdFull, 0x13);
      case 3: {
        if (rdFull == 2) {
          // C.ADDI16SP: nzimm[9|4|6|8:7|5]
          const imm = sext(bit(c, 12, 9) | bit(c, 6, 4) | bit(c, 5, 6) | bits(c, 4, 3, 7) | bit(c, 2, 5), 10);
          if (imm == 0) return 0;
          return encI(imm, 2, 0, 2, 0x13);
        }
        // C.LUI: nzimm[17|16:12]
        if (imm6 == 0) return 0;
        return ((<u32>imm6 << 12) & 0xffff_f000) | (rdFull << 7) | 0x37;
      }
      case 4: {
        const f2 = (c >> 10) & 3;
        const shamt = bit(c, 12, 5) | bits(c, 6, 2, 0);
        if (f2 == 0) return encI(<i32>shamt, rs1P, 5, rs1P, 0x13); // C.SRLI
        if (f2 == 1) return encI(<i32>(shamt | 0x400), rs1P, 5, rs1P, 0x13); // C.SRAI
        if (f2 == 2) return encI(imm6, rs1P, 7, rs1P, 0x13); // C.ANDI
        const f = (c >> 5) & 3;
        if ((c & 0x1000) == 0) {
          if (f == 0) return encR(0x20, rdP, rs1P, 0, rs1P, 0x33); // C.SUB
          if (f == 1) return encR(0, rdP, rs1P, 4, rs1P, 0x33); // C.XOR
          if (f == 2) return encR(0, rdP, rs1P, 6, rs1P, 0x33); // C.OR
          return encR(0, rdP, rs1P, 7, rs1P, 0x33); // C.AND
        }
        if (f == 0) return encR(0x20, rdP, rs1P, 0, rs1P, 0x3b); // C.SUBW
        if (f == 1) return encR(0, rdP, rs1P, 0, rs1P, 0x3b); // C.ADDW
        return 0;
      }
      case 5: {
        // C.J: imm[11|4|9:8|10|6|7|3:1|5]
        const imm = sext(
          bit(c, 12, 11) |
            bit(c, 11, 4) |
            bits(c, 10, 9, 8) |
            bit(c, 8, 10) |
            bit(c, 7, 6) |
            bit(c, 6, 7) |
            bits(c, 5, 3, 1) |
            bit(c, 2, 5),
          12,
        );
        return encJ(imm, 0);
      }
      default: {
        // C.BEQZ / C.BNEZ: imm[8|4:3] in 12:10, imm[7:6|2:1|5] in 6:2
        const imm = sext(bit(c, 12, 8) | bits(c, 11, 10, 3) | bits(c, 6, 5, 6) | bits(c, 4, 3, 1) | bit(c, 2, 5), 9);
        return encB(imm, 0, rs1P, f3 == 6 ? 0 : 1);
      }
    }
  }
  if (op == 2) {
    switch (f3) {
      case 0: // C.SLLI
        return encI(<i32>(bit(c, 12, 5) | bits(c, 6, 2, 0)), rdFull, 1, rdFull, 0x13);
      case 1: // C.FLDSP: uimm[5] in 12, [4:3] in 6:5, [8:6] in 4:2
        return encI(<i32>(bit(c, 12, 5) | bits(c, 6, 5, 3) | bits(c, 4, 2, 6)), 2, 3, rdFull, 0x07);
      case 2: // C.LWSP: uimm[5] in 12, [4:2] in 6:4, [7:6] in 3:2
        if (rdFull == 0) return 0;
        return encI(<i32>(bit(c, 12, 5) | bits(c, 6, 4, 2) | bits(c, 3, 2, 6)), 2, 2, rdFull, 0x03);
      case 3: // C.LDSP
        if (rdFull == 0) return 0;
        return encI(<i32>(bit(c, 12, 5) | bits(c, 6, 5, 3) | bits(c, 4, 2, 6)), 2, 3, rdFull, 0x03);
      case 4:
        if ((c & 0x1000) == 0) {
          if (rs2Full == 0) {
            if (rdFull == 0) return 0; // C.JR with rs1 = 0 is reserved
            return encI(0, rdFull, 0, 0, 0x67); // C.JR
          }
          return encR(0, rs2Full, 0, 0, rdFull, 0x33); // C.MV
        }
        if (rs2Full == 0) {
          if (rdFull == 0) return 0x0010_0073; // C.EBREAK
          return encI(0, rdFull, 0, 1, 0x67); // C.JALR
        }
        return encR(0, rs2Full, rdFull, 0, rdFull, 0x33); // C.ADD
      case 5: // C.FSDSP: uimm[5:3] in 12:10, [8:6] in 9:7
        return encS(<i32>(bits(c, 12, 10, 3) | bits(c, 9, 7, 6)), rs2Full, 2, 3, 0x27);
      case 6: // C.SWSP: uimm[5:2] in 12:9, [7:6] in 8:7
        return encS(<i32>(bits(c, 12, 9, 2) | bits(c, 8, 7, 6)), rs2Full, 2, 2, 0x23);
      default: // C.SDSP
        return encS(<i32>(bits(c, 12, 10, 3) | bits(c, 9, 7, 6)), rs2Full, 2, 3, 0x23);
    }
  }
  return 0;
}

/**
 * What an illegal compressed instruction expands to: opcode 0x1f (the reserved 48-bit prefix) so the interpreter's
 * dense opcode dispatch sends it to the illegal-instruction path.
 */
export const RVC_ILLEGAL: u32 = 0x1f;

/** Fills the expansion table (once, at init). */
export function buildRvcTable(): void {
  for (let c: u32 = 0; c < 0x1_0000; c++) {
    const x = (c & 3) == 3 ? 0 : expandRvc(c);
    store<u32>(RVC_TABLE + ((<usize>c) << 2), x == 0 ? RVC_ILLEGAL : x);
  }
}
