/*
 * Strata ISA test suite: shared macros for the bare-metal test programs.
 *
 * Conventions
 *  - Every program is linked at 0x80000000 and starts in M-mode at _start.
 *  - gp (x3) holds the current test number (set by TEST n). On failure the
 *    program writes (n << 1) | 1 to the HTIF `tohost` word; on success 1.
 *    A failure before the first TEST (or with gp = 0) reports 255.
 *    Test numbers must stay in 1..254 (they become a process exit code).
 *  - t5/t6 (x30/x31) are scratch for the CHECK macros and the trap handlers:
 *    never keep a live value in them across a CHECK or a trap.
 *  - Programs assemble with .option norvc (fixed 4-byte encodings, so
 *    mepc/mtval arithmetic is predictable); rvc.S opts back in explicitly.
 *
 * M-mode trap handling (m_trap_vector, installed by TEST_START):
 *  - EXPECT_TRAP label arms a one-shot resume address. The next trap (from any
 *    mode) records mcause/mepc/mtval in trap_info, counts it, and resumes at
 *    `label` in M-mode (MPP forced to M, MPRV cleared, MPIE cleared so the
 *    code resumes with mstatus.MIE = 0 and no interrupt can fire).
 *  - A trap while nothing is armed is a failure of the current test.
 *  - CHECK_CAUSE / CHECK_EPC / CHECK_TVAL / CHECK_TRAPS / CHECK_MSTATUS_BITS
 *    inspect trap_info (mstatus is the value seen on entry to the handler).
 *
 * S-mode trap handling (s_trap_vector, used by delegation/paging tests):
 *  - EXPECT_STRAP label arms s_trap_info's resume; the handler records
 *    scause/sepc/stval and resumes at `label` in S-mode via SRET (SPP forced
 *    to S, SPIE cleared so SIE = 0 afterwards).
 *  - An unexpected delegated trap fails through an ecall into M (unarmed => fail).
 */
#ifndef STRATA_TEST_MACROS_H
#define STRATA_TEST_MACROS_H

/* ---- CSR bit definitions ------------------------------------------------ */
#define MSTATUS_SIE   0x00000002
#define MSTATUS_MIE   0x00000008
#define MSTATUS_SPIE  0x00000020
#define MSTATUS_MPIE  0x00000080
#define MSTATUS_SPP   0x00000100
#define MSTATUS_MPP   0x00001800
#define MSTATUS_MPP_S 0x00000800
#define MSTATUS_FS    0x00006000
#define MSTATUS_FS_INITIAL 0x00002000
#define MSTATUS_FS_CLEAN   0x00004000
#define MSTATUS_FS_DIRTY   0x00006000
#define MSTATUS_MPRV  0x00020000
#define MSTATUS_SUM   0x00040000
#define MSTATUS_MXR   0x00080000
#define MSTATUS_TVM   0x00100000
#define MSTATUS_TW    0x00200000
#define MSTATUS_TSR   0x00400000
#define MSTATUS_SD    0x8000000000000000

#define MIP_SSIP 0x002
#define MIP_MSIP 0x008
#define MIP_STIP 0x020
#define MIP_MTIP 0x080
#define MIP_SEIP 0x200
#define MIP_MEIP 0x800

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15
#define CAUSE_INT              0x8000000000000000
#define CAUSE_SSI  (CAUSE_INT | 1)
#define CAUSE_MSI  (CAUSE_INT | 3)
#define CAUSE_STI  (CAUSE_INT | 5)
#define CAUSE_MTI  (CAUSE_INT | 7)

/* CLINT (same layout on QEMU virt/spike and Strata). */
#define CLINT_MSIP     0x02000000
#define CLINT_MTIMECMP 0x02004000
#define CLINT_MTIME    0x0200BFF8

/* Write mtimecmp = reg using 32-bit halves (low = -1, high, low), the
 * glitch-free sequence. QEMU 7.2's CLINT mis-arms its timer on 64-bit
 * stores of a future mtimecmp, so programs always use this. Clobbers t5, t6. */
.macro SET_MTIMECMP reg
  li t5, CLINT_MTIMECMP
  li t6, -1
  sw t6, 0(t5)
  srli t6, \reg, 32
  sw t6, 4(t5)
  sw \reg, 0(t5)
.endm

/* mtimecmp = all ones (never). Clobbers t5, t6. */
.macro MTIMECMP_NEVER
  li t5, CLINT_MTIMECMP
  li t6, -1
  sw t6, 0(t5)
  sw t6, 4(t5)
