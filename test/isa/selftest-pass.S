/* Harness self-test: the smallest passing program (HTIF pass path). */
#include "test-macros.h"

  TEST_START

  TEST 1      /* x0 reads as zero */
  addi x0, x0, 5
  CHECK x0, 0

  TEST_END
