// The ORACLE for Strata's own ISA test programs: every program in test/isa/ must pass on
// QEMU's spike machine (qemu-system-riscv64 -M spike -bios none -kernel <elf>), which proves the
// programs themselves are right. QEMU's HTIF exits with status tohost >> 1 (0 = pass, N = test N).
// The deliberately failing selftest-fail must report exactly its known test number.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildIsaPrograms } from '../isa/build.js';
import { describeRun, expectedExit, runQemu } from '../isa/harness.js';

const programs = buildIsaPrograms();

describe('ISA test programs on QEMU spike (oracle)', { concurrency: true }, () => {
  test('the suite has programs, including the harness self-tests', () => {
    const names = programs.map((p) => p.name);
    assert.ok(names.includes('selftest-fail'), 'selftest-fail.S is missing');
    assert.ok(names.length >= 10, `only ${names.length} programs`);
  });

  for (const p of programs) {
    const want = expectedExit(p.name);
    test(`${p.name} ${want === 0 ? 'passes' : `fails at test ${want}`}`, async () => {
      const r = await runQemu(p.elf);
      assert.equal(r.timedOut, false, describeRun('qemu', p.name, r));
      assert.equal(r.code, want, describeRun('qemu', p.name, r));
    });
  }
});