.endm

/* Sv39 PTE bits */
#define PTE_V 0x001
#define PTE_R 0x002
#define PTE_W 0x004
#define PTE_X 0x008
#define PTE_U 0x010
#define PTE_G 0x020
#define PTE_A 0x040
#define PTE_D 0x080
#define SATP_SV39 (8 << 60)

/* ---- Test numbering and checks ------------------------------------------ */

/* Start test case n. */
.macro TEST n
  li gp, \n
.endm

/* Fail unless integer register reg == val (64-bit compare). Clobbers t6. */
.macro CHECK reg, val
  li t6, \val
  bne \reg, t6, fail
.endm

/* Fail unless the 64-bit word at label (+off) == val. Clobbers t5, t6. */
.macro CHECKMEM label, val, off=0
  la t5, \label
  ld t5, \off(t5)
  li t6, \val
  bne t5, t6, fail
.endm

/* Fail unless the double register holds bit pattern val. Clobbers t5, t6. */
.macro CHECKD freg, val
  fmv.x.d t5, \freg
  li t6, \val
  bne t5, t6, fail
.endm

/* Fail unless the low 32 bits of freg are val (single). Clobbers t5, t6. */
.macro CHECKS freg, val
  fmv.x.w t5, \freg
  slli t5, t5, 32
  srli t5, t5, 32
  li t6, \val
  bne t5, t6, fail
.endm

/* Fail unless fflags == val, then clear fflags. Clobbers t5, t6. */
.macro CHECK_FFLAGS val
  frflags t5
  li t6, \val
  bne t5, t6, fail
  fsflags zero
.endm

/* ---- M-mode trap expectations ------------------------------------------- */

.macro EXPECT_TRAP label
  la t6, \label
  la t5, trap_info
  sd t6, 24(t5)
.endm

.macro CHECK_CAUSE val
  CHECKMEM trap_info, \val, 0
.endm

.macro CHECK_EPC label
  la t5, trap_info
  ld t5, 8(t5)
  la t6, \label
  bne t5, t6, fail
.endm

.macro CHECK_TVAL val
  CHECKMEM trap_info, \val, 16
.endm

/* Fail unless mtval == address of label (+ off). */
.macro CHECK_TVAL_LABEL label, off=0
  la t5, trap_info
  ld t5, 16(t5)
  la t6, \label
  addi t6, t6, \off
  bne t5, t6, fail
.endm

/* Fail unless the trap counter equals n. */
.macro CHECK_TRAPS n
  CHECKMEM trap_info, \n, 32
.endm

/* Fail unless (mstatus at the last M trap & mask) == val. */
.macro CHECK_MSTATUS_BITS mask, val
  la t5, trap_info
  ld t5, 40(t5)
  li t6, \mask
  and t5, t5, t6
  li t6, \val
  bne t5, t6, fail
.endm

/* Fail unless (sstatus at the last S trap & mask) == val. */
.macro CHECK_SSTATUS_BITS mask, val
  la t5, s_trap_info
  ld t5, 40(t5)
  li t6, \mask
  and t5, t5, t6
  li t6, \val
  bne t5, t6, fail
.endm

/* Reset the trap counter and recorded cause. */
.macro CLEAR_TRAPS
  la t5, trap_info
  sd zero, 32(t5)
  li t6, -1
  sd t6, 0(t5)
.endm

/* ---- S-mode trap expectations (for delegated traps) --------------------- */

.macro EXPECT_STRAP label
  la t6, \label
  la t5, s_trap_info
  sd t6, 24(t5)
.endm

.macro CHECK_SCAUSE val
  CHECKMEM s_trap_info, \val, 0
.endm

.macro CHECK_SEPC label
  la t5, s_trap_info
  ld t5, 8(t5)
  la t6, \label
  bne t5, t6, fail
.endm

.macro CHECK_STVAL val
  CHECKMEM s_trap_info, \val, 16
.endm

.macro CHECK_STRAPS n
  CHECKMEM s_trap_info, \n, 32
.endm

/* ---- Privilege transitions --------------------------------------------- */

/* From M-mode: MRET into U-mode at label. Clobbers t6. */
.macro GOTO_U label
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  la t6, \label
  csrw mepc, t6
  mret
.endm

