// Integration: the board with the real WebAssembly hart boots OpenSBI (fw_dynamic.bin, as QEMU ships it) into a
// small S-mode payload built as a RISC-V Linux `Image` (header included), which talks to the SBI console and powers
// off through SBI SRST, which OpenSBI carries out on the sifive,test device it found in our device tree.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KERNEL_LOAD_OFFSET, VIRT_MEMMAP } from './board/virt-memmap.js';
import { StopReason } from './cpu/hart-port.js';
import { WasmHart } from './cpu/wasm-hart.js';
import type { CharInputListener } from './devices/ports.js';
import { VirtMachine } from './virt-machine.js';

const FIRMWARE = '/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin';
const HART_WASM = new URL('../../build/hart.wasm', import.meta.url);
const skip = !existsSync(FIRMWARE)
  ? 'no OpenSBI firmware (qemu-system-misc)'
  : !existsSync(HART_WASM) && 'no build/hart.wasm';

const dir = mkdtempSync(join(tmpdir(), 'strata-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The Image header (Linux Documentation/arch/riscv/boot-image-header.rst) followed by the payload: print a greeting
// with the legacy SBI putchar, wait for one byte from SBI getchar, echo it, then SRST shutdown.
const PAYLOAD = `
.section .text
.globl _start
_start:
.option push
.option norvc
  j real_start
.option pop
  .word 0
  .dword ${KERNEL_LOAD_OFFSET}
  .dword image_end - _start
  .dword 0
  .word 2
  .word 0
  .dword 0
  .ascii "RISCV\\0\\0\\0"
  .ascii "RSC\\x05"
  .word 0
real_start:
  la s0, msg
  call puts
1: li a7, 2
  ecall
  bltz a0, 1b
  mv s1, a0
  la s0, got
  call puts
  mv a0, s1
  li a7, 1
  ecall
  li a7, 0x53525354
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
2: j 2b
puts:
  lbu a0, 0(s0)
  beqz a0, 3f
  li a7, 1
  ecall
  addi s0, s0, 1
  j puts
3: ret
.section .rodata
msg: .asciz "hello from S-mode\\n"
got: .asciz "got: "
.balign 8
image_end:
`;

function buildImage(): Uint8Array {
  writeFileSync(join(dir, 'k.S'), PAYLOAD);
  const elf = join(dir, 'k.elf');
  execFileSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-mcmodel=medany',
    '-Wl,--build-id=none',
    `-Wl,-Ttext=0x${(VIRT_MEMMAP.dram.base + KERNEL_LOAD_OFFSET).toString(16)}`,
    '-Wl,--no-warn-rwx-segments',
    '-o',
    elf,
    join(dir, 'k.S'),
  ]);
  execFileSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', elf, join(dir, 'Image')]);
  return new Uint8Array(readFileSync(join(dir, 'Image')));
}

describe('VirtMachine with the WebAssembly hart', { skip }, () => {
  it('boots OpenSBI fw_dynamic into an S-mode Image that uses the console and powers off', () => {
    const module = new WebAssembly.Module(readFileSync(HART_WASM));
    let out = '';
    let listener: CharInputListener | null = null;
    const m = VirtMachine.create(
      {
        memoryBytes: 128 * 1024 * 1024,
        firmware: new Uint8Array(readFileSync(FIRMWARE)),
        firmwareName: 'fw_dynamic.bin',
        kernel: buildImage(),
        kernelName: 'Image',
        cmdline: 'console=ttyS0',
        console: {
          write: (b) => {
            out += new TextDecoder().decode(b);
          },
          setInputListener: (l) => {
            listener = l;
          },
        },
        clock: { monotonicNs: () => performance.now() * 1e6, wallClockNs: () => Date.now() * 1e6 },
      },
      (mmio, ramBytes) => WasmHart.create(module, { ramBytes, mmio, instructionsPerTick: 100 }),
    );
    const started = Date.now();
    let typed = false;
    while (m.powerState === 'running' && Date.now() - started < 60_000) {
      const reason = m.step(1_000_000);
      assert.notEqual(reason, StopReason.Fault, m.hart.faultText());
      if (!typed && out.includes('hello from S-mode')) {
        assert.ok(listener, 'the machine listens to the console');
        (listener as CharInputListener)(new TextEncoder().encode('Z'));
        typed = true;
      }
    }
    assert.equal(m.powerState, 'poweroff', out);
    assert.match(out, /Platform Console Device\s+: uart8250/);
    assert.match(out, /Platform Shutdown Device\s+: sifive_test/);
    assert.match(out, new RegExp(`Domain0 Next Address\\s+: 0x0*${m.layout.kernelEntry.toString(16)}`));
    assert.match(out, new RegExp(`Domain0 Next Arg1\\s+: 0x0*${m.layout.dtbAddr.toString(16)}`));
    assert.match(out, /Domain0 Next Mode\s+: S-mode/);
    assert.match(out, /hello from S-mode\r?\ngot: Z/);
    m.dispose();
  });
});
