/* Privilege architecture: ECALL from M/S/U (mcause 11/9/8), EBREAK (3),
 * illegal instruction (2) with mtval = the instruction bits, trap entry
 * (MPP, MPIE <- MIE, MIE <- 0, mepc), MRET/SRET transitions (MPP/SPP,
 * MPIE/SPIE, MIE/SIE, MPRV cleared when leaving M), medeleg to an S-mode
 * handler (scause/sepc/stval, SPP/SPIE), exceptions from M never delegated,
 * mtvec vectored mode (exceptions go to BASE), mstatus.TSR/TW/TVM traps,
 * xRET from a lower privilege illegal.
 * Not checked (QEMU 7.2 differs from priv 1.12, so the oracle cannot confirm):
 * MRET to a lower mode clearing MPRV; mepc/sepc bit 0 reading as zero.
 * (WFI that wakes on an interrupt is in interrupts.S.) */
#include "test-macros.h"

#define MPP_SHIFT 11

  TEST_START

  /* ---- ECALL / EBREAK / illegal from each mode (1-9) ---- */
  TEST 1                                    /* ECALL from M: cause 11, mepc = ecall, mtval = 0 */
  EXPECT_TRAP 2f
1:ecall
  j fail
2:CHECK_CAUSE CAUSE_ECALL_M
  CHECK_EPC 1b
  CHECK_TVAL 0
  TEST 2                                    /* ECALL from S: 9 */
  RUN_S s_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_EPC s_ecall
  CHECK_MSTATUS_BITS MSTATUS_MPP, MSTATUS_MPP_S   /* MPP = previous mode S */
  TEST 3                                    /* ECALL from U: 8 */
  RUN_U u_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  CHECK_EPC u_ecall
  CHECK_MSTATUS_BITS MSTATUS_MPP, 0               /* MPP = U */
  TEST 4                                    /* EBREAK from M: 3; mtval is 0 or the pc */
  EXPECT_TRAP 2f
1:ebreak
  j fail
2:CHECK_CAUSE CAUSE_BREAKPOINT
  CHECK_EPC 1b
  la t5, trap_info
  ld t5, 16(t5)
  beqz t5, 3f
  la t6, 1b
  bne t5, t6, fail
3:
  TEST 5                                    /* EBREAK from U */
  RUN_U u_ebreak, 2f
2:CHECK_CAUSE CAUSE_BREAKPOINT
  CHECK_EPC u_ebreak
  TEST 34                                   /* EBREAK from S */
  RUN_S u_ebreak, 2f
2:CHECK_CAUSE CAUSE_BREAKPOINT
  CHECK_EPC u_ebreak
  CHECK_MSTATUS_BITS MSTATUS_MPP, MSTATUS_MPP_S
  TEST 6                                    /* reserved LOAD funct3 = 7: illegal, mtval = bits */
  EXPECT_TRAP 2f
1:.word 0x00007503
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 1b
  CHECK_TVAL 0x00007503
  TEST 7                                    /* unimp (csrrw x0, cycle, x0) */
  EXPECT_TRAP 2f
1:unimp
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_TVAL 0xc0001073
  TEST 8                                    /* illegal from S and U */
  RUN_S s_illegal, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_illegal
  CHECK_TVAL 0x00007503
  RUN_U s_illegal, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_MSTATUS_BITS MSTATUS_MPP, 0
  TEST 9                                    /* trap entry: MPIE <- MIE, MIE <- 0 */
  csrsi mstatus, MSTATUS_MIE                /* mie = 0: no interrupt can fire */
  EXPECT_TRAP 2f
  ecall
2:CHECK_MSTATUS_BITS MSTATUS_MIE|MSTATUS_MPIE|MSTATUS_MPP, MSTATUS_MPIE|MSTATUS_MPP
  csrr a0, mstatus                          /* the handler resumes with MIE = 0 */
  andi a0, a0, MSTATUS_MIE
  CHECK a0, 0

  /* ---- MRET (10-13) ---- */
  TEST 10                                   /* MRET M->M: MIE <- MPIE(1), MPIE <- 1, MPP <- U */
  li t0, MSTATUS_MPP|MSTATUS_MPIE
  csrs mstatus, t0
  csrci mstatus, MSTATUS_MIE
  la t0, 1f
  csrw mepc, t0
  mret
  j fail
