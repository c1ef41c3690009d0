import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, runStrata } from '../helpers/strata-cli.js';

/**
 * A bare-metal echo program that reads the 16550A by polling (no interrupts, the way firmware and simple programs
 * do): it echoes every byte and reports pass through HTIF when it reads 'q'.
 */
const ECHO_SOURCE = `
  .section .text.init
  .globl _start
_start:
  li t0, 0x10000000        # UART0 (virt board table)
poll:
  lbu t1, 5(t0)            # LSR
  andi t1, t1, 1           # DR: a byte is waiting
  beqz t1, poll
  lbu t2, 0(t0)            # RBR
  sb t2, 0(t0)             # THR: echo it
  li t3, 'q'
  bne t2, t3, poll
  li t4, 1
  la t5, tohost
  sd t4, 0(t5)             # HTIF: pass
1: j 1b
  .section .tohost, "aw"
  .align 6
  .globl tohost
tohost: .dword 0
  .globl fromhost
fromhost: .dword 0
`;

test('console input reaches a guest that polls the UART instead of using interrupts', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-poll-'));
  writeFileSync(join(dir, 'echo.S'), ECHO_SOURCE);
  const elf = join(dir, 'echo.elf');
  const cc = spawnSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-T',
    join(REPO_ROOT, 'test', 'isa', 'link.ld'),
    '-o',
    elf,
    join(dir, 'echo.S'),
  ]);
  assert.equal(cc.status, 0, `riscv64-linux-gnu-gcc (package gcc-riscv64-linux-gnu): ${cc.stderr}`);
  const r = await runStrata(['run', '--bios', 'none', '--kernel', elf, '--htif'], {
    input: 'hello, polling guest\nq',
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello, polling guest\nq');
});
