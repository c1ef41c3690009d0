// Random F/D instruction vectors, expected values from the exact reference (src/machine/testing), assembled
// into bare-metal programs with the ISA suite's macros, and run on QEMU's spike machine (which proves the
// reference agrees with QEMU's softfloat on them) and on Strata (which checks the FPU through the real hart:
// decoding, fmv, the fcsr CSRs). Each program holds 250 vectors; a failing run reports the vector number.
// FPU_VECTOR_PROGRAMS (default 8) and FPU_VECTOR_SEED choose how many programs and which ones.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type AsmVector, FpRandom, randomAsmVector } from '../../src/machine/testing/fp-vectors.js';
import { GCC_FLAGS, ISA_SRC_DIR, RISCV_GCC } from '../isa/build.js';
import { describeRun, runQemu, runStrata } from '../isa/harness.js';

const PROGRAMS = Number(process.env.FPU_VECTOR_PROGRAMS ?? 8);
const VECTORS_PER_PROGRAM = 250;
const rng = new FpRandom(Number(process.env.FPU_VECTOR_SEED ?? 20260901));
const dir = mkdtempSync(join(tmpdir(), 'strata-fpu-vectors-'));

/** Writes and links one program; returns its ELF path and its vectors (test n is vectors[n - 1]). */
function buildProgram(index: number): { elf: string; vectors: AsmVector[] } {
  const vectors = Array.from({ length: VECTORS_PER_PROGRAM }, () => randomAsmVector(rng));
  const lines = ['#include "test-macros.h"', '#include "fp-macros.h"', 'TEST_START', 'FP_ON'];
  vectors.forEach((v, i) => {
    lines.push(`TEST ${i + 1}`, ...v.lines);
  });
  lines.push('TEST_END', '');
  const source = join(dir, `fpu-vectors-${index}.S`);
  const elf = join(dir, `fpu-vectors-${index}.elf`);
  writeFileSync(source, lines.join('\n'));
  const include = join(ISA_SRC_DIR, 'include');
  const args = [...GCC_FLAGS, '-T', join(ISA_SRC_DIR, 'link.ld'), '-I', include, source, '-o', elf];
  const r = spawnSync(RISCV_GCC, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `assembling ${source} failed: ${r.error?.message ?? ''}${r.stderr}`);
  return { elf, vectors };
}

const programs = Array.from({ length: PROGRAMS }, (_, i) => buildProgram(i));

after(() => rmSync(dir, { recursive: true, force: true }));

function failedVector(vectors: AsmVector[], code: number | null): string {
  const v = code !== null && code > 0 ? vectors[code - 1] : undefined;
  return v ? `\nvector ${code}: ${v.what}\n${v.lines.join('\n')}` : '';
}

describe('FPU vectors from the exact reference', { concurrency: true }, () => {
  programs.forEach(({ elf, vectors }, i) => {
    test(`program ${i} passes on QEMU spike (the reference agrees with QEMU)`, async () => {
      const r = await runQemu(elf);
      assert.equal(r.code, 0, `${describeRun('qemu', `fpu-vectors-${i}`, r)}${failedVector(vectors, r.code)}`);
    });
    test(`program ${i} passes on Strata`, async () => {
      const r = await runStrata(elf);
      assert.equal(r.code, 0, `${describeRun('strata', `fpu-vectors-${i}`, r)}${failedVector(vectors, r.code)}`);
    });
  });
});