1:csrr a0, mstatus
  li t0, MSTATUS_MIE|MSTATUS_MPIE|MSTATUS_MPP
  and a0, a0, t0
  CHECK a0, MSTATUS_MIE|MSTATUS_MPIE
  csrci mstatus, MSTATUS_MIE
  TEST 11                                   /* MRET with MPIE = 0 clears MIE */
  li t0, MSTATUS_MPP
  csrs mstatus, t0
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  csrsi mstatus, MSTATUS_MIE
  la t0, 1f
  csrw mepc, t0
  mret
  j fail
1:csrr a0, mstatus
  andi a0, a0, MSTATUS_MIE|MSTATUS_MPIE
  CHECK a0, MSTATUS_MPIE
  TEST 12                                   /* MRET to U with MPRV = 1 still lands in U.
                                               (Priv 1.12 also clears MPRV here; QEMU 7.2
                                               does not, so the oracle cannot check it.) */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  RUN_U u_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  TEST 13                                   /* MRET to S lands in S (ecall says 9) */
  RUN_S s_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_S

  /* ---- SRET (14-16) ---- */
  TEST 14                                   /* SRET S->U: SIE <- SPIE(1), SPIE <- 1, SPP <- U */
  li t0, MSTATUS_SPIE|MSTATUS_SPP|MSTATUS_SIE
  csrc mstatus, t0
  li t0, MSTATUS_SPIE
  csrs mstatus, t0
  RUN_S s_sret_to_u, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  CHECK_EPC u_ecall
  CHECK_MSTATUS_BITS MSTATUS_SIE|MSTATUS_SPIE|MSTATUS_SPP, MSTATUS_SIE|MSTATUS_SPIE
  csrci mstatus, MSTATUS_SIE
  TEST 15                                   /* SRET S->S with SPIE = 0 */
  li t0, MSTATUS_SPIE|MSTATUS_SIE
  csrc mstatus, t0
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  RUN_S s_sret_to_s, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_EPC s_ecall
  CHECK_MSTATUS_BITS MSTATUS_SIE|MSTATUS_SPIE|MSTATUS_SPP, MSTATUS_SPIE
  TEST 16                                   /* M may execute SRET: to S via SPP */
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, s_ecall
  csrw sepc, t0
  EXPECT_TRAP 2f
  sret
  j fail
2:CHECK_CAUSE CAUSE_ECALL_S

  /* ---- medeleg: exceptions to an S-mode handler (17-22) ---- */
  la t0, s_trap_vector
  csrw stvec, t0
  TEST 17                                   /* U ecall delegated: scause 8, SPP = U, SPIE <- SIE */
  li t0, 1 << CAUSE_ECALL_U
  csrw medeleg, t0
  csrsi sstatus, MSTATUS_SIE                /* sie = 0: nothing can fire */
  EXPECT_STRAP s_ecall                      /* S handler resumes in S at s_ecall -> M */
  RUN_U u_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_SCAUSE CAUSE_ECALL_U
  CHECK_SEPC u_ecall
  CHECK_STVAL 0
  CHECK_STRAPS 1
  CHECK_SSTATUS_BITS MSTATUS_SPP|MSTATUS_SPIE|MSTATUS_SIE, MSTATUS_SPIE
  csrci sstatus, MSTATUS_SIE
  TEST 18                                   /* S illegal delegated: stval = bits, SPP = S */
  li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  EXPECT_STRAP s_ecall
  RUN_S s_illegal, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_SCAUSE CAUSE_ILLEGAL
  CHECK_SEPC s_illegal
  CHECK_STVAL 0x00007503
  CHECK_STRAPS 2
  CHECK_SSTATUS_BITS MSTATUS_SPP, MSTATUS_SPP
  TEST 19                                   /* U ebreak delegated */
  EXPECT_STRAP s_ecall
  RUN_U u_ebreak, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_SCAUSE CAUSE_BREAKPOINT
  CHECK_SEPC u_ebreak
  CHECK_STRAPS 3
  TEST 20                                   /* traps taken in M are never delegated */
  EXPECT_TRAP 2f
