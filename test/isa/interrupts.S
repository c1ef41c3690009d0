/* Interrupts: machine software interrupt through the CLINT msip (CLINT + 0),
 * machine timer through mtimecmp (+0x4000) / mtime (+0xBFF8), mip mirrors
 * of both (read-only in mip), global MIE and per-source mie gating, M-level
 * interrupts taken from U regardless of MIE, priority order (MSI > MTI,
 * SSI > STI, and an M-level interrupt before a delegated S-level one), S-level software/timer interrupts raised by M through
 * mip.SSIP/STIP and delegated with mideleg (taken in S, gated by SIE in S
 * only, never taken in M, undelegated ones go to M even from S), mtvec and
 * stvec vectored mode (BASE + 4 * cause), and WFI waking on a pending
 * interrupt while globally disabled (including the timer).
 *
 * Not tested: priority between M-level and S-level interrupts that are all
 * handled in M (spec: MTI > SSI): QEMU 7.2 takes them in bit order.
 *
 * The interrupt handlers here log each interrupt's cause in order and
 * silence its source (msip = 0, mtimecmp = -1, clear SSIP/STIP or STIE),
 * then return to the interrupted code. Exceptions go to the shared
 * handlers of test-macros.h. */
#include "test-macros.h"

/* Waits are bounded by mtime, not by iterations: QEMU delivers timer
 * interrupts from another host thread, so their latency in guest
 * instructions varies a lot. 20,000,000 ticks = 2 s at the usual 10 MHz. */
#define WAIT_TICKS 20000000

/* Reset the M and S interrupt logs. Clobbers t5. */
.macro INT_RESET
  la t5, int_info
  sd zero, 0(t5)
  la t5, s_int_info
  sd zero, 0(t5)
.endm

/* Spin until the log at `info` holds at least n entries, or fail after
 * WAIT_TICKS of mtime. Clobbers t0-t2. */
.macro WAIT_LOG info, n
  li t0, CLINT_MTIME
  ld t0, 0(t0)
  li t1, WAIT_TICKS
  add t0, t0, t1
99:la t1, \info
  ld t1, 0(t1)
  li t2, \n
  bge t1, t2, 98f
  li t1, CLINT_MTIME
  ld t1, 0(t1)
  bltu t1, t0, 99b
  j fail
98:
.endm

/* Spin a while and fail if any M-level interrupt was taken. */
.macro EXPECT_NO_INT
  li t0, 20000
99:addi t0, t0, -1
  bnez t0, 99b
  CHECKMEM int_info, 0
.endm

/* Fail unless entry i (0-based) of the log at `info` is cause c. */
.macro CHECK_LOG info, i, c
  CHECKMEM \info, \c, (8 + 8 * \i)
.endm

/* Fail unless (status recorded by the handler of log `info` & mask) == val. */
.macro CHECK_LOG_STATUS info, mask, val
  la t5, \info
  ld t5, 80(t5)
  li t6, \mask
  and t5, t5, t6
  li t6, \val
  bne t5, t6, fail
.endm

.macro SET_MSIP v
  li t0, CLINT_MSIP
  li t1, \v
  sw t1, 0(t0)
