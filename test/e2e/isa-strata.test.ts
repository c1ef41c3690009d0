// Strata's emulator against its own ISA test programs: every program in test/isa/ must pass on
// `strata run --bios none --kernel <elf> --htif` (exit code 0; a failing program exits with the
// number of the test that failed). The same programs pass on QEMU (test/e2e/isa-qemu.test.ts).
// The deliberately failing selftest-fail must report exactly its known test number.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildIsaPrograms } from '../isa/build.js';
import { describeRun, expectedExit, runStrata } from '../isa/harness.js';

const programs = buildIsaPrograms();

describe('ISA test programs on Strata (strata run --htif)', { concurrency: true }, () => {
  for (const p of programs) {
    const want = expectedExit(p.name);
    test(`${p.name} ${want === 0 ? 'passes' : `fails at test ${want}`}`, async () => {
      const r = await runStrata(p.elf);
      assert.equal(r.timedOut, false, describeRun('strata', p.name, r));
      assert.equal(r.code, want, describeRun('strata', p.name, r));
      if (want !== 0) {
        // A failing program also says which test failed, for the person reading the log.
        assert.match(r.stderr + r.stdout, new RegExp(`\\b${want}\\b`), describeRun('strata', p.name, r));
      }
    });
  }
});
