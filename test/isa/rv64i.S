/* RV64I: every integer ALU op (register, immediate and W forms), shifts by
 * 0/31/63 and oversized amounts, LUI/AUIPC, every branch (taken, not taken,
 * signed/unsigned edges), JAL/JALR (link, rd=x0, bit-0 clearing), aligned
 * loads/stores of every width with sign/zero extension, FENCE, and FENCE.I
 * with self-modifying code. Misaligned accesses live in misaligned.S. */
#include "test-macros.h"

/* rd = op(a, b) for a register-register op. */
.macro RR n, op, res, a, b
  TEST \n
  li a0, \a
  li a1, \b
  \op a2, a0, a1
  CHECK a2, \res
.endm

/* rd = op(a, imm) for a register-immediate op. */
.macro RI n, op, res, a, imm
  TEST \n
  li a0, \a
  \op a2, a0, \imm
  CHECK a2, \res
.endm

/* Branch must be taken. */
.macro BT n, op, a, b
  TEST \n
  li a0, \a
  li a1, \b
  \op a0, a1, 1f
  j fail
1:
.endm

/* Branch must not be taken. */
.macro BN n, op, a, b
  TEST \n
  li a0, \a
  li a1, \b
  \op a0, a1, fail
.endm

  TEST_START

  /* ---- ADD / SUB / ADDI (1-8) ---- */
  RR 1, add, 3, 1, 2
  RR 2, add, 0x8000000000000000, 0x7fffffffffffffff, 1     /* wraps */
  RR 3, add, 0, -1, 1
  RR 4, sub, 0xfffffffffffffffe, 3, 5
  RR 5, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
  RI 6, addi, -1, 5, -6
  RI 7, addi, 2048, 1, 2047                                 /* largest imm */
  RI 8, addi, 0xfffffffffffff800, 0, -2048                  /* smallest imm, sign-extended */

  /* ---- SLT / SLTU / SLTI / SLTIU (9-15) ---- */
  RR 9,  slt,  1, -1, 1
  RR 10, slt,  0, 1, -1
  RR 11, sltu, 0, -1, 1
  RR 12, sltu, 1, 1, -1
  RI 13, slti, 1, -5, -4
  RI 14, sltiu, 1, 0, -1                                    /* imm sign-extends to 2^64-1 */
  RI 15, sltiu, 0, 1, 1

  /* ---- AND / OR / XOR and immediates (16-22) ---- */
  RR 16, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  RR 17, or,  0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  RR 18, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  RI 19, andi, 0x123456789abcdef0, 0x123456789abcdef0, -16
  RI 20, andi, 0x6f0, 0x123456789abcdef0, 0x7ff
  RI 21, ori, -1, 0, -1
  RI 22, xori, 0xff00ff00ff00ff00, 0x00ff00ff00ff00ff, -1

  /* ---- 64-bit shifts (23-33) ---- */
  RR 23, sll, 0x8000000000000000, 1, 63
  RR 24, sll, 2, 1, 65                                      /* only low 6 bits of rs2 */
  RR 25, sll, 0x123456789abcdef0, 0x123456789abcdef0, 0
  RR 26, srl, 1, 0x8000000000000000, 63
  RR 27, srl, -1, -1, 0
  RR 28, sra, -1, 0x8000000000000000, 63
  RR 29, sra, 0, 0x7fffffffffffffff, 63
  RI 30, slli, 0x8000000000000000, 1, 63
  RI 31, srli, 1, -1, 63
  RI 32, srai, 0xc000000000000000, 0x8000000000000000, 1
  RI 33, srai, 0x8000000000000000, 0x8000000000000000, 0

  /* ---- W forms: 32-bit result, sign-extended (34-52) ---- */
  RR 34, addw, 0xffffffff80000000, 0x7fffffff, 1
  RR 35, addw, 2, 0x100000001, 0x100000001                 /* upper bits ignored */
  RR 36, subw, -1, 0, 1
  RR 37, subw, 0x7fffffff, 0x80000000, 1
  RI 38, addiw, 0xffffffff80000000, 0x7fffffff, 1
  RI 39, addiw, 0xffffffff80000000, 0x80000000, 0           /* sext.w */
  RI 40, addiw, 5, 0xffffffff00000005, 0
  RR 41, sllw, 0xffffffff80000000, 1, 31
  RR 42, sllw, 1, 1, 32                                     /* only low 5 bits of rs2 */
  RR 43, srlw, 1, 0xffffffff80000000, 31
  RR 44, srlw, 0xffffffff80000000, 0x0000000080000000, 0
  RR 45, sraw, -1, 0x80000000, 31
  RR 46, sraw, 1, 0x1234567800000010, 4
  RI 47, slliw, 0xffffffff80000000, 1, 31
  RI 48, srliw, 1, 0xffffffff80000000, 31
  RI 49, srliw, -1, 0x00000000ffffffff, 0
  RI 50, srliw, 0x7fffffff, -1, 1
  RI 51, sraiw, 0xffffffffc0000000, 0x0000000080000000, 1
  RI 52, sraiw, 0x12345678, 0xabcdef0012345678, 0

  /* ---- LUI / AUIPC (53-56) ---- */
  TEST 53
  lui a0, 0x80000
  CHECK a0, 0xffffffff80000000                              /* sign-extended */
  TEST 54
  lui a0, 0x7ffff
  CHECK a0, 0x7ffff000
  TEST 55
