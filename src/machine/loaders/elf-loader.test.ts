import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkElfFits, isElf, loadElf, parseElf } from './elf-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-elf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PROGRAM = `
volatile unsigned long tohost __attribute__((section(".tohost"))) = 0;
volatile unsigned long fromhost __attribute__((section(".tohost"))) = 0;
unsigned long counter = 0x1122334455667788UL;
char buf[4096];
void _start(void) { buf[0] = 1; counter++; tohost = 1; for (;;) {} }
`;

/** Builds PROGRAM with the cross compiler, linked at `base`. */
function buildProgram(base: number, name: string): Uint8Array {
  const script = `ENTRY(_start)
SECTIONS {
  . = 0x${base.toString(16)};
  .text : { *(.text*) }
  .tohost ALIGN(64) : { *(.tohost) }
  .data : { *(.data*) *(.sdata*) }
  .bss : { *(.bss*) *(.sbss*) *(COMMON) }
}
`;
  writeFileSync(join(dir, 'p.c'), PROGRAM);
  writeFileSync(join(dir, `${name}.ld`), script);
  const out = join(dir, name);
  execFileSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-mcmodel=medany',
    '-O1',
    '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments',
    '-T',
    join(dir, `${name}.ld`),
    '-o',
    out,
    join(dir, 'p.c'),
  ]);
  return new Uint8Array(readFileSync(out));
}

function symbol(file: string, name: string): number {
  const nm = execFileSync('riscv64-linux-gnu-nm', [file], { encoding: 'utf8' });
  const line = nm.split('\n').find((l) => l.endsWith(` ${name}`));
  assert.ok(line, `no ${name} in nm output`);
  return Number.parseInt(line.split(' ')[0] ?? '', 16);
}

describe('ELF loader', () => {
  const RAM = 0x8000_0000;
  const bytes = buildProgram(RAM, 'prog');

  it('finds the entry, the PT_LOAD segments and the tohost/fromhost symbols', () => {
    assert.ok(isElf(bytes));
    const elf = parseElf(bytes, 'prog');
    assert.equal(elf.entry, symbol(join(dir, 'prog'), '_start'));
    assert.equal(elf.tohost, symbol(join(dir, 'prog'), 'tohost'));
    assert.equal(elf.fromhost, symbol(join(dir, 'prog'), 'fromhost'));
    assert.ok(elf.segments.length >= 1);
  });

  it('loads segments into RAM and zeroes the bss', () => {
    const elf = parseElf(bytes, 'prog');
    const ram = new Uint8Array(1 << 20).fill(0xee);
    checkElfFits(elf, RAM, ram.length, 'prog');
    loadElf(elf, ram, RAM);
    const counter = symbol(join(dir, 'prog'), 'counter') - RAM;
    assert.equal(new DataView(ram.buffer).getBigUint64(counter, true), 0x1122334455667788n);
    const buf = symbol(join(dir, 'prog'), 'buf') - RAM;
    assert.ok(ram.subarray(buf, buf + 4096).every((b) => b === 0));
    // The first instruction is where the entry points.
    const seg = elf.segments.find((s) => s.paddr === elf.entry);
    assert.deepEqual(ram.subarray(elf.entry - RAM, elf.entry - RAM + 4), seg?.fileBytes.subarray(0, 4));
  });

  it('rejects segments outside RAM, naming the file', () => {
    const low = parseElf(buildProgram(0x1000, 'low'), 'low.elf');
    assert.throws(() => checkElfFits(low, RAM, 1 << 20, 'low.elf'), {
      code: 'INVALID_ARGUMENT',
      message: /'low\.elf'.*outside RAM/,
    });
  });

  it('rejects the wrong class, endianness, machine, type and truncation', () => {
    const patched = (at: number, values: number[]) => {
      const b = bytes.slice();
      b.set(values, at);
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('not an elf at all'), /no ELF magic/],
      [patched(4, [1]), /ELFCLASS64/],
      [patched(5, [2]), /little-endian/],
      [patched(18, [62, 0]), /e_machine 62 is not RISC-V/],
      [patched(16, [3, 0]), /ET_EXEC/],
      [bytes.subarray(0, 40), /too short/],
      [bytes.subarray(0, 200), /extends past the end|truncated/],
    ];
    for (const [b, message] of cases) {
      assert.throws(() => parseElf(b, 'bad.elf'), { code: 'INVALID_ARGUMENT', message }, String(message));
      assert.throws(() => parseElf(b, 'bad.elf'), { message: /'bad\.elf'/ });
    }
  });
});
