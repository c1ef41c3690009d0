/* RV64M: MUL/MULH/MULHSU/MULHU/DIV/DIVU/REM/REMU and the W forms, including
 * the spec's results for division by zero (quotient all ones, remainder =
 * dividend) and signed overflow (-2^(XLEN-1) / -1: quotient = dividend,
 * remainder 0). */
#include "test-macros.h"

.macro RR n, op, res, a, b
  TEST \n
  li a0, \a
  li a1, \b
  \op a2, a0, a1
  CHECK a2, \res
.endm

  TEST_START

  /* MUL (1-3) */
  RR 1, mul, -21, 7, -3
  RR 2, mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2
  RR 3, mul, 0x8000000000000000, 0x8000000000000000, -1
  /* MULH signed x signed, high half (4-7) */
  RR 4, mulh, 0, -1, -1
  RR 5, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  RR 6, mulh, -1, -1, 1
  RR 7, mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff
  /* MULHU (8-10) */
  RR 8, mulhu, 0xfffffffffffffffe, -1, -1
  RR 9, mulhu, 1, 0x8000000000000000, 2
  RR 10, mulhu, 0, 5, 7
  /* MULHSU rs1 signed x rs2 unsigned (11-13) */
  RR 11, mulhsu, -1, -1, -1
  RR 12, mulhsu, 1, 2, -1
  RR 13, mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
  /* MULW (14-16) */
  RR 14, mulw, -2, 0x7fffffff, 2
  RR 15, mulw, 15, 0x100000003, 0x100000005
  RR 16, mulw, 0, 0x10000, 0x10000

  /* DIV / REM rounding toward zero (17-21) */
  RR 17, div, 3, 20, 6
  RR 18, div, -3, -20, 6
  RR 19, div, -3, 20, -6
  RR 20, rem, -2, -20, 6
  RR 21, rem, 2, 20, -6
  /* Division by zero (22-25) */
  RR 22, div, -1, 42, 0
  RR 23, divu, -1, 42, 0
  RR 24, rem, -42, -42, 0
  RR 25, remu, 42, 42, 0
  /* Signed overflow (26-27) */
  RR 26, div, 0x8000000000000000, 0x8000000000000000, -1
  RR 27, rem, 0, 0x8000000000000000, -1
  /* DIVU / REMU (28-29) */
  RR 28, divu, 0x7fffffffffffffff, -1, 2
  RR 29, remu, 5, -1, 10

  /* W forms (30-41) */
  RR 30, divw, -3, -20, 6
  RR 31, divw, 3, 0x100000014, 0x100000006       /* upper bits ignored */
  RR 32, divw, -1, 5, 0x100000000                /* divisor's low 32 bits are zero */
  RR 33, divw, 0xffffffff80000000, 0x80000000, -1 /* overflow */
  RR 34, divuw, 0x7fffffff, 0xffffffff, 2
  RR 35, divuw, -1, 7, 0
  RR 36, divuw, 0xffffffff80000000, 0x80000000, 1 /* result sign-extended */
  RR 37, remw, -2, -20, 6
  RR 38, remw, 0xffffffff80000000, 0x180000000, 0
  RR 39, remw, 0, 0x80000000, -1
  RR 40, remuw, 5, 0xffffffff, 10
  RR 41, remuw, 0xffffffff80000001, 0x80000001, 0

  /* rd == rs1 == rs2 (42) */
  TEST 42
  li a0, -9
  mul a0, a0, a0
  CHECK a0, 81

  TEST_END
