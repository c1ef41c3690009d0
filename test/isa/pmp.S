/*
 * Physical memory protection (RISC-V privileged spec §3.7): TOR, NA4 and NAPOT regions, R/W/X for S and U,
 * no matching entry (S/U fail, M succeeds), priority of the lowest-numbered matching entry, an access that
 * matches an entry only partly, MPRV, the page-table walk checked as an S-mode access (§3.7.2), and locked
 * entries, which also bind M-mode and ignore writes (the last tests: a lock lasts until reset).
 *
 * Memory: the program image lies in [0x8000_0000, 0x8010_0000), which entry 15 (TOR from pmpaddr14) opens for
 * S/U; the test pages lie above it. Every case keeps that entry active: QEMU 7.2 lets S/U access everything
 * while no entry is active, which the spec does not (§3.7.1: with entries implemented and none matching, an
 * S/U access fails), so no case depends on that situation.
 */
#include "test-macros.h"

#define PAGE_A 0x80100000
#define PAGE_B 0x80101000
#define PAGE_C 0x80102000
#define PAGE_D 0x80103000
#define PAGE_E 0x80104000   /* Sv39 root page table */
#define PAGE_F 0x80105000
#define IMAGE_END 0x80100000

#define PMP_R     0x01
#define PMP_W     0x02
#define PMP_X     0x04
#define PMP_TOR   0x08
#define PMP_NA4   0x10
#define PMP_NAPOT 0x18
#define PMP_L     0x80

/* pmpaddr of a naturally aligned 4 KiB NAPOT region: 9 trailing ones (2^(9+3) bytes). */
#define NAPOT_4K(base) (((base) >> 2) | 0x1ff)

/* Entry n (0..7) of pmpcfg0 / entry 8 + n of pmpcfg2: set its configuration byte (the byte must be 0). */
.macro CFG0_SET n, cfg
  li t0, (\cfg) << (8 * \n)
  csrs pmpcfg0, t0
.endm
.macro CFG0_CLEAR n
  li t0, 0xff << (8 * \n)
  csrc pmpcfg0, t0
.endm

/* All entries off, then entry 15 = TOR [IMAGE base, IMAGE_END) RWX: code, data, stack and tohost for S/U. */
.macro PMP_RESET
  csrw pmpcfg0, zero
  csrw pmpcfg2, zero
  li t0, 0x80000000 >> 2
  csrw pmpaddr14, t0
  li t0, IMAGE_END >> 2
  csrw pmpaddr15, t0
  li t0, (PMP_TOR | PMP_R | PMP_W | PMP_X) << 56
  csrw pmpcfg2, t0
.endm

TEST_START

  /* ---- the CSRs (1) ---- */
  TEST 1
  li t0, PAGE_A >> 2
  csrw pmpaddr3, t0
  csrr a0, pmpaddr3
  CHECK a0, PAGE_A >> 2
  li t0, 0x1f << 24
  csrw pmpcfg0, t0
  csrr a0, pmpcfg0
  CHECK a0, 0x1f << 24
  li t0, 0x0f << 56
  csrw pmpcfg2, t0
  csrr a0, pmpcfg2
  CHECK a0, 0x0f << 56

  /* test data, written from M-mode (no entry locked: M is unrestricted) */
  li t0, PAGE_A
  li t1, 0x1111
  sd t1, 0(t0)
  li t0, PAGE_B
  li t1, 0x2222
  sd t1, 0(t0)
  li t0, PAGE_C
  li t1, 0x3333
  sw t1, 0(t0)
  li t1, 0x4444
  sw t1, 4(t0)

  PMP_RESET
  /* entry 1 = TOR [pmpaddr0, pmpaddr1) = page A, read-only */
  li t0, PAGE_A >> 2
  csrw pmpaddr0, t0
  li t0, (PAGE_A + 0x1000) >> 2
  csrw pmpaddr1, t0
  CFG0_SET 1, PMP_TOR | PMP_R

  /* ---- TOR (2-3) ---- */
  TEST 2                                   /* U may read page A */
  li a0, 0
  RUN_U u_load_a, 1f
1:CHECK_CAUSE CAUSE_ECALL_U
  CHECK a0, 0x1111
  TEST 3                                   /* but not write it: store access fault, tval = address */
  RUN_U u_store_a, 1f
1:CHECK_CAUSE CAUSE_STORE_ACCESS
  CHECK_TVAL PAGE_A + 8
  CHECK_EPC u_store_a_insn
  RUN_S s_store_a, 1f                      /* nor S */
1:CHECK_CAUSE CAUSE_STORE_ACCESS
  CHECK_TVAL PAGE_A + 8

  /* ---- no matching entry (4-5) ---- */
  TEST 4                                   /* S: load access fault */
  RUN_S s_load_b, 1f