1:auipc a0, 0
  la a1, 1b
  bne a0, a1, fail
  TEST 56
1:auipc a0, 1
  la a1, 1b
  li t0, 0x1000
  add a1, a1, t0
  bne a0, a1, fail

  /* ---- x0 and rd == rs (57-58) ---- */
  TEST 57
  li a0, 123
  add x0, a0, a0
  addi x0, x0, 1
  CHECK x0, 0
  TEST 58
  li a0, 21
  add a0, a0, a0
  CHECK a0, 42

  /* ---- Branches (60-77) ---- */
  BT 60, beq, 5, 5
  BN 61, beq, 5, 6
  BT 62, bne, 5, 6
  BN 63, bne, 5, 5
  BT 64, blt, -1, 0
  BN 65, blt, 0, -1
  BN 66, blt, 7, 7
  BT 67, bge, 0, -1
  BT 68, bge, 7, 7
  BN 69, bge, -1, 0
  BT 70, bltu, 0, -1
  BN 71, bltu, -1, 0
  BT 72, bgeu, -1, 0
  BN 73, bgeu, 0, -1
  BT 74, bgeu, 7, 7
  BT 75, blt, 0x8000000000000000, 0x7fffffffffffffff       /* most negative < most positive */
  BN 76, bltu, 0x8000000000000000, 0x7fffffffffffffff      /* ... but not unsigned */
  TEST 77                                                   /* backward branch loop */
  li a0, 0
  li a1, 3
1:addi a0, a0, 1
  bne a0, a1, 1b
  CHECK a0, 3

  /* ---- JAL / JALR (78-84) ---- */
  TEST 78                                                   /* jal links pc+4 */
  jal a0, 1f
2:j fail
1:la a1, 2b
  bne a0, a1, fail
  TEST 79                                                   /* jal x0 just jumps */
  li a0, 0
  jal x0, 1f
  li a0, 1
1:CHECK a0, 0
  TEST 80                                                   /* jalr with positive offset */
  la a1, 1f
  jalr a0, 8(a1)
2:j fail
1:j fail
  j 3f
3:la a1, 2b
  bne a0, a1, fail
  TEST 81                                                   /* jalr clears bit 0 of target */
  la a1, 1f
  addi a1, a1, 1
  jalr a0, 0(a1)
  j fail
1:la a1, 1b
  addi a1, a1, -4
  bne a0, a1, fail
  TEST 82                                                   /* jalr rd == rs1: target uses old value */
  la a1, 1f
  jalr a1, 0(a1)
2:j fail
1:la a2, 2b
  bne a1, a2, fail
  TEST 83                                                   /* jalr with negative offset */
  la a1, 1f
  jalr a0, -8(a1)
  j fail
  j 2f                                                      /* target: 1f - 8 */
  j fail
1:j fail
2:
  TEST 84                                                   /* jalr x0 (ret-style) */
  la a1, 1f
  li a0, 0
  jalr x0, 0(a1)
  li a0, 1
