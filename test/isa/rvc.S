/* RV64C: every compressed instruction, written as explicit c.* mnemonics
 * under .option rvc, each checked by its result: C.ADDI4SPN, C.FLD/C.FSD,
 * C.LW/C.SW, C.LD/C.SD, C.NOP, C.ADDI, C.ADDIW, C.LI, C.ADDI16SP, C.LUI,
 * C.SRLI, C.SRAI, C.ANDI, C.SUB, C.XOR, C.OR, C.AND, C.SUBW, C.ADDW, C.J,
 * C.BEQZ, C.BNEZ, C.SLLI, C.FLDSP/C.FSDSP, C.LWSP/C.SWSP, C.LDSP/C.SDSP,
 * C.JR, C.MV, C.EBREAK, C.JALR (link = pc + 2), C.ADD. RV64 has no C.JAL.
 * Also: 32-bit instructions at 2-mod-4 addresses, a 4-byte instruction that
 * straddles a page boundary, the all-zero 16-bit illegal instruction and
 * reserved encodings (C.ADDI16SP/C.LUI imm 0, C.LWSP/C.LDSP rd 0, C.JR rs1 0)
 * trapping with mtval = the 16-bit instruction. */
#include "test-macros.h"

/* A reserved 16-bit encoding must raise illegal instruction with mtval = bits. */
.macro RESERVED n, bits
  TEST \n
  EXPECT_TRAP 82f
81:.2byte \bits
  j fail
82:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 81b
  CHECK_TVAL \bits
.endm

  TEST_START
  .option rvc

  /* ---- constants and immediates (1-9) ---- */
  TEST 1
  c.li a0, -32
  CHECK a0, -32
  c.li a0, 31
  CHECK a0, 31
  TEST 2
  c.li a0, 5
  c.addi a0, -6
  CHECK a0, -1
  c.addi a0, 31
  CHECK a0, 30
  TEST 3                                     /* C.ADDIW sign-extends */
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHECK a0, 0xffffffff80000000
  li a0, 0x1ffffffff
  c.addiw a0, 0                              /* sext.w */
  CHECK a0, -1
  TEST 4                                     /* C.LUI */
  c.lui a0, 1
  CHECK a0, 0x1000
  c.lui a0, 0xfffff
  CHECK a0, 0xfffffffffffff000
  c.lui a0, 0x1f
  CHECK a0, 0x1f000
  TEST 5                                     /* C.ADDI16SP */
  mv s1, sp
  c.addi16sp sp, -64
  sub a0, s1, sp
  CHECK a0, 64
  c.addi16sp sp, 496
  sub a0, sp, s1
  CHECK a0, 432
  mv sp, s1
  TEST 6                                     /* C.ADDI4SPN */
  c.addi4spn a0, sp, 8
  sub a0, a0, sp
  CHECK a0, 8
  c.addi4spn a1, sp, 1020
  sub a1, a1, sp
  CHECK a1, 1020
  TEST 7                                     /* C.NOP, C.MV, C.ADD */
  li a0, 3
  li a1, 4
  c.nop
  c.mv a0, a1
  CHECK a0, 4
  c.add a0, a1
  CHECK a0, 8
  li t0, 100
  c.add t0, a0                               /* full register set */
  CHECK t0, 108
  TEST 8                                     /* C.SUB/XOR/OR/AND */
  li a0, 0xff00
  li a1, 0x0ff0
  c.sub a0, a1
  CHECK a0, 0xef10
  li a0, 0xff00
  c.xor a0, a1
  CHECK a0, 0xf0f0
  li a0, 0xff00
  c.or a0, a1
  CHECK a0, 0xfff0
  li a0, 0xff00
  c.and a0, a1
  CHECK a0, 0x0f00
  TEST 9                                     /* C.ADDW / C.SUBW sign-extend */
  li a0, 0x7fffffff
  li a1, 1
  c.addw a0, a1
  CHECK a0, 0xffffffff80000000
  li a0, 0x100000000
  c.subw a0, a1
  CHECK a0, -1

  /* ---- shifts and C.ANDI (10-13) ---- */
  TEST 10
  li a0, -1
  c.srli a0, 63
  CHECK a0, 1
  TEST 11
  li a0, 0x8000000000000000
  c.srai a0, 63
  CHECK a0, -1
  li a0, -16
  c.srai a0, 2
  CHECK a0, -4
  TEST 12
  li t1, 1
  c.slli t1, 63
  CHECK t1, 0x8000000000000000
  TEST 13
  li a0, 0x12345
  c.andi a0, -2
  CHECK a0, 0x12344
  li a0, 0x12345
  c.andi a0, 0x1f
  CHECK a0, 0x5

  /* ---- loads/stores (14-19), with memory checks ---- */
  la s0, cbuf
  addi sp, sp, -1024                         /* sp-relative tests stay inside the stack */
  TEST 14                                    /* C.SW / C.LW (sign-extending) */
  li a0, 0x80000001
  c.sw a0, 4(s0)
  c.lw a1, 4(s0)
  CHECK a1, 0xffffffff80000001
  CHECKMEM cbuf, 0x8000000100000000
  TEST 15                                    /* C.SD / C.LD, largest offset */
  li a0, 0x1122334455667788
  c.sd a0, 248(s0)
  c.ld a1, 248(s0)
  CHECK a1, 0x1122334455667788
  CHECKMEM cbuf, 0x1122334455667788, 248
  TEST 16                                    /* C.SWSP / C.LWSP */
  li a0, 0xfedcba98
  c.swsp a0, 12(sp)
  c.lwsp a2, 12(sp)
  CHECK a2, 0xfffffffffedcba98
  TEST 17                                    /* C.SDSP / C.LDSP */
  li a0, 0x0123456789abcdef
  c.sdsp a0, 504(sp)
  c.ldsp t2, 504(sp)
  CHECK t2, 0x0123456789abcdef
  ld a1, 504(sp)
  CHECK a1, 0x0123456789abcdef
  TEST 18                                    /* C.FSD / C.FLD */
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  li a0, 0x400921fb54442d18
  fmv.d.x fa0, a0
  c.fsd fa0, 16(s0)
  c.fld fa1, 16(s0)
  CHECKD fa1, 0x400921fb54442d18
  CHECKMEM cbuf, 0x400921fb54442d18, 16
  TEST 19                                    /* C.FSDSP / C.FLDSP */
  c.fsdsp fa0, 256(sp)
  c.fldsp ft3, 256(sp)
  CHECKD ft3, 0x400921fb54442d18
  addi sp, sp, 1024

  /* ---- control flow (20-27) ---- */
  TEST 20                                    /* C.J forward and backward */
  li a0, 0
  c.j 2f