/* From M-mode: MRET into S-mode at label. Clobbers t6. */
.macro GOTO_S label
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, MSTATUS_MPP_S
  csrs mstatus, t6
  la t6, \label
  csrw mepc, t6
  mret
.endm

/* Run code at `code` in U/S-mode; it ends with ECALL (or any trap), and the
 * program continues at `resume` in M-mode with trap_info filled in. */
.macro RUN_U code, resume
  EXPECT_TRAP \resume
  GOTO_U \code
.endm

.macro RUN_S code, resume
  EXPECT_TRAP \resume
  GOTO_S \code
.endm

/* ---- Program skeleton --------------------------------------------------- */

/* Begin a program: entry point, M-mode trap vector, PMP open for S/U
 * (tolerated if PMP is absent), stack, clean delegation/interrupt state. */
.macro TEST_START
  .section .text.init, "ax", @progbits
  .option norvc
  .globl _start
_start:
  li gp, 0
  la t0, m_trap_vector
  csrw mtvec, t0
  csrw mie, zero
  csrw mip, zero
  /* PMP: one NAPOT region covering everything, RWX (skipped if absent). */
  la t0, 1f
  csrw mtvec, t0
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  .align 2
1:
  la t0, 2f
  csrw mtvec, t0
  csrw medeleg, zero
  csrw mideleg, zero
  csrw satp, zero
  .align 2
2:
  la t0, m_trap_vector
  csrw mtvec, t0
  li t0, MSTATUS_MPP | MSTATUS_MIE | MSTATUS_SIE | MSTATUS_MPRV | MSTATUS_FS
  csrc mstatus, t0
  la sp, stack_top
  la t0, trap_info
  sd zero, 24(t0)
  sd zero, 32(t0)
  la t0, s_trap_info
  sd zero, 24(t0)
  sd zero, 32(t0)
  j test_main

  .align 6
  .globl m_trap_vector
m_trap_vector:
  la t5, trap_info
  csrr t6, mcause
  sd t6, 0(t5)
  csrr t6, mepc
  sd t6, 8(t5)
  csrr t6, mtval
  sd t6, 16(t5)
  csrr t6, mstatus
  sd t6, 40(t5)
  ld t6, 32(t5)
  addi t6, t6, 1
  sd t6, 32(t5)
  ld t6, 24(t5)
  beqz t6, fail
  csrw mepc, t6
  sd zero, 24(t5)
  li t6, MSTATUS_MPP
  csrs mstatus, t6
  li t6, MSTATUS_MPRV | MSTATUS_MPIE
  csrc mstatus, t6
  mret

  .align 6
  .globl s_trap_vector
s_trap_vector:
  la t5, s_trap_info
  csrr t6, scause
  sd t6, 0(t5)
  csrr t6, sepc
  sd t6, 8(t5)
  csrr t6, stval
  sd t6, 16(t5)
  csrr t6, sstatus
  sd t6, 40(t5)
  ld t6, 32(t5)
  addi t6, t6, 1
  sd t6, 32(t5)
  ld t6, 24(t5)
  beqz t6, s_unexpected
  csrw sepc, t6
  sd zero, 24(t5)
  li t6, MSTATUS_SPP
  csrs sstatus, t6
  li t6, MSTATUS_SPIE
  csrc sstatus, t6
  sret
s_unexpected:
  la t5, trap_info  /* disarm M, then ECALL: M sees an unarmed trap => fail */
  sd zero, 24(t5)
  ecall

  .globl fail
fail:
  fence
  bnez gp, 1f
  li gp, 255
1:
  slli t0, gp, 1
  ori t0, t0, 1
  la t1, tohost
  sd t0, 0(t1)
  j 1b

  .globl pass
pass:
  fence
  li t0, 1
  la t1, tohost
1:
  sd t0, 0(t1)
  j 1b

  .text
test_main:
.endm

/* End a program: pass, plus the HTIF words and shared data. */
.macro TEST_END
  j pass

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8

  .data
  .align 6
  .globl trap_info
trap_info:   /* mcause, mepc, mtval, resume, count, mstatus at trap */
  .dword -1, 0, 0, 0, 0, 0
  .align 6
  .globl s_trap_info
s_trap_info: /* scause, sepc, stval, resume, count, sstatus at trap */
  .dword -1, 0, 0, 0, 0, 0

  .bss
  .align 12
stack_bottom:
  .skip 4096
  .globl stack_top
stack_top:
.endm

#endif
