/* Zicsr + Zicntr: CSRRW/CSRRS/CSRRC and their immediate forms (old value
 * returned, bits written), write suppression (CSRRS/CSRRC with rs1 = x0 or
 * uimm = 0 do not write, so they may read read-only CSRs; CSRRW always
 * writes), read-only CSR writes and unknown CSRs -> illegal instruction with
 * mtval = the instruction, CSR privilege checks, misa/mhartid, sstatus as a
 * view of mstatus, cycle/instret/time counting, and mcounteren/scounteren
 * gating from S and U.
 *
 * Not tested: CSRRS/CSRRC with rs1 != x0 holding the value 0 on a read-only
 * CSR. The spec calls that a write (illegal instruction); QEMU 7.2 decides
 * on the runtime value and does not trap, so the oracle cannot confirm it.
 *
 * time: QEMU's spike machine provides no `time` CSR source (reading it traps
 * as illegal); Strata provides one. Test 30 probes it: if rdtime traps it must
 * trap with cause 2 every time; if it reads, it must lie between two reads
 * of the CLINT mtime. The CLINT mtime itself must advance either way. */
#include "test-macros.h"

/* Expect the instruction at label `insn` to trap as illegal with mtval = its bits. */
.macro CHECK_ILLEGAL_AT insn
  CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC \insn
  la t5, \insn
  lwu t5, 0(t5)
  la t6, trap_info
  ld t6, 16(t6)
  bne t5, t6, fail
.endm

  TEST_START

  /* ---- read/modify/write forms (1-9) ---- */
  TEST 1                                   /* CSRRW swaps */
  li a1, 0x1234
  csrw mscratch, a1
  li a1, 0x5678
  csrrw a0, mscratch, a1
  CHECK a0, 0x1234
  csrr a0, mscratch
  CHECK a0, 0x5678
  TEST 2                                   /* CSRRS sets, returns old */
  li a1, 0x0f0f
  csrrs a0, mscratch, a1
  CHECK a0, 0x5678
  csrr a0, mscratch
  CHECK a0, 0x5f7f
  TEST 3                                   /* CSRRC clears, returns old */
  li a1, 0x00ff
  csrrc a0, mscratch, a1
  CHECK a0, 0x5f7f
  csrr a0, mscratch
  CHECK a0, 0x5f00
  TEST 4                                   /* CSRRWI: 5-bit zero-extended uimm */
  csrrwi a0, mscratch, 31
  CHECK a0, 0x5f00
  csrr a0, mscratch
  CHECK a0, 31
  TEST 5                                   /* CSRRSI / CSRRCI */
  csrw mscratch, zero
  csrrsi a0, mscratch, 0x15
  CHECK a0, 0
  csrrci a0, mscratch, 0x5
  CHECK a0, 0x15
  csrr a0, mscratch
  CHECK a0, 0x10
  TEST 6                                   /* full 64-bit width */
  li a1, 0x8000000000000001
  csrw mscratch, a1
  csrr a0, mscratch
  CHECK a0, 0x8000000000000001
  TEST 7                                   /* rd = x0: the write still happens */
  li a1, 77
  csrrw x0, mscratch, a1
  csrr a0, mscratch
  CHECK a0, 77
  TEST 8                                   /* rd == rs1 */
  li a0, 99
  csrrw a0, mscratch, a0
  CHECK a0, 77
  csrr a0, mscratch
  CHECK a0, 99
  TEST 9                                   /* rs1 = x0 / uimm = 0: no write */
  csrrs a0, mscratch, x0
  csrrc a0, mscratch, x0
  csrrsi a0, mscratch, 0
  csrrci a0, mscratch, 0
  csrr a0, mscratch
  CHECK a0, 99

  /* ---- read-only CSRs (10-17) ---- */
  TEST 10                                  /* reads without write are fine on read-only CSRs */
  csrrs a0, mhartid, x0
  csrrc a0, mhartid, x0
  csrrsi a0, mhartid, 0
  csrrci a0, mhartid, 0
  csrr a0, mvendorid
  csrr a0, marchid
  csrr a0, mimpid
  TEST 11                                  /* CSRRW to mhartid -> illegal */
  EXPECT_TRAP 2f
1:csrw mhartid, zero
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 12                                  /* CSRRS with rs1 != x0 writes (see note) */
  li a1, 1
  EXPECT_TRAP 2f
1:csrrs a0, mhartid, a1
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 13                                  /* CSRRWI with uimm 0 still writes */
  EXPECT_TRAP 2f
1:csrrwi a0, mvendorid, 0
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 14                                  /* user counters are read-only */
  EXPECT_TRAP 2f
1:csrw cycle, zero
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 15
  EXPECT_TRAP 2f
1:csrsi instret, 1
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 16                                  /* unknown CSR number -> illegal */
  EXPECT_TRAP 2f
1:csrr a0, 0x0ff
  j fail
2:CHECK_ILLEGAL_AT 1b
  TEST 17                                  /* a trapping CSR instruction does not write rd */
  li a0, 1234
  EXPECT_TRAP 2f
1:csrrw a0, mhartid, a0
  j fail