.endm

  TEST_START
  la t0, int_vector
  csrw mtvec, t0
  MTIMECMP_NEVER
  INT_RESET

  /* ---- machine software interrupt (1-3) ---- */
  TEST 1                                     /* msip -> mip.MSIP; MIE = 0 blocks */
  li t0, MIP_MSIP
  csrw mie, t0
  SET_MSIP 1
  li t0, CLINT_MSIP
  lw a0, 0(t0)
  CHECK a0, 1
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  CHECK a0, MIP_MSIP
  EXPECT_NO_INT
  TEST 2                                     /* MIE = 1: taken at once, in M */
  csrsi mstatus, MSTATUS_MIE
  WAIT_LOG int_info, 1
  csrci mstatus, MSTATUS_MIE
  CHECKMEM int_info, 1
  CHECK_LOG int_info, 0, CAUSE_MSI
  CHECK_LOG_STATUS int_info, MSTATUS_MIE|MSTATUS_MPIE|MSTATUS_MPP, MSTATUS_MPIE|MSTATUS_MPP  /* MIE=0 MPIE=1 MPP=M */
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  CHECK a0, 0
  TEST 3                                     /* mie.MSIE = 0 blocks even with MIE = 1 */
  INT_RESET
  csrw mie, zero
  SET_MSIP 1
  csrsi mstatus, MSTATUS_MIE
  EXPECT_NO_INT
  csrci mstatus, MSTATUS_MIE
  SET_MSIP 0

  /* ---- machine timer (4-6) ---- */
  TEST 4                                     /* MTIP follows mtime >= mtimecmp */
  SET_MTIMECMP zero
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHECK a0, MIP_MTIP
  MTIMECMP_NEVER
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHECK a0, 0
  TEST 5                                     /* timer interrupt fires after mtimecmp */
  INT_RESET
  li t0, MIP_MTIP
  csrw mie, t0
  li t0, CLINT_MTIME
  ld s0, 0(t0)
  addi s0, s0, 200
  SET_MTIMECMP s0
  csrsi mstatus, MSTATUS_MIE
  WAIT_LOG int_info, 1
  csrci mstatus, MSTATUS_MIE
  CHECK_LOG int_info, 0, CAUSE_MTI
  li t0, CLINT_MTIME
  ld a0, 0(t0)
  bltu a0, s0, fail                          /* not before its time */
  TEST 6                                     /* MSIP/MTIP are read-only in mip */
  li t0, MIP_MSIP|MIP_MTIP
  csrs mip, t0
  csrr a0, mip
  and a0, a0, t0
  CHECK a0, 0

  /* ---- M-level interrupt from U, MIE ignored below M (7) ---- */
  TEST 7
  INT_RESET
  li t0, MIP_MSIP
  csrw mie, t0
  SET_MSIP 1
  RUN_U u_wait_m, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  CHECKMEM int_info, 1
  CHECK_LOG int_info, 0, CAUSE_MSI
  CHECK_LOG_STATUS int_info, MSTATUS_MPP, 0  /* taken from U: MPP = U */

  /* ---- priority (8) ---- */
  TEST 8                                     /* MSI before MTI; SSI before STI */
  INT_RESET
  csrw mideleg, zero
  SET_MSIP 1
  SET_MTIMECMP zero
  li t0, MIP_SSIP|MIP_STIP
  csrs mip, t0
  csrr a0, mip
  li t0, MIP_MSIP|MIP_MTIP|MIP_SSIP|MIP_STIP
  and a0, a0, t0
  bne a0, t0, fail                           /* all four pending */
  li t0, MIP_MSIP|MIP_MTIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_LOG int_info, 2
  csrci mstatus, MSTATUS_MIE
  li t0, MIP_SSIP|MIP_STIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_LOG int_info, 4
  csrci mstatus, MSTATUS_MIE
  CHECKMEM int_info, 4
  CHECK_LOG int_info, 0, CAUSE_MSI
  CHECK_LOG int_info, 1, CAUSE_MTI
  CHECK_LOG int_info, 2, CAUSE_SSI
  CHECK_LOG int_info, 3, CAUSE_STI

  /* ---- delegation to S (9-13) ---- */
  la t0, s_int_vector
  csrw stvec, t0
  TEST 9                                     /* delegated SSI: not taken in M, taken in S */
  INT_RESET
  li t0, MIP_SSIP|MIP_STIP
  csrw mideleg, t0
  csrr a0, mideleg
  and a0, a0, t0
  bne a0, t0, fail
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_MIE
  EXPECT_NO_INT                              /* delegated: M never takes it */
  csrci mstatus, MSTATUS_MIE
  RUN_S s_enable_wait, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECKMEM s_int_info, 1
  CHECK_LOG s_int_info, 0, CAUSE_SSI
  CHECK_LOG_STATUS s_int_info, MSTATUS_SIE|MSTATUS_SPIE|MSTATUS_SPP, MSTATUS_SPIE|MSTATUS_SPP  /* SIE=0 SPIE=1 SPP=S */
  CHECKMEM int_info, 0
  TEST 10                                    /* in S with SIE = 0 it waits ... */
  INT_RESET
  li t0, MIP_SSIP
  csrs mip, t0
  RUN_S s_no_wait, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECK a0, 0
  TEST 11                                    /* ... but from U it is taken regardless of SIE */
  RUN_U u_wait_s, 2f
