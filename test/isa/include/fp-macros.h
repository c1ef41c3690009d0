/* Floating-point helpers for rvf.S / rvd.S. Operands are given as bit patterns.
 * Singles must come back NaN-boxed (upper 32 bits all ones): the S checks
 * compare all 64 bits of the register. */
#ifndef STRATA_FP_MACROS_H
#define STRATA_FP_MACROS_H

#define FLAG_NX 1
#define FLAG_UF 2
#define FLAG_OF 4
#define FLAG_DZ 8
#define FLAG_NV 16
#define BOX(x) (0xffffffff00000000 | (x))

/* Enable the FPU (mstatus.FS = Initial), clear fcsr. */
.macro FP_ON
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  csrw fcsr, zero
.endm

.macro LDS freg, bits
  li t0, \bits
  fmv.w.x \freg, t0
.endm

.macro LDD freg, bits
  li t0, \bits
  fmv.d.x \freg, t0
.endm

/* Single, 2 operands -> float result (checked NaN-boxed) + fflags. */
.macro FS2 n, op, res, flags, a, b
  TEST \n
  LDS fa0, \a
  LDS fa1, \b
  fsflags zero
  \op fa2, fa0, fa1
  CHECKD fa2, BOX(\res)
  CHECK_FFLAGS \flags
.endm

/* Single, 1 operand. */
.macro FS1 n, op, res, flags, a
  TEST \n
  LDS fa0, \a
  fsflags zero
  \op fa2, fa0
  CHECKD fa2, BOX(\res)
  CHECK_FFLAGS \flags
.endm

/* Single, 3 operands (fused multiply-add family). */
.macro FS3 n, op, res, flags, a, b, c
  TEST \n
  LDS fa0, \a
  LDS fa1, \b
  LDS fa3, \c
  fsflags zero
  \op fa2, fa0, fa1, fa3
  CHECKD fa2, BOX(\res)
  CHECK_FFLAGS \flags
.endm

/* Double versions. */
.macro FD2 n, op, res, flags, a, b
  TEST \n
  LDD fa0, \a
  LDD fa1, \b
  fsflags zero
  \op fa2, fa0, fa1
  CHECKD fa2, \res
  CHECK_FFLAGS \flags
.endm

.macro FD1 n, op, res, flags, a
  TEST \n
  LDD fa0, \a
  fsflags zero
  \op fa2, fa0
  CHECKD fa2, \res
  CHECK_FFLAGS \flags
.endm

.macro FD3 n, op, res, flags, a, b, c
  TEST \n
  LDD fa0, \a
  LDD fa1, \b
  LDD fa3, \c
  fsflags zero
  \op fa2, fa0, fa1, fa3
  CHECKD fa2, \res
  CHECK_FFLAGS \flags
.endm

/* Comparisons: integer result from two single/double operands. */
.macro FCMPS n, op, res, flags, a, b
  TEST \n
  LDS fa0, \a
  LDS fa1, \b
  fsflags zero
  \op a2, fa0, fa1
  CHECK a2, \res
  CHECK_FFLAGS \flags
.endm

.macro FCMPD n, op, res, flags, a, b
  TEST \n
  LDD fa0, \a
  LDD fa1, \b
  fsflags zero
  \op a2, fa0, fa1
  CHECK a2, \res
  CHECK_FFLAGS \flags
.endm

/* fclass: integer result from one operand (single/double). */
.macro FCLASSS n, res, a
  TEST \n
  LDS fa0, \a
  fclass.s a2, fa0
  CHECK a2, \res
.endm

.macro FCLASSD n, res, a
  TEST \n
  LDD fa0, \a
  fclass.d a2, fa0
  CHECK a2, \res
.endm

/* Float -> integer conversion with rounding mode rm. */
.macro FCVTI_S n, op, rm, res, flags, a
  TEST \n
  LDS fa0, \a
  fsflags zero
  \op a2, fa0, \rm
  CHECK a2, \res
  CHECK_FFLAGS \flags
.endm

.macro FCVTI_D n, op, rm, res, flags, a
  TEST \n
  LDD fa0, \a
  fsflags zero
  \op a2, fa0, \rm
  CHECK a2, \res
  CHECK_FFLAGS \flags
.endm

/* Integer -> float conversion; result checked as a raw 64-bit register
 * (pass BOX(x) for single results). */
.macro FCVTF n, op, res, flags, a
  TEST \n
  li a0, \a
  fsflags zero
  \op fa2, a0
  CHECKD fa2, \res
  CHECK_FFLAGS \flags
.endm

#endif