1:CHECK_CAUSE CAUSE_LOAD_ACCESS
  CHECK_TVAL PAGE_B
  TEST 5                                   /* M: allowed, also where an unlocked entry says read-only */
  li t0, PAGE_B
  ld a0, 0(t0)
  CHECK a0, 0x2222
  li t0, PAGE_A
  li t1, 0x5555
  sd t1, 16(t0)
  ld a0, 16(t0)
  CHECK a0, 0x5555

  /* ---- NAPOT (6) ---- */
  TEST 6                                   /* entry 2 = NAPOT page B, RW: S reads and writes it */
  li t0, NAPOT_4K(PAGE_B)
  csrw pmpaddr2, t0
  CFG0_SET 2, PMP_NAPOT | PMP_R | PMP_W
  li a0, 0
  RUN_S s_load_b, 1f
1:CHECK_CAUSE CAUSE_ECALL_S
  CHECK a0, 0x2222
  RUN_U u_store_b, 1f
1:CHECK_CAUSE CAUSE_ECALL_U
  li t0, PAGE_B
  ld a0, 8(t0)
  CHECK a0, 0x77

  /* ---- NA4 and partial matches (7-8) ---- */
  TEST 7                                   /* entry 3 = NA4 at page C, R: the word there is readable */
  li t0, PAGE_C >> 2
  csrw pmpaddr3, t0
  CFG0_SET 3, PMP_NA4 | PMP_R
  li a0, 0
  RUN_S s_lw_c0, 1f
1:CHECK_CAUSE CAUSE_ECALL_S
  CHECK a0, 0x3333
  RUN_S s_lw_c4, 1f                        /* the next word is not covered */
1:CHECK_CAUSE CAUSE_LOAD_ACCESS
  CHECK_TVAL PAGE_C + 4
  TEST 8                                   /* an 8-byte load matching the entry only partly fails */
  RUN_S s_ld_c0, 1f
1:CHECK_CAUSE CAUSE_LOAD_ACCESS
  CHECK_TVAL PAGE_C

  /* ---- X and priority (9-11) ---- */
  TEST 9                                   /* entry 4 = NAPOT x_page, RX: U executes there */
  la t0, x_page
  srli t0, t0, 2
  ori t0, t0, 0x1ff
  csrw pmpaddr4, t0
  CFG0_SET 4, PMP_NAPOT | PMP_R | PMP_X
  li a0, 0
  RUN_U x_page, 1f
1:CHECK_CAUSE CAUSE_ECALL_U
  CHECK a0, 77
  TEST 10                                  /* R only: instruction access fault (entry 4 wins over entry 15) */
  CFG0_CLEAR 4
  CFG0_SET 4, PMP_NAPOT | PMP_R
  li a0, 0
  RUN_U x_page, 1f
1:CHECK_CAUSE CAUSE_FETCH_ACCESS
  CHECK_EPC x_page
  CHECK_TVAL_LABEL x_page
  CHECK a0, 0
  RUN_S x_page, 1f
1:CHECK_CAUSE CAUSE_FETCH_ACCESS
  TEST 11                                  /* entry 5 = NAPOT page A, RW: entry 1 (R) still decides */
  li t0, NAPOT_4K(PAGE_A)
  csrw pmpaddr5, t0
  CFG0_SET 5, PMP_NAPOT | PMP_R | PMP_W
  RUN_U u_store_a, 1f
1:CHECK_CAUSE CAUSE_STORE_ACCESS
  li t0, PAGE_A
  li t1, 0x99
  sd t1, 8(t0)
  CFG0_CLEAR 1                             /* entry 1 off: now entry 5 decides */
  RUN_U u_store_a, 1f
1:CHECK_CAUSE CAUSE_ECALL_U
  li t0, PAGE_A
  ld a0, 8(t0)
  CHECK a0, 0

  /* ---- MPRV (12) ---- */
  TEST 12                                  /* M loads with MPRV = 1, MPP = U are checked as U accesses */
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  li t0, PAGE_B                            /* entry 2 allows U */
  ld a0, 0(t0)
  CHECK a0, 0x2222
  EXPECT_TRAP 1f
  li t0, PAGE_D                            /* no entry matches */
m_mprv_load:
  ld a0, 0(t0)
  j fail
1:CHECK_CAUSE CAUSE_LOAD_ACCESS
  CHECK_TVAL PAGE_D
  CHECK_EPC m_mprv_load
  li t0, MSTATUS_MPRV                      /* (the handler cleared MPRV already) */
  csrc mstatus, t0

  /* ---- the page-table walk is an S-mode access (13) ---- */
  TEST 13
  li t0, PAGE_E                            /* root[2]: 1 GiB identity page at 0x8000_0000, RWX, A and D set */
  li t1, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  sd t1, 16(t0)
  li t0, SATP_SV39 | (PAGE_E >> 12)
  csrw satp, t0
  sfence.vma
  RUN_S s_load_b, 1f                       /* no entry covers the page table: the fetch's walk faults */