1:.word 0x00007503
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 1b
  CHECK_STRAPS 3
  TEST 21                                   /* undelegated cause from U goes to M */
  li t0, 1 << CAUSE_ECALL_U
  csrw medeleg, t0
  RUN_U u_ebreak, 2f
2:CHECK_CAUSE CAUSE_BREAKPOINT
  CHECK_STRAPS 3
  TEST 22                                   /* S ecall not delegated (bit 9 clear) */
  RUN_S s_ecall, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK_STRAPS 3
  TEST 35                                   /* S ecall delegated to S (medeleg bit 9) */
  li t0, 1 << CAUSE_ECALL_S
  csrw medeleg, t0
  EXPECT_STRAP s_illegal                    /* then leave S by an undelegated illegal */
  RUN_S s_ecall, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_illegal
  CHECK_SCAUSE CAUSE_ECALL_S
  CHECK_SEPC s_ecall
  CHECK_STRAPS 4
  CHECK_SSTATUS_BITS MSTATUS_SPP, MSTATUS_SPP
  csrw medeleg, zero

  /* ---- mtvec vectored: exceptions use BASE (23) ---- */
  TEST 23
  la t0, vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  csrr a0, mtvec
  andi a0, a0, 3
  CHECK a0, 1
  EXPECT_TRAP 2f
  ecall
2:la t0, m_trap_vector
  csrw mtvec, t0
  CHECK_CAUSE CAUSE_ECALL_M
  CHECKMEM vec_flag, 1

  /* ---- TSR / TW / TVM (24-29) ---- */
  TEST 24                                   /* TSR: SRET in S is illegal */
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  RUN_S s_do_sret, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_sret_insn
  li t0, MSTATUS_TSR
  csrc mstatus, t0
  TEST 25                                   /* TSR clear: the same SRET works */
  RUN_S s_do_sret, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  TEST 26                                   /* TW: WFI in S is illegal */
  li t0, MSTATUS_TW
  csrs mstatus, t0
  RUN_S s_wfi, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_wfi
  li t0, MSTATUS_TW
  csrc mstatus, t0
  TEST 27                                   /* TVM: satp access in S is illegal */
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  RUN_S s_read_satp, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_read_satp
  TEST 28                                   /* TVM: SFENCE.VMA in S is illegal */
  RUN_S s_sfence, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_sfence
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  TEST 29                                   /* TVM clear: both work */
  RUN_S s_read_satp, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  RUN_S s_sfence, 2f
2:CHECK_CAUSE CAUSE_ECALL_S

  /* ---- xRET from lower privilege (30-32) ---- */
  TEST 30
  RUN_U u_sret, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC u_sret
  TEST 31
  RUN_U u_mret, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC u_mret
  TEST 32
  RUN_S s_mret, 2f
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC s_mret

  TEST_END

  .text
s_ecall:
u_ecall:
  ecall
u_ebreak:
  ebreak
s_illegal:
  .word 0x00007503
s_sret_to_u:
  la t0, u_ecall
  csrw sepc, t0
  sret
s_sret_to_s:
  la t0, s_ecall
  csrw sepc, t0
  sret
s_do_sret:
  la t0, s_ecall
  csrw sepc, t0
s_sret_insn:
  sret
s_wfi:
  wfi
  ecall
s_read_satp:
  csrr a0, satp
  ecall
s_sfence:
  sfence.vma
  ecall
u_sret:
  sret
u_mret:
s_mret:
  mret

  .align 8                                   /* vectored mtvec table */
vec_table:
  j vec_exception                            /* 0: exceptions */
  .rept 15
  j fail                                     /* interrupts: none expected */
  .endr
vec_exception:
  li t6, 1
  la t5, vec_flag
  sd t6, 0(t5)
  j m_trap_vector

  .data
  .align 3
vec_flag:
  .dword 0
