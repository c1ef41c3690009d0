/* RV64F (single precision) plus the FP control state:
 * arithmetic, fused multiply-add (single rounding), sqrt, min/max, compares,
 * classify (all 10 classes), conversions to/from int with saturation and
 * every rounding mode, moves, NaN-boxing (results boxed, unboxed inputs read
 * as the canonical NaN), sign injection, flw/fsw, exact fflags after every
 * op, frm/fflags/fcsr CSRs, dynamic vs static rounding, invalid frm,
 * mstatus.FS (Off -> illegal instruction with mtval = the instruction;
 * FP state writes set FS = Dirty and SD). */
#include "test-macros.h"
#include "fp-macros.h"

#define ONE   0x3f800000
#define TWO   0x40000000
#define THREE 0x40400000
#define MONE  0xbf800000
#define INF   0x7f800000
#define NINF  0xff800000
#define QNAN  0x7fc00000
#define SNAN  0x7f800001
#define NZERO 0x80000000

  TEST_START
  FP_ON

  /* ---- arithmetic (1-13) ---- */
  FS2 1, fadd.s, THREE, 0, ONE, TWO
  FS2 2, fsub.s, MONE, 0, ONE, TWO
  FS2 3, fmul.s, 0x40a00000, 0, 0x40200000, TWO               /* 2.5 * 2 = 5 */
  FS2 4, fdiv.s, 0x3eaaaaab, FLAG_NX, ONE, THREE              /* 1/3 */
  FS2 5, fdiv.s, INF, FLAG_DZ, ONE, 0
  FS2 6, fdiv.s, QNAN, FLAG_NV, 0, 0                          /* canonical NaN */
  FS1 7, fsqrt.s, 0x3fb504f3, FLAG_NX, TWO
  FS1 8, fsqrt.s, QNAN, FLAG_NV, MONE
  FS2 9, fadd.s, QNAN, FLAG_NV, INF, NINF
  FS2 10, fadd.s, INF, FLAG_OF|FLAG_NX, 0x7f7fffff, 0x7f7fffff
  FS2 11, fmul.s, 0, FLAG_UF|FLAG_NX, 0x00800000, 0x00800000
  FS2 12, fadd.s, QNAN, FLAG_NV, SNAN, ONE                    /* sNaN operand */
  FS2 13, fadd.s, QNAN, 0, 0x7fc12345, ONE                    /* qNaN: quiet, canonical result */
  FS1 14, fsqrt.s, TWO, 0, 0x40800000                         /* exact */

  /* ---- min / max (15-20) ---- */
  FS2 15, fmin.s, ONE, 0, ONE, TWO
  FS2 16, fmax.s, TWO, 0, ONE, TWO
  FS2 17, fmin.s, NZERO, 0, 0, NZERO                          /* -0 < +0 */
  FS2 18, fmax.s, 0, 0, NZERO, 0
  FS2 19, fmin.s, ONE, 0, QNAN, ONE                           /* one NaN: the other */
  FS2 20, fmin.s, ONE, FLAG_NV, SNAN, ONE
  FS2 21, fmax.s, QNAN, 0, QNAN, 0x7fc00001                   /* both NaN: canonical */

  /* ---- fused multiply-add (22-26) ---- */
  FS3 22, fmadd.s, 0x40e00000, 0, TWO, THREE, ONE             /*  2*3+1 =  7 */
  FS3 23, fmsub.s, 0x40a00000, 0, TWO, THREE, ONE             /*  2*3-1 =  5 */
  FS3 24, fnmsub.s, 0xc0a00000, 0, TWO, THREE, ONE            /* -2*3+1 = -5 */
  FS3 25, fnmadd.s, 0xc0e00000, 0, TWO, THREE, ONE            /* -2*3-1 = -7 */
  /* (1+2^-23)(1-2^-23) - 1 = -2^-46 exactly: only a fused op gets this */
  FS3 26, fmsub.s, 0xa8800000, 0, 0x3f800001, 0x3f7ffffe, ONE
  FS3 27, fmadd.s, QNAN, FLAG_NV, INF, 0, ONE                 /* inf * 0 */

  /* ---- compares (28-35) ---- */
  FCMPS 28, flt.s, 1, 0, ONE, TWO
  FCMPS 29, flt.s, 0, 0, TWO, ONE
  FCMPS 30, fle.s, 1, 0, TWO, TWO
  FCMPS 31, feq.s, 1, 0, NZERO, 0                             /* -0 == +0 */
  FCMPS 32, feq.s, 0, 0, QNAN, ONE                            /* quiet compare */
  FCMPS 33, feq.s, 0, FLAG_NV, SNAN, ONE
  FCMPS 34, flt.s, 0, FLAG_NV, QNAN, ONE                      /* signaling compare */
  FCMPS 35, fle.s, 0, FLAG_NV, ONE, QNAN

  /* ---- classify: each of the 10 classes (36-45) ---- */
  FCLASSS 36, 0x001, NINF
  FCLASSS 37, 0x002, MONE
  FCLASSS 38, 0x004, 0x80000001
  FCLASSS 39, 0x008, NZERO
  FCLASSS 40, 0x010, 0
  FCLASSS 41, 0x020, 0x00000001
  FCLASSS 42, 0x040, ONE
  FCLASSS 43, 0x080, INF
  FCLASSS 44, 0x100, SNAN
  FCLASSS 45, 0x200, QNAN

  /* ---- float -> int, rounding modes and saturation (46-67) ---- */
  FCVTI_S 46, fcvt.w.s, rne, 2, FLAG_NX, 0x40200000          /* 2.5 ties to even */
  FCVTI_S 47, fcvt.w.s, rtz, 2, FLAG_NX, 0x40200000
  FCVTI_S 48, fcvt.w.s, rdn, 2, FLAG_NX, 0x40200000
  FCVTI_S 49, fcvt.w.s, rup, 3, FLAG_NX, 0x40200000
  FCVTI_S 50, fcvt.w.s, rmm, 3, FLAG_NX, 0x40200000          /* ties away */
  FCVTI_S 51, fcvt.w.s, rdn, -3, FLAG_NX, 0xc0200000
  FCVTI_S 52, fcvt.w.s, rup, -2, FLAG_NX, 0xc0200000
  FCVTI_S 53, fcvt.w.s, rtz, 0x7fffffff, FLAG_NV, 0x4f32d05e          /* 3e9 saturates */
  FCVTI_S 54, fcvt.w.s, rtz, 0xffffffff80000000, FLAG_NV, 0xcf32d05e  /* -3e9 */
  FCVTI_S 55, fcvt.w.s, rtz, 0x7fffffff, FLAG_NV, QNAN                /* NaN -> max */
  FCVTI_S 56, fcvt.w.s, rtz, 0xffffffff80000000, FLAG_NV, NINF
  FCVTI_S 57, fcvt.wu.s, rtz, 0xffffffffb2d05e00, 0, 0x4f32d05e       /* 3e9 fits, sign-extended */
  FCVTI_S 58, fcvt.wu.s, rtz, 0, FLAG_NV, MONE
  FCVTI_S 59, fcvt.wu.s, rtz, -1, FLAG_NV, QNAN                       /* 2^32-1, sign-extended */
  FCVTI_S 60, fcvt.l.s, rtz, 0x10000000000, 0, 0x53800000             /* 2^40 */
  FCVTI_S 61, fcvt.l.s, rtz, 0x7fffffffffffffff, FLAG_NV, QNAN
  FCVTI_S 62, fcvt.l.s, rtz, 0x8000000000000000, FLAG_NV, NINF
  FCVTI_S 63, fcvt.lu.s, rtz, -1, FLAG_NV, INF
  FCVTI_S 64, fcvt.lu.s, rtz, 0, FLAG_NV, MONE
  FCVTI_S 65, fcvt.lu.s, rtz, 0, FLAG_NX, 0xbf000000                  /* -0.5 -> 0, inexact only */
  FCVTI_S 66, fcvt.w.s, rtz, -1, 0, MONE
  FCVTI_S 67, fcvt.l.s, rne, 0, FLAG_NX, 0x3f000000                   /* 0.5 ties to even 0 */

  /* ---- int -> float (68-73) ---- */
  FCVTF 68, fcvt.s.w, BOX(MONE), 0, -1
  FCVTF 69, fcvt.s.w, BOX(ONE), 0, 0x100000001                        /* low 32 bits only */
  FCVTF 70, fcvt.s.wu, BOX(0x4f800000), FLAG_NX, 0xffffffff           /* 2^32-1 -> 2^32 */
  FCVTF 71, fcvt.s.l, BOX(0x5f000000), FLAG_NX, 0x7fffffffffffffff
  FCVTF 72, fcvt.s.lu, BOX(0x5f800000), FLAG_NX, -1
  FCVTF 73, fcvt.s.l, BOX(0xc0400000), 0, -3

  TEST 99                                 /* int -> float honours the rounding mode */
  li a0, 0x7fffffff
  fcvt.s.w fa2, a0, rtz
  CHECKD fa2, BOX(0x4effffff)
  CHECK_FFLAGS FLAG_NX
  fcvt.s.w fa2, a0, rne
  CHECKD fa2, BOX(0x4f000000)
  CHECK_FFLAGS FLAG_NX
  li a0, -0x7fffffff
  fcvt.s.w fa2, a0, rdn
  CHECKD fa2, BOX(0xcf000000)
  fcvt.s.w fa2, a0, rup
  CHECKD fa2, BOX(0xceffffff)
  fsflags zero

  /* ---- moves, NaN-boxing, sign injection, loads/stores (74-84) ---- */
  TEST 74                                 /* fmv.x.w sign-extends bit 31 */
  LDS fa0, 0x80000001
  fmv.x.w a0, fa0
  CHECK a0, 0xffffffff80000001
  TEST 75                                 /* fmv.w.x boxes */
  li a0, 0x123456789abcdef0
  fmv.w.x fa0, a0
  CHECKD fa0, 0xffffffff9abcdef0
  TEST 76                                 /* unboxed input reads as canonical NaN */
  LDD fa0, 0x000000003f800000
  LDS fa1, ONE
  fsflags zero
  fadd.s fa2, fa0, fa1
  CHECKD fa2, BOX(QNAN)
  CHECK_FFLAGS 0
  TEST 77                                 /* ... also for sign injection */
  LDD fa0, 0x00000000bf800000
  fsgnj.s fa2, fa0, fa0
  CHECKD fa2, BOX(QNAN)
  FS2 78, fsgnj.s, MONE, 0, ONE, 0xc0000000
  FS2 79, fsgnjn.s, ONE, 0, ONE, 0xc0000000
  FS2 80, fsgnjx.s, ONE, 0, MONE, 0xc0000000
  FS2 81, fsgnjx.s, MONE, 0, MONE, TWO
  TEST 82                                 /* flw boxes, fsw stores 32 bits */
  la s0, fbuf
  li t0, -1
  sd t0, 0(s0)
  li t0, 0x40490fdb
  sw t0, 8(s0)
  flw fa0, 8(s0)
  CHECKD fa0, BOX(0x40490fdb)
  fsw fa0, 0(s0)
  CHECKMEM fbuf, 0xffffffff40490fdb
  TEST 83                                 /* fsw of an unboxed register stores its low bits */
  LDD fa0, 0x1122334455667788
  fsw fa0, 4(s0)
  CHECKMEM fbuf, 0x5566778840490fdb
  TEST 84                                 /* fmv.x.w of an unboxed register: low bits */
  fmv.x.w a0, fa0
  CHECK a0, 0x55667788

  /* ---- fcsr / frm / fflags CSRs (85-92) ---- */
  TEST 85                                 /* fcsr = frm << 5 | fflags */
  csrw fcsr, zero
  li t0, 1
  csrw frm, t0
  li t0, FLAG_NX|FLAG_DZ
  csrw fflags, t0
  csrr a0, fcsr
  CHECK a0, 0x29
  TEST 86                                 /* field widths: fflags 5 bits, frm 3 bits */
  li t0, 0xff
  csrw fflags, t0
  csrr a0, fflags
  CHECK a0, 0x1f
  csrw frm, t0
  csrr a0, frm
  CHECK a0, 7
  li t0, 0xfff
  csrw fcsr, t0
  csrr a0, fcsr
  CHECK a0, 0xff
  TEST 87                                 /* fsrm/fsflags swap forms */
  fsrmi a1, 2
  CHECK a1, 7
  csrr a0, frm
  CHECK a0, 2
  fsflagsi a1, 0
  CHECK a1, 0x1f
  TEST 88                                 /* dynamic rounding follows frm */
  LDS fa0, ONE
  LDS fa1, THREE
  fsrmi 1                                 /* RTZ */
  fdiv.s fa2, fa0, fa1
  CHECKD fa2, BOX(0x3eaaaaaa)
  fsrmi 3                                 /* RUP */
  fdiv.s fa2, fa0, fa1
  CHECKD fa2, BOX(0x3eaaaaab)
  fsrmi 2                                 /* RDN */
  fneg.s fa4, fa0
  fdiv.s fa2, fa4, fa1
  CHECKD fa2, BOX(0xbeaaaaab)
  fsrmi 3                                 /* RUP on a negative */
  fdiv.s fa2, fa4, fa1
  CHECKD fa2, BOX(0xbeaaaaaa)
  TEST 89                                 /* static rm overrides frm */
  fsrmi 3
  fdiv.s fa2, fa0, fa1, rtz
  CHECKD fa2, BOX(0x3eaaaaaa)
  TEST 90                                 /* overflow under RTZ gives max finite */
  fsrmi 1
  LDS fa0, 0x7f7fffff
  fsflags zero
  fadd.s fa2, fa0, fa0
  CHECKD fa2, BOX(0x7f7fffff)
  CHECK_FFLAGS FLAG_OF|FLAG_NX
  TEST 91                                 /* flags accrue */
  fsrmi 0
  LDS fa0, ONE
  LDS fa1, THREE
  fdiv.s fa2, fa0, fa1                    /* NX */
  LDS fa1, 0
  fdiv.s fa2, fa0, fa1                    /* DZ */
  CHECK_FFLAGS FLAG_NX|FLAG_DZ
  TEST 92                                 /* invalid frm (5) + dynamic rm -> illegal */
  fsrmi 5
  EXPECT_TRAP 2f