1:CHECK_CAUSE CAUSE_FETCH_ACCESS
  CHECK_EPC s_load_b
  CHECK_TVAL_LABEL s_load_b
  li t0, NAPOT_4K(PAGE_E)                  /* entry 6 = NAPOT page E, R: the walk may read it */
  csrw pmpaddr6, t0
  CFG0_SET 6, PMP_NAPOT | PMP_R
  li a0, 0
  RUN_S s_load_b, 1f
1:CHECK_CAUSE CAUSE_ECALL_S
  CHECK a0, 0x2222
  csrw satp, zero
  sfence.vma

  /* ---- a code page split between two entries (17) ---- */
  TEST 17                                  /* RX on its first 2 KiB, R on the rest: every fetch is checked */
  la t0, x_page2
  srli t0, t0, 2
  ori t0, t0, 0xff                         /* 2 KiB NAPOT: 8 trailing ones */
  csrw pmpaddr4, t0
  CFG0_CLEAR 4
  CFG0_SET 4, PMP_NAPOT | PMP_R | PMP_X
  la t0, x_page2_hi
  srli t0, t0, 2
  ori t0, t0, 0xff
  csrw pmpaddr8, t0
  li t0, PMP_NAPOT | PMP_R
  csrs pmpcfg2, t0
  li a0, 0
  RUN_U x_page2, 1f
1:CHECK_CAUSE CAUSE_FETCH_ACCESS
  CHECK_TVAL_LABEL x_page2_hi
  CHECK_EPC x_page2_hi
  CHECK a0, 3
  li t0, 0xff
  csrc pmpcfg2, t0
  CFG0_CLEAR 4

  /* ---- locked entries (14-16): last, a lock lasts until reset ---- */
  TEST 14                                  /* entry 7 = NAPOT page D, R, locked: binds M too */
  li t0, PAGE_D
  li t1, 0x6666
  sd t1, 0(t0)
  li t0, NAPOT_4K(PAGE_D)
  csrw pmpaddr7, t0
  CFG0_SET 7, PMP_NAPOT | PMP_R | PMP_L
  li t0, PAGE_D
  ld a0, 0(t0)
  CHECK a0, 0x6666
  EXPECT_TRAP 1f
m_store_d:
  sd zero, 0(t0)
  j fail
1:CHECK_CAUSE CAUSE_STORE_ACCESS
  CHECK_TVAL PAGE_D
  CHECK_EPC m_store_d
  li t0, PAGE_D
  ld a0, 0(t0)
  CHECK a0, 0x6666
  TEST 15                                  /* writes to a locked entry's pmpcfg byte and pmpaddr are ignored */
  CFG0_CLEAR 7
  csrr a0, pmpcfg0
  srli a0, a0, 56
  CHECK a0, PMP_NAPOT | PMP_R | PMP_L
  csrw pmpaddr7, zero
  csrr a0, pmpaddr7
  CHECK a0, NAPOT_4K(PAGE_D)
  TEST 16                                  /* a locked TOR entry 9 also locks pmpaddr8, its lower bound */
  li t0, PAGE_F >> 2
  csrw pmpaddr8, t0
  li t0, (PAGE_F + 0x1000) >> 2
  csrw pmpaddr9, t0
  li t0, (PMP_TOR | PMP_R | PMP_L) << 8
  csrs pmpcfg2, t0
  li t0, PAGE_A >> 2
  csrw pmpaddr8, t0
  csrr a0, pmpaddr8
  CHECK a0, PAGE_F >> 2
  li t0, PAGE_F
  EXPECT_TRAP 1f
  sd zero, 0(t0)
  j fail
1:CHECK_CAUSE CAUSE_STORE_ACCESS
  CHECK_TVAL PAGE_F

TEST_END

/* S/U code: each ends with ECALL; the M handler resumes the program. */
  .text
u_load_a:
  li t0, PAGE_A
  ld a0, 0(t0)
  ecall
u_store_a:
  li t0, PAGE_A
u_store_a_insn:
  sd zero, 8(t0)
  ecall
s_store_a:
  li t0, PAGE_A
  sd zero, 8(t0)
  ecall
s_load_b:
  li t0, PAGE_B
  ld a0, 0(t0)
  ecall
u_store_b:
  li t0, PAGE_B
  li t1, 0x77
  sd t1, 8(t0)
  ecall
s_lw_c0:
  li t0, PAGE_C
  lw a0, 0(t0)
  ecall
s_lw_c4:
  li t0, PAGE_C
  lw a0, 4(t0)
  ecall
s_ld_c0:
  li t0, PAGE_C
  ld a0, 0(t0)
  ecall

  /* A page of its own, so that a PMP entry can cover exactly this code. */
  .align 12
x_page:
  li a0, 77
  ecall
  .align 12

  /* A page whose halves get different PMP entries (test 17). */
x_page2:
  addi a0, a0, 1
  addi a0, a0, 1
  addi a0, a0, 1
  j x_page2_hi
  .align 11
x_page2_hi:
  li a0, 99
  ecall
  .align 12