2:CHECK_CAUSE CAUSE_ECALL_U
  CHECKMEM s_int_info, 1
  CHECK_LOG s_int_info, 0, CAUSE_SSI
  CHECK_LOG_STATUS s_int_info, MSTATUS_SIE|MSTATUS_SPP, 0  /* taken from U: SPP = U, SIE = 0 in handler */
  TEST 12                                    /* delegated STI, raised by M through mip.STIP */
  INT_RESET
  li t0, MIP_STIP
  csrw mie, t0
  csrs mip, t0
  RUN_S s_enable_wait, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECKMEM s_int_info, 1
  CHECK_LOG s_int_info, 0, CAUSE_STI
  li t0, MIP_STIP
  csrc mip, t0
  TEST 13                                    /* undelegated SSI while in S goes to M */
  INT_RESET
  csrw mideleg, zero
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  RUN_S s_wait_m, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECKMEM int_info, 1
  CHECK_LOG int_info, 0, CAUSE_SSI
  CHECK_LOG_STATUS int_info, MSTATUS_MPP, MSTATUS_MPP_S
  CHECKMEM s_int_info, 0
  TEST 18                                    /* in S, an M interrupt beats a delegated S one */
  INT_RESET
  li t0, MIP_SSIP
  csrw mideleg, t0
  li t0, MIP_SSIP|MIP_MSIP
  csrw mie, t0
  csrsi mip, MIP_SSIP
  SET_MSIP 1
  RUN_S s_enable_wait, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECKMEM int_info, 1
  CHECK_LOG int_info, 0, CAUSE_MSI
  CHECKMEM s_int_info, 1
  CHECK_LOG s_int_info, 0, CAUSE_SSI
  CHECKMEM s_int_info, 1, 88                 /* the M one was already handled */
  csrw mideleg, zero

  /* ---- vectored mode (14-15) ---- */
  TEST 14                                    /* mtvec vectored: MSI at BASE+12, MTI at BASE+28 */
  INT_RESET
  la t0, m_vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  li t0, MIP_MSIP|MIP_MTIP
  csrw mie, t0
  SET_MSIP 1
  csrsi mstatus, MSTATUS_MIE
  WAIT_LOG int_info, 1
  SET_MTIMECMP zero
  WAIT_LOG int_info, 2
  csrci mstatus, MSTATUS_MIE
  la t0, int_vector
  csrw mtvec, t0
  CHECKMEM vec_flags, (1 << 3) | (1 << 7)
  TEST 15                                    /* stvec vectored: SSI at BASE+4 */
  INT_RESET
  la t0, s_vec_table
  ori t0, t0, 1
  csrw stvec, t0
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0
  RUN_S s_enable_wait, 2f
2:CHECK_CAUSE CAUSE_ECALL_S
  CHECKMEM s_vec_flags, 1 << 1
  la t0, s_int_vector
  csrw stvec, t0
  csrw mideleg, zero

  /* ---- sie / sip are views of mie / mip through mideleg (19-20) ---- */
  TEST 19                                    /* delegated bits appear in sie/sip */
  li t0, MIP_SSIP|MIP_STIP
  csrw mideleg, t0
  csrw mie, zero
  li t0, MIP_SSIP|MIP_STIP|MIP_MSIP|MIP_MTIP
  csrs sie, t0                               /* only the delegated S bits stick */
  csrr a0, mie
  CHECK a0, MIP_SSIP|MIP_STIP
  csrr a0, sie
  CHECK a0, MIP_SSIP|MIP_STIP
  csrsi sip, MIP_SSIP                        /* SSIP is writable through sip */
  csrr a0, mip
  andi a0, a0, MIP_SSIP
  CHECK a0, MIP_SSIP
  csrr a0, sip
  andi a0, a0, MIP_SSIP
  CHECK a0, MIP_SSIP
  csrci sip, MIP_SSIP
  csrr a0, mip
  andi a0, a0, MIP_SSIP
  CHECK a0, 0
  TEST 20                                    /* STIP is read-only through sip */
  li t0, MIP_STIP
  csrs sip, t0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHECK a0, 0
  csrw mie, zero
  csrw mideleg, zero

  /* ---- WFI (16-17) ---- */
  TEST 16                                    /* pending + enabled, MIE = 0: WFI returns, no trap */
  INT_RESET
  li t0, MIP_MSIP
  csrw mie, t0
  SET_MSIP 1
  wfi
  CHECKMEM int_info, 0
  SET_MSIP 0
  TEST 17                                    /* WFI wakes when the timer fires (MIE = 0) */
  INT_RESET
  li t0, MIP_MTIP
  csrw mie, t0
  li t0, CLINT_MTIME
  ld s0, 0(t0)
  addi s0, s0, 500
  SET_MTIMECMP s0
  li s1, WAIT_TICKS                          /* WFI may return early: retry until a deadline */
  add s1, s1, s0
1:wfi
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 2f
  li t0, CLINT_MTIME
  ld t0, 0(t0)
  bltu t0, s1, 1b
  j fail
2:CHECKMEM int_info, 0
  csrsi mstatus, MSTATUS_MIE                 /* now take it */
  WAIT_LOG int_info, 1
  csrci mstatus, MSTATUS_MIE
  CHECK_LOG int_info, 0, CAUSE_MTI
  csrw mie, zero

  TEST_END

  .text
/* ---- M-mode handler: interrupts logged and silenced; exceptions shared ---- */
  .align 6
int_vector:
  addi sp, sp, -32
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  csrr t0, mcause
  bgez t0, int_exception
  la t1, int_info
  ld t2, 0(t1)
  addi t2, t2, 1
  sd t2, 0(t1)
  addi t2, t2, -8
  bgtz t2, fail                              /* runaway interrupts */
  ld t2, 0(t1)
  slli t2, t2, 3
  add t2, t2, t1
  sd t0, 0(t2)                               /* log[count - 1] */
  csrr t2, mepc
  sd t2, 72(t1)
  csrr t2, mstatus
  sd t2, 80(t1)
  slli t0, t0, 1
  srli t0, t0, 1
  li t1, 3
  beq t0, t1, 3f
  li t1, 7
  beq t0, t1, 7f
  li t1, 1
  beq t0, t1, 1f
  li t1, 5
  beq t0, t1, 5f
  j fail