1:CHECK a0, 0

  /* ---- Loads with sign/zero extension (90-100) ---- */
  la s0, ldata
  TEST 90
  lb a0, 0(s0)
  CHECK a0, 0xffffffffffffff81
  TEST 91
  lbu a0, 0(s0)
  CHECK a0, 0x81
  TEST 92
  lh a0, 0(s0)
  CHECK a0, 0xffffffffffff8281
  TEST 93
  lhu a0, 0(s0)
  CHECK a0, 0x8281
  TEST 94
  lw a0, 0(s0)
  CHECK a0, 0xffffffff84838281
  TEST 95
  lwu a0, 0(s0)
  CHECK a0, 0x84838281
  TEST 96
  ld a0, 0(s0)
  CHECK a0, 0x8887868584838281
  TEST 97                                                   /* positive values: no sign fill */
  lb a0, 8(s0)
  lh a1, 8(s0)
  lw a2, 8(s0)
  CHECK a0, 0x11
  CHECK a1, 0x2211
  CHECK a2, 0x44332211
  TEST 98                                                   /* negative offset */
  addi s1, s0, 16
  lw a0, -4(s1)
  CHECK a0, 0x08776655
  TEST 99                                                   /* offset +2047 */
  la s1, ldata_far
  addi s1, s1, -2047
  ld a0, 2047(s1)
  CHECK a0, 0x0123456789abcdef
  TEST 100                                                  /* lb at odd byte */
  lbu a0, 5(s0)
  CHECK a0, 0x86

  /* ---- Stores of every width, memory checks (101-107) ---- */
  la s0, sdata
  TEST 101
  li a0, -1
  sd a0, 0(s0)
  li a0, 0x5a
  sb a0, 1(s0)
  CHECKMEM sdata, 0xffffffffffff5aff
  TEST 102
  li a0, 0x12345678abcd                                     /* only low 16 bits stored */
  sh a0, 4(s0)
  CHECKMEM sdata, 0xffffabcdffff5aff
  TEST 103
  li a0, 0x1111111122223333
  sw a0, 0(s0)
  CHECKMEM sdata, 0xffffabcd22223333
  TEST 104
  li a0, 0x0102030405060708
  sd a0, 8(s0)
  CHECKMEM sdata, 0x0102030405060708, 8
  CHECKMEM sdata, 0xffffabcd22223333                        /* neighbour untouched */
  TEST 105                                                  /* store with negative offset */
  addi s1, s0, 16
  li a0, 0xee
  sb a0, -1(s1)
  CHECKMEM sdata, 0xee02030405060708, 8
  TEST 106                                                  /* store then load back every width */
  li a0, 0x8000
  sh a0, 16(s0)
  lh a1, 16(s0)
  CHECK a1, 0xffffffffffff8000
  TEST 107
  li a0, 0x80000000
  sw a0, 20(s0)
  lw a1, 20(s0)
  lwu a2, 20(s0)
  CHECK a1, 0xffffffff80000000
  CHECK a2, 0x80000000

  /* ---- FENCE (110) ---- */
  TEST 110
  li a0, 7
  sd a0, 24(s0)
  fence
  fence rw, rw
  fence w, r
  ld a1, 24(s0)
  CHECK a1, 7

  /* ---- FENCE.I with self-modifying code (111-113) ---- */
  TEST 111                                                  /* original code runs */
  jal ra, smc_site
  CHECK a0, 1
  TEST 112                                                  /* patched to addi a0, zero, 42 */
  la a1, smc_site
  li a2, 0x02a00513
  sw a2, 0(a1)
  fence.i
  jal ra, smc_site
  CHECK a0, 42
  TEST 113                                                  /* patched again: addi a0, zero, -3 */
  li a2, 0xffd00513
  sw a2, 0(a1)
  fence.i
  jal ra, smc_site
  CHECK a0, -3

  TEST_END

  .text
  .align 2
smc_site:
  addi a0, zero, 1
  ret

  .data
  .align 4
ldata:
  .byte 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88
  .byte 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08
  .align 4
  .skip 64
ldata_far:
  .dword 0x0123456789abcdef
  .align 4
sdata:
  .skip 32
