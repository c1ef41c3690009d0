import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleSession } from '../helpers/console-session.js';
import { STRATA_BIN } from '../helpers/strata-cli.js';

/** A bare-metal program that idles forever in WFI: a guest that only the console escape can end. */
function buildIdleProgram(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tty-'));
  const src = join(dir, 'idle.S');
  writeFileSync(src, '.globl _start\n_start:\n  wfi\n  j _start\n');
  const elf = join(dir, 'idle.elf');
  const r = spawnSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-Wl,-Ttext-segment=0x80000000',
    '-o',
    elf,
    src,
  ]);
  assert.equal(r.status, 0, `riscv64-linux-gnu-gcc (package gcc-riscv64-linux-gnu): ${r.stderr}`);
  return elf;
}

// `script` (util-linux) gives strata a real pseudo-terminal, so the console runs in raw mode as for a person.
test('on a terminal, Ctrl-A h prints the escape help and Ctrl-A x quits with exit 0', { timeout: 60_000 }, async () => {
  const elf = buildIdleProgram();
  const cmd = `${process.execPath} ${STRATA_BIN} run --bios none --kernel ${elf}`;
  const s = new ConsoleSession('script', ['-qfec', cmd, '/dev/null']);
  try {
    await sleep(1500);
    s.child.stdin.write('\x01h');
    await s.waitFor(/Ctrl-A x\s+quit/, 20_000);
    s.child.stdin.write('\x01x');
    const exit = await s.waitExit(20_000);
    assert.equal(exit.code, 0, s.transcript);
  } finally {
    s.kill();
  }
});