3:li t1, CLINT_MSIP
  sw zero, 0(t1)
  j 9f
7:li t1, CLINT_MTIMECMP
  li t2, -1
  sw t2, 0(t1)
  sw t2, 4(t1)
  j 9f
1:csrci mip, MIP_SSIP
  j 9f
5:li t1, MIP_STIP
  csrc mip, t1
9:ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  mret
int_exception:
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  j m_trap_vector

/* ---- S-mode handler: delegated interrupts logged; SSIP cleared, STIE masked ---- */
  .align 6
s_int_vector:
  addi sp, sp, -32
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  csrr t0, scause
  bgez t0, s_int_exception
  la t1, s_int_info
  ld t2, 0(t1)
  addi t2, t2, 1
  sd t2, 0(t1)
  addi t2, t2, -8
  bgtz t2, fail
  la t2, int_info                            /* M interrupts seen so far */
  ld t2, 0(t2)
  sd t2, 88(t1)
  ld t2, 0(t1)
  slli t2, t2, 3
  add t2, t2, t1
  sd t0, 0(t2)
  csrr t2, sepc
  sd t2, 72(t1)
  csrr t2, sstatus
  sd t2, 80(t1)
  slli t0, t0, 1
  srli t0, t0, 1
  li t1, 1
  beq t0, t1, 1f
  li t1, 5
  beq t0, t1, 5f
  j fail
1:csrci sip, MIP_SSIP
  j 9f
5:li t1, MIP_STIP
  csrc sie, t1
9:ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  sret
s_int_exception:
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  j s_trap_vector

/* ---- vector tables: record which slot was used, then the common handler ---- */
  .align 8
m_vec_table:
  j int_vector                               /* 0: exceptions */
  j fail                                     /* 1 */
  j fail                                     /* 2 */
  j m_vec_msi                                /* 3: MSI */
  j fail                                     /* 4 */
  j fail                                     /* 5 */
  j fail                                     /* 6 */
  j m_vec_mti                                /* 7: MTI */
  .rept 8
  j fail
  .endr
m_vec_msi:                                   /* interrupts are asynchronous: save what we use */
  addi sp, sp, -16
  sd t0, 0(sp)
  sd t1, 8(sp)
  la t0, vec_flags
  ld t1, 0(t0)
  ori t1, t1, 1 << 3
  sd t1, 0(t0)
  ld t0, 0(sp)
  ld t1, 8(sp)
  addi sp, sp, 16
  j int_vector
m_vec_mti:
  addi sp, sp, -16
  sd t0, 0(sp)
  sd t1, 8(sp)
  la t0, vec_flags
  ld t1, 0(t0)
  ori t1, t1, 1 << 7
  sd t1, 0(t0)
  ld t0, 0(sp)
  ld t1, 8(sp)
  addi sp, sp, 16
  j int_vector

  .align 8
s_vec_table:
  j s_int_vector                             /* 0: exceptions */
  j s_vec_ssi                                /* 1: SSI */
  .rept 14
  j fail
  .endr
s_vec_ssi:
  addi sp, sp, -16
  sd t0, 0(sp)
  sd t1, 8(sp)
  la t0, s_vec_flags
  ld t1, 0(t0)
  ori t1, t1, 1 << 1
  sd t1, 0(t0)
  ld t0, 0(sp)
  ld t1, 8(sp)
  addi sp, sp, 16
  j s_int_vector

/* ---- lower-privilege code ---- */
u_wait_m:                                    /* wait for an M interrupt, then ecall */
s_wait_m:
  WAIT_LOG int_info, 1
  ecall
s_enable_wait:                               /* S: SIE = 1, wait for an S interrupt */
  csrsi sstatus, MSTATUS_SIE
  WAIT_LOG s_int_info, 1
  csrci sstatus, MSTATUS_SIE
  ecall
s_no_wait:                                   /* S: SIE = 0, spin, report the S count in a0 */
  csrci sstatus, MSTATUS_SIE
  li t0, 20000
1:addi t0, t0, -1
  bnez t0, 1b
  la t0, s_int_info
  ld a0, 0(t0)
  ecall
u_wait_s:
  WAIT_LOG s_int_info, 1
  ecall

  .data
  .align 6
int_info:      /* count, log[8], last epc (72), last status (80), S only: M count at entry (88) */
  .skip 96
  .align 6
s_int_info:
  .skip 96
vec_flags:
  .dword 0
s_vec_flags:
  .dword 0