1:fadd.s fa2, fa0, fa0
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 1b
  fsrmi 0

  /* ---- mstatus.FS (93-98) ---- */
  TEST 93                                 /* FS = Off: FP instruction is illegal, mtval = its bits */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  EXPECT_TRAP 2f
1:fadd.s fa2, fa0, fa0
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  CHECK_EPC 1b
  la t0, 1b
  lwu t1, 0(t0)
  la t5, trap_info
  ld t5, 16(t5)
  bne t5, t1, fail
  TEST 94                                 /* FS = Off: FP CSR access is illegal too */
  EXPECT_TRAP 2f
  csrr a0, fflags
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 95                                 /* FS = Off: FP load is illegal */
  EXPECT_TRAP 2f
  flw fa0, 0(s0)
  j fail
2:CHECK_CAUSE CAUSE_ILLEGAL
  TEST 96                                 /* FS = Initial + f-register write -> Dirty, SD = 1 */
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  fmv.w.x fa0, zero
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  bgez a0, fail                           /* SD is bit 63 */
  TEST 97                                 /* FS = Clean + fflags write -> Dirty */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_CLEAN
  csrs mstatus, t0
  csrr a0, mstatus
  bltz a0, fail                           /* SD clear while Clean */
  csrwi fflags, 1
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  TEST 98                                 /* FS = Clean + arithmetic -> Dirty */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_CLEAN
  csrs mstatus, t0
  fadd.s fa1, fa0, fa0
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3

  TEST_END

  .data
  .align 4
fbuf:
  .dword 0, 0
