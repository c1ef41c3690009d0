/* RV64A: LR/SC (paired success, failure without a reservation, LR.W sign
 * extension, a retry loop), every AMO in W and D width with its returned
 * (old) value and the memory result, signed/unsigned min/max edges, W forms
 * touching only their 32 bits, aq/rl variants. Only behaviour the spec
 * guarantees is tested. */
#include "test-macros.h"

/* AMO: memory starts as init (64-bit), rs2 = src; expect rd = old, memory = new */
.macro AMO n, op, init, src, old, new, off=0
  TEST \n
  la a1, amem
  li t0, \init
  sd t0, 0(a1)
  addi a1, a1, \off
  li a2, \src
  li a0, 0x5555
  \op a0, a2, (a1)
  CHECK a0, \old
  CHECKMEM amem, \new
.endm

  TEST_START

  /* ---- LR/SC (1-6) ---- */
  TEST 1                                 /* LR.D then SC.D succeeds, rd = 0 */
  la a1, amem
  li t0, 0x1122334455667788
  sd t0, 0(a1)
  lr.d a0, (a1)
  li a3, 0x0102030405060708
  sc.d a2, a3, (a1)
  CHECK a0, 0x1122334455667788
  CHECK a2, 0
  CHECKMEM amem, 0x0102030405060708
  TEST 2                                 /* SC.D without a reservation fails, memory unchanged */
  li a3, 0x77
  sc.d a2, a3, (a1)
  beqz a2, fail
  CHECKMEM amem, 0x0102030405060708
  TEST 3                                 /* LR.W sign-extends; SC.W writes 32 bits */
  li t0, 0xaaaaaaaa80000001
  sd t0, 0(a1)
  lr.w a0, (a1)
  li a3, 0x12345678
  sc.w a2, a3, (a1)
  CHECK a0, 0xffffffff80000001
  CHECK a2, 0
  CHECKMEM amem, 0xaaaaaaaa12345678
  TEST 4                                 /* SC.W without a reservation fails */
  li a3, 0x99
  sc.w a2, a3, (a1)
  beqz a2, fail
  CHECKMEM amem, 0xaaaaaaaa12345678
  TEST 5                                 /* constrained LR/SC increment loop, 10 times */
  sd zero, 0(a1)
  li s0, 10
1:lr.d a0, (a1)
  addi a0, a0, 1
  sc.d a2, a0, (a1)
  bnez a2, 1b
  addi s0, s0, -1
  bnez s0, 1b
  CHECKMEM amem, 10
  TEST 6                                 /* aq/rl forms */
  lr.d.aq a0, (a1)
  li a3, 11
  sc.d.rl a2, a3, (a1)
  CHECK a2, 0
  CHECK a0, 10
  CHECKMEM amem, 11

  /* ---- AMO*.D (10-20) ---- */
  AMO 10, amoswap.d, 0x1111, -1, 0x1111, -1
  AMO 11, amoadd.d, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000
  AMO 12, amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00
  AMO 13, amoor.d,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0
  AMO 14, amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0
  AMO 15, amomax.d, -5, 3, -5, 3
  AMO 16, amomax.d, 3, -5, 3, 3
  AMO 17, amomaxu.d, -5, 3, -5, -5
  AMO 18, amomin.d, -5, 3, -5, -5
  AMO 19, amominu.d, -5, 3, -5, 3
  AMO 20, amominu.d, 0, -1, 0, 0

  /* ---- AMO*.W: old value sign-extended, upper word untouched (21-32) ---- */
  AMO 21, amoswap.w, 0xaaaaaaaa80000000, 0x12345678, 0xffffffff80000000, 0xaaaaaaaa12345678
  AMO 22, amoadd.w,  0xaaaaaaaaffffffff, 1, -1, 0xaaaaaaaa00000000      /* no carry out */
  AMO 23, amoand.w,  0xaaaaaaaaf0f0f0f0, 0xffff0000ff00ff00, 0xfffffffff0f0f0f0, 0xaaaaaaaaf000f000
  AMO 24, amoor.w,   0xaaaaaaaa0f0f0f0f, 0xf0, 0x0f0f0f0f, 0xaaaaaaaa0f0f0fff
  AMO 25, amoxor.w,  0xaaaaaaaaffffffff, 0xffff, -1, 0xaaaaaaaaffff0000
  AMO 26, amomax.w,  0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa00000001
  AMO 27, amomax.w,  0xaaaaaaaa00000005, 0xffffffff, 5, 0xaaaaaaaa00000005  /* 32-bit signed: -1 < 5 */
  AMO 28, amomaxu.w, 0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa80000000
  AMO 29, amomin.w,  0xaaaaaaaa00000005, 0xffffffff, 5, 0xaaaaaaaaffffffff
  AMO 30, amominu.w, 0xaaaaaaaa00000005, 0xffffffff, 5, 0xaaaaaaaa00000005
  AMO 31, amominu.w, 0xaaaaaaaa00000005, 0x100000003, 5, 0xaaaaaaaa00000003 /* upper rs2 bits ignored */
  AMO 32, amoadd.w,  0x0000000100000002, 1, 1, 0x0000000200000002, 4        /* upper word */

  /* ---- register corner cases and ordering bits (33-36) ---- */
  TEST 33                                /* rd = x0: memory still written */
  la a1, amem
  sd zero, 0(a1)
  li a2, 9
  amoswap.d x0, a2, (a1)
  CHECKMEM amem, 9
  TEST 34                                /* rd == rs2 */
  li a2, 5
  amoadd.d a2, a2, (a1)
  CHECK a2, 9
  CHECKMEM amem, 14
  TEST 35                                /* .aq .rl .aqrl */
  li a2, 1
  amoadd.d.aq a0, a2, (a1)
  amoadd.w.rl a0, a2, (a1)
  amoadd.d.aqrl a0, a2, (a1)
  CHECK a0, 16
  CHECKMEM amem, 17
  TEST 36                                /* AMO result visible to a plain load */
  ld a0, 0(a1)
  CHECK a0, 17

  TEST_END

  .data
  .align 4
amem:
  .dword 0, 0