2:CHECK a0, 1234

  /* ---- identification (18-19) ---- */
  TEST 18                                  /* misa: MXL = 2 (64-bit), I M A F D C S U */
  csrr a0, misa
  srli a1, a0, 62
  CHECK a1, 2
  li a1, (1<<0)|(1<<2)|(1<<3)|(1<<5)|(1<<8)|(1<<12)|(1<<18)|(1<<20)
  and a2, a0, a1
  bne a2, a1, fail
  TEST 19
  csrr a0, mhartid
  CHECK a0, 0
  TEST 40                                  /* mstatus.UXL = SXL = 2 (64-bit U and S) */
  csrr a0, mstatus
  srli a0, a0, 32
  andi a0, a0, 0xf
  CHECK a0, 0xa
  TEST 41                                  /* sstatus shows UXL (33:32) = 2 but has no SXL: */
  csrr a0, sstatus                         /* bits 35:34 read 0 (privileged spec v1.13 10.1.1) */
  srli a0, a0, 32
  andi a1, a0, 0x3
  CHECK a1, 2
  andi a1, a0, 0xc
  CHECK a1, 0

  /* ---- sstatus is a restricted view of mstatus (20-22) ---- */
  TEST 20
  li t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
  csrc mstatus, t0
  csrs sstatus, t0
  csrr a0, mstatus
  and a0, a0, t0
  bne a0, t0, fail
  TEST 21                                  /* M-only fields are invisible through sstatus */
  li t0, MSTATUS_MPIE | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrs mstatus, t0
  csrr a0, sstatus
  and a0, a0, t0
  CHECK a0, 0
  csrs sstatus, t0                         /* and not writable through it */
  csrc sstatus, t0
  csrr a0, mstatus
  and a0, a0, t0
  bne a0, t0, fail
  TEST 22
  li t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
  csrc sstatus, t0
  csrr a0, mstatus
  and a0, a0, t0
  CHECK a0, 0
  li t0, MSTATUS_MPIE | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrc mstatus, t0

  /* ---- CSR privilege (23-25) ---- */
  TEST 23                                  /* S-mode: M-level CSR is illegal */
  RUN_S s_read_mscratch, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_TVAL 0x34002573                    /* csrr a0, mscratch */
  TEST 24                                  /* U-mode: S-level CSR is illegal */
  RUN_U u_read_sscratch, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 25                                  /* S-mode: S-level CSR works */
  RUN_S s_rw_sscratch, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK a0, 0x55

  /* ---- counters (26-31) ---- */
  TEST 26                                  /* cycle increases */
  rdcycle a0
  nop
  nop
  rdcycle a1
  bleu a1, a0, fail
  TEST 27                                  /* instret increases by at least the instructions retired */
  rdinstret a0
  nop
  nop
  nop
  rdinstret a1
  sub a2, a1, a0
  li t0, 4
  bltu a2, t0, fail
  TEST 28                                  /* mcycle/minstret alias cycle/instret */
  csrr a0, minstret
  rdinstret a1
  bltu a1, a0, fail
  csrr a0, mcycle
  rdcycle a1
  bltu a1, a0, fail
  TEST 29                                  /* minstret is writable */
  li a1, 0x100000000
  csrw minstret, a1
  csrr a0, minstret
  bltu a0, a1, fail
  li t0, 0x10000000000
  add a1, a1, t0
  bgeu a0, a1, fail
  TEST 30                                  /* CLINT mtime advances; time CSR: see header */
  li s0, CLINT_MTIME
  ld s1, 0(s0)
  li a0, 100000
1:addi a0, a0, -1
  bnez a0, 1b
  ld s2, 0(s0)
  bleu s2, s1, fail
  EXPECT_TRAP 3f
  rdtime a0
  la t5, trap_info
  sd zero, 24(t5)
  li s3, 1                                 /* time CSR present */
  ld a1, 0(s0)
  bltu a0, s2, fail
  bltu a1, a0, fail
  j 4f
3:CHECK_CAUSE CAUSE_ILLEGAL
  li s3, 0                                 /* time CSR absent */
  EXPECT_TRAP 3f
  rdtime a0
  j fail                                   /* absent must stay absent */
3:CHECK_CAUSE CAUSE_ILLEGAL
4:

  /* ---- counter-enable gating (31-37) ---- */
  TEST 31                                  /* S, mcounteren = 0: cycle illegal */
  csrw mcounteren, zero
  csrw scounteren, zero
  RUN_S s_rdcycle, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 32                                  /* S, mcounteren.CY: allowed */
  csrwi mcounteren, 1
  RUN_S s_rdcycle, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  TEST 33                                  /* S, mcounteren.IR clear: instret illegal */
  RUN_S s_rdinstret, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 34                                  /* U, mcounteren.CY but scounteren = 0: illegal */
  RUN_U u_rdcycle, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 35                                  /* U, both enabled: allowed */
  csrwi scounteren, 1
  RUN_U u_rdcycle, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  TEST 36                                  /* U, scounteren.CY but mcounteren clear: illegal */
  csrwi mcounteren, 4
  RUN_U u_rdcycle, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 37                                  /* U, instret with both IR bits */
  csrwi scounteren, 4
  RUN_U u_rdinstret, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  TEST 38                                  /* time gating when the time CSR exists */
  beqz s3, 2f
  csrwi mcounteren, 0
  RUN_S s_rdtime, 1f
1:CHECK_CAUSE CAUSE_ILLEGAL
  csrwi mcounteren, 2
  RUN_S s_rdtime, 1f
1:CHECK_CAUSE CAUSE_ECALL_S
2:
  TEST 39                                  /* scounteren / mcounteren hold what was written */
  csrwi mcounteren, 7
  csrwi scounteren, 5
  csrr a0, mcounteren
  andi a0, a0, 7
  CHECK a0, 7
  csrr a0, scounteren
  andi a0, a0, 7
  CHECK a0, 5

  TEST_END

  .text
s_read_mscratch:
  csrr a0, mscratch
  ecall
u_read_sscratch:
  csrr a0, sscratch
  ecall
s_rw_sscratch:
  li a0, 0x55
  csrw sscratch, a0
  li a0, 0
  csrr a0, sscratch
  ecall
s_rdcycle:
u_rdcycle:
  rdcycle a0
  ecall
s_rdinstret:
u_rdinstret:
  rdinstret a0
  ecall
s_rdtime:
  rdtime a0
  ecall
