/* RV64D (double precision): arithmetic, fused multiply-add (single rounding),
 * sqrt, min/max, compares, classify (all 10 classes), conversions to/from
 * 32/64-bit integers with saturation and rounding modes, single<->double
 * conversion (NaN canonicalisation, boxing, overflow), fmv.x.d/fmv.d.x,
 * fld/fsd, sign injection, exact fflags after every op. The FP CSRs and
 * mstatus.FS are covered in rvf.S. */
#include "test-macros.h"
#include "fp-macros.h"

#define ONE   0x3ff0000000000000
#define TWO   0x4000000000000000
#define THREE 0x4008000000000000
#define MONE  0xbff0000000000000
#define INF   0x7ff0000000000000
#define NINF  0xfff0000000000000
#define QNAN  0x7ff8000000000000
#define SNAN  0x7ff0000000000001
#define NZERO 0x8000000000000000
#define DMAX  0x7fefffffffffffff

  TEST_START
  FP_ON

  /* ---- arithmetic (1-14) ---- */
  FD2 1, fadd.d, THREE, 0, ONE, TWO
  FD2 2, fsub.d, MONE, 0, ONE, TWO
  FD2 3, fmul.d, 0x4014000000000000, 0, 0x4004000000000000, TWO   /* 2.5 * 2 = 5 */
  FD2 4, fdiv.d, 0x3fd5555555555555, FLAG_NX, ONE, THREE         /* 1/3 */
  FD2 5, fdiv.d, NINF, FLAG_DZ, MONE, 0
  FD2 6, fdiv.d, QNAN, FLAG_NV, INF, INF
  FD1 7, fsqrt.d, 0x3ff6a09e667f3bcd, FLAG_NX, TWO
  FD1 8, fsqrt.d, QNAN, FLAG_NV, MONE
  FD1 9, fsqrt.d, NZERO, 0, NZERO                               /* sqrt(-0) = -0 */
  FD2 10, fadd.d, INF, FLAG_OF|FLAG_NX, DMAX, DMAX
  FD2 11, fmul.d, 0, FLAG_UF|FLAG_NX, 0x0010000000000000, 0x0010000000000000
  FD2 12, fadd.d, QNAN, FLAG_NV, SNAN, ONE
  FD2 13, fsub.d, QNAN, 0, 0x7ff8000000001234, ONE              /* NaN payload not propagated */
  FD2 14, fsub.d, 0, 0, ONE, ONE                                /* x - x = +0 under RNE */

  /* ---- min / max (15-20) ---- */
  FD2 15, fmin.d, MONE, 0, MONE, TWO
  FD2 16, fmax.d, TWO, 0, MONE, TWO
  FD2 17, fmin.d, NZERO, 0, 0, NZERO
  FD2 18, fmax.d, 0, 0, 0, NZERO
  FD2 19, fmax.d, TWO, FLAG_NV, SNAN, TWO
  FD2 20, fmin.d, QNAN, 0, QNAN, QNAN

  /* ---- fused multiply-add (21-26) ---- */
  FD3 21, fmadd.d, 0x401c000000000000, 0, TWO, THREE, ONE       /*  7 */
  FD3 22, fmsub.d, 0x4014000000000000, 0, TWO, THREE, ONE       /*  5 */
  FD3 23, fnmsub.d, 0xc014000000000000, 0, TWO, THREE, ONE      /* -5 */
  FD3 24, fnmadd.d, 0xc01c000000000000, 0, TWO, THREE, ONE      /* -7 */
  /* (1+2^-52)(1-2^-52) - 1 = -2^-104 exactly (unfused would give 0) */
  FD3 25, fmsub.d, 0xb970000000000000, 0, 0x3ff0000000000001, 0x3feffffffffffffe, ONE
  FD3 26, fmadd.d, QNAN, FLAG_NV, 0, NINF, QNAN                 /* 0 * inf + qNaN: invalid */

  /* ---- compares (27-32) ---- */
  FCMPD 27, flt.d, 1, 0, MONE, ONE
  FCMPD 28, fle.d, 0, 0, TWO, ONE
  FCMPD 29, feq.d, 1, 0, TWO, TWO
  FCMPD 30, feq.d, 0, 0, QNAN, QNAN
  FCMPD 31, fle.d, 0, FLAG_NV, QNAN, ONE
  FCMPD 32, feq.d, 0, FLAG_NV, ONE, SNAN

  /* ---- classify (33-42) ---- */
  FCLASSD 33, 0x001, NINF
  FCLASSD 34, 0x002, MONE
  FCLASSD 35, 0x004, 0x800fffffffffffff
  FCLASSD 36, 0x008, NZERO
  FCLASSD 37, 0x010, 0
  FCLASSD 38, 0x020, 0x0000000000000001
  FCLASSD 39, 0x040, DMAX
  FCLASSD 40, 0x080, INF
  FCLASSD 41, 0x100, SNAN
  FCLASSD 42, 0x200, QNAN

  /* ---- double -> int (43-57) ---- */
  FCVTI_D 43, fcvt.w.d, rne, 2, FLAG_NX, 0x4004000000000000         /* 2.5 */
  FCVTI_D 44, fcvt.w.d, rmm, 3, FLAG_NX, 0x4004000000000000
  FCVTI_D 45, fcvt.w.d, rdn, -3, FLAG_NX, 0xc004000000000000
  FCVTI_D 46, fcvt.w.d, rtz, 0x7fffffff, FLAG_NV, 0x41e65a0bc0000000   /* 3e9 */
  FCVTI_D 47, fcvt.wu.d, rtz, 0xffffffffb2d05e00, 0, 0x41e65a0bc0000000
  FCVTI_D 48, fcvt.wu.d, rtz, 0, FLAG_NV, MONE
  FCVTI_D 49, fcvt.l.d, rtz, 0x7fffffffffffffff, FLAG_NV, 0x43e0000000000000  /* 2^63 */
  FCVTI_D 50, fcvt.l.d, rtz, 0x8000000000000000, 0, 0xc3e0000000000000        /* -2^63 exact */
  FCVTI_D 51, fcvt.lu.d, rtz, 0x8000000000000000, 0, 0x43e0000000000000
  FCVTI_D 52, fcvt.lu.d, rtz, -1, FLAG_NV, 0x43f0000000000000                  /* 2^64 */
  FCVTI_D 53, fcvt.lu.d, rtz, 0, FLAG_NV, NINF
  FCVTI_D 54, fcvt.l.d, rtz, 0x7fffffffffffffff, FLAG_NV, QNAN
  FCVTI_D 55, fcvt.w.d, rtz, 0x7fffffff, FLAG_NV, SNAN
  FCVTI_D 56, fcvt.l.d, rup, 1, FLAG_NX, 0x3cb0000000000000                    /* 2^-52 up */
  FCVTI_D 57, fcvt.wu.d, rtz, 0xffffffffffffffff, FLAG_NV, INF

  /* ---- int -> double (58-63) ---- */
  FCVTF 58, fcvt.d.l, MONE, 0, -1
  FCVTF 59, fcvt.d.lu, 0x43f0000000000000, FLAG_NX, -1
  FCVTF 60, fcvt.d.l, 0x4340000000000000, FLAG_NX, 0x20000000000001           /* 2^53+1 ties to even */
  FCVTF 61, fcvt.d.w, 0xc014000000000000, 0, 0x12345678fffffffb               /* low 32 bits: -5 */
  FCVTF 62, fcvt.d.wu, 0x41efffffffe00000, 0, 0xffffffff
  FCVTF 63, fcvt.d.l, 0, 0, 0

  /* ---- single <-> double (64-71) ---- */
  TEST 64                                  /* 1/3 narrows with rounding */
  LDD fa0, 0x3fd5555555555555
  fsflags zero
  fcvt.s.d fa2, fa0
  CHECKD fa2, BOX(0x3eaaaaab)
  CHECK_FFLAGS FLAG_NX
  TEST 65                                  /* overflow on narrowing */
  LDD fa0, DMAX
  fcvt.s.d fa2, fa0
  CHECKD fa2, BOX(0x7f800000)
  CHECK_FFLAGS FLAG_OF|FLAG_NX
  TEST 66                                  /* NaN -> canonical single NaN */
  LDD fa0, 0x7ff8000012345678
  fcvt.s.d fa2, fa0
  CHECKD fa2, BOX(0x7fc00000)
  CHECK_FFLAGS 0
  TEST 67
  LDD fa0, SNAN
  fcvt.s.d fa2, fa0
  CHECKD fa2, BOX(0x7fc00000)
  CHECK_FFLAGS FLAG_NV
  TEST 68                                  /* widening is exact */
  LDS fa0, 0x3eaaaaab
  fcvt.d.s fa2, fa0
  CHECKD fa2, 0x3fd5555560000000
  CHECK_FFLAGS 0
  TEST 69
  LDS fa0, 0x7f800001                       /* single sNaN */
  fcvt.d.s fa2, fa0
  CHECKD fa2, QNAN
  CHECK_FFLAGS FLAG_NV
  TEST 70                                  /* unboxed single input = canonical NaN */
  LDD fa0, 0x000000003f800000
  fcvt.d.s fa2, fa0
  CHECKD fa2, QNAN
  CHECK_FFLAGS 0
  TEST 71                                  /* subnormal single widens to a normal double */
  LDS fa0, 0x00000001
  fcvt.d.s fa2, fa0
  CHECKD fa2, 0x36a0000000000000
  CHECK_FFLAGS 0

  /* ---- moves, sign injection, loads/stores (72-79) ---- */
  TEST 72
  li a0, 0xfedcba9876543210
  fmv.d.x fa0, a0
  fmv.x.d a1, fa0
  bne a0, a1, fail
  FD2 73, fsgnj.d, MONE, 0, ONE, NZERO
  FD2 74, fsgnjn.d, ONE, 0, MONE, NZERO
  FD2 75, fsgnjx.d, ONE, 0, MONE, MONE
  FD2 76, fsgnjx.d, QNAN|NZERO, 0, QNAN, MONE                   /* NaN sign flips, no flags */
  TEST 77                                  /* fld / fsd */
  la s0, dbuf
  li t0, 0x400921fb54442d18
  sd t0, 0(s0)
  fld fa0, 0(s0)
  CHECKD fa0, 0x400921fb54442d18
  fsd fa0, 8(s0)
  CHECKMEM dbuf, 0x400921fb54442d18, 8
  TEST 78                                  /* fsd of a boxed single stores all 64 bits */
  LDS fa0, 0x3f800000
  fsd fa0, 8(s0)
  CHECKMEM dbuf, 0xffffffff3f800000, 8
  TEST 79                                  /* dynamic rounding on doubles */
  LDD fa0, ONE
  LDD fa1, THREE
  fsrmi 3
  fdiv.d fa2, fa0, fa1
  fsrmi 0
  CHECKD fa2, 0x3fd5555555555556
  fsflags zero

  TEST_END

  .data
  .align 4
dbuf:
  .dword 0, 0