1:c.addi a0, 1
  c.j 3f
2:c.addi a0, 2
  c.j 1b
3:CHECK a0, 3
  TEST 21                                    /* C.BEQZ taken / not taken */
  li a0, 0
  c.beqz a0, 1f
  j fail
1:li a0, 1
  c.beqz a0, fail
  TEST 22                                    /* C.BNEZ taken / not taken */
  li a0, -1
  c.bnez a0, 1f
  j fail
1:li a0, 0
  c.bnez a0, fail
  TEST 23                                    /* C.JR */
  la t0, 1f
  li a0, 0
  c.jr t0
  li a0, 1
1:CHECK a0, 0
  TEST 24                                    /* C.JALR links pc + 2 */
  la t0, 2f
  c.jalr t0
1:j fail
2:la a1, 1b
  bne ra, a1, fail
  TEST 25                                    /* C.JALR to a routine and back */
  la t0, cfunc
  li a0, 1
  c.jalr t0
  CHECK a0, 2
  TEST 26                                    /* 32-bit instructions at 2 mod 4 */
  .balign 4
  c.nop
  addi a0, zero, 77                          /* at 4n + 2 */
  CHECK a0, 77
  TEST 27                                    /* jump to a 2-mod-4 target */
  la t0, 1f
  jalr x0, 0(t0)
  j fail
  .balign 4
  c.nop
1:li a0, 5
  CHECK a0, 5

  /* ---- traps (28-30) ---- */
  TEST 28                                    /* C.EBREAK: cause 3, mepc = it */
  EXPECT_TRAP 2f
1:c.ebreak
  j fail
2:CHECK_CAUSE CAUSE_BREAKPOINT
  CHECK_EPC 1b
  TEST 29                                    /* 0x0000 is illegal, mtval = 0 */
  EXPECT_TRAP 2f
1:.2byte 0
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 1b
  CHECK_TVAL 0
  /* reserved encodings: illegal, mtval = the 16 instruction bits (31-35) */
  RESERVED 31, 0x6101                        /* C.ADDI16SP with imm = 0 */
  RESERVED 32, 0x6501                        /* C.LUI a0 with imm = 0 */
  RESERVED 33, 0x4002                        /* C.LWSP with rd = x0 */
  RESERVED 34, 0x6002                        /* C.LDSP with rd = x0 */
  RESERVED 35, 0x8002                        /* C.JR with rs1 = x0 */
  TEST 30                                    /* 4-byte instruction across a page boundary */
  li a0, 1
  jal ra, straddle
  CHECK a0, 8

  TEST_END

  .text
cfunc:
  c.addi a0, 1
  c.jr ra

  .balign 4096
  .skip 4094
straddle:                                    /* bytes 0xffe..0x1001 of a page */
  .option norvc
  addi a0, a0, 7
  ret

  .data
  .align 4
cbuf:
  .skip 256
