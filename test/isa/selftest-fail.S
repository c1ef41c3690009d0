/* Harness self-test: this program is MEANT to fail, at test 3 exactly.
 * Tests 1 and 2 pass; test 3 checks 1 + 1 == 3, which is false.
 * The harness must report exit code 3 (QEMU and Strata alike). */
#include "test-macros.h"

  TEST_START

  TEST 1      /* 1 + 1 == 2 */
  li a0, 1
  addi a1, a0, 1
  CHECK a1, 2

  TEST 2      /* a trap can be expected and resumed */
  EXPECT_TRAP 1f
  ecall
1:
  CHECK_CAUSE CAUSE_ECALL_M

  TEST 3      /* deliberately wrong: 1 + 1 == 3 */
  li a0, 1
  addi a1, a0, 1
  CHECK a1, 3

  TEST 4      /* never reached */
  TEST_END
