import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { VIRT_IRQ, VIRT_MEMMAP, virtioSlotBase } from './board/virt-memmap.js';
import { FW_DYNAMIC_INFO_MAGIC } from './boot-layout.js';
import { type MmioHandler, StopReason } from './cpu/hart-port.js';
import type { CharBackend, CharInputListener, Clock } from './devices/ports.js';
import { FakeHart } from './testing/fake-hart.js';
import { fakeLinuxImage } from './testing/fake-linux-image.js';
import { type PowerState, VirtMachine, type VirtMachineConfig } from './virt-machine.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-virt-machine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const RAM = VIRT_MEMMAP.dram.base;

class MemoryConsole implements CharBackend {
  out = '';
  listener: CharInputListener | null = null;
  write(bytes: Uint8Array): void {
    this.out += new TextDecoder().decode(bytes);
  }
  setInputListener(listener: CharInputListener | null): void {
    this.listener = listener;
  }
}

const clock: Clock = { monotonicNs: () => 0, wallClockNs: () => 1_700_000_000_000_000_000 };

function machine(overrides: Partial<VirtMachineConfig> = {}) {
  const console = new MemoryConsole();
  const events: PowerState[] = [];
  let hart: FakeHart | undefined;
  const m = VirtMachine.create(
    {
      memoryBytes: 64 * MiB,
      firmware: new Uint8Array(0x4_0000).fill(0x13),
      kernel: fakeLinuxImage({ imageSize: 4 * MiB }),
      cmdline: 'console=ttyS0',
      console,
      clock,
      onPowerEvent: (s) => events.push(s),
      ...overrides,
    },
    (mmio: MmioHandler, ramBytes: number) => {
      hart = new FakeHart(mmio, ramBytes);
      return hart;
    },
  );
  assert.ok(hart);
  return { m, hart, console, events, bus: hart.mmio };
}

function dtcDecode(blob: Uint8Array): string {
  const file = join(dir, 'm.dtb');
  writeFileSync(file, blob);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('VirtMachine firmware boot', () => {
  it('lays out firmware, kernel, initrd, DTB and fw_dynamic_info as the boot protocol wants', () => {
    const initrd = new Uint8Array(3 * MiB + 5).fill(0xcc);
    const { m, hart } = machine({ initrd });
    const L = m.layout;
    assert.equal(hart.pc, RAM);
    assert.equal(hart.regs[10], 0);
    assert.equal(hart.regs[11], L.dtbAddr);
    assert.equal(hart.regs[12], L.dynamicInfoAddr);
    assert.equal(L.kernel.start, RAM + 0x20_0000);
    assert.equal(L.dtbAddr % (2 * MiB), 0);
    assert.ok(L.dtbAddr + L.dtb.length <= RAM + 64 * MiB);
    assert.ok(L.initrd && L.initrd.start >= L.kernel.end && L.initrd.end <= L.dynamicInfoAddr);
    assert.equal(L.initrd.start % 4096, 0);
    // RAM contents.
    assert.equal(hart.ram[0], 0x13);
    assert.deepEqual(hart.ram.subarray(0x20_0000 + 0x38, 0x20_0000 + 0x3c), new TextEncoder().encode('RSC\x05'));
    assert.equal(hart.ram[L.initrd.start - RAM], 0xcc);
    assert.equal(hart.ram[L.initrd.end - RAM - 1], 0xcc);
    assert.deepEqual(hart.ram.subarray(L.dtbAddr - RAM, L.dtbAddr - RAM + L.dtb.length), L.dtb);
    const info = new DataView(hart.ram.buffer, L.dynamicInfoAddr - RAM, 48);
    assert.equal(info.getBigUint64(0, true), BigInt(FW_DYNAMIC_INFO_MAGIC));
    assert.equal(info.getBigUint64(8, true), 2n);
    assert.equal(info.getBigUint64(16, true), BigInt(RAM + 0x20_0000));
    assert.equal(info.getBigUint64(24, true), 1n);
    assert.equal(info.getBigUint64(32, true), 0n);
    // The DTB in RAM names the initrd where it was put.
    const dts = dtcDecode(L.dtb);
    assert.match(dts, new RegExp(`linux,initrd-start = <0x00 0x${L.initrd.start.toString(16)}>`));
    assert.match(dts, new RegExp(`linux,initrd-end = <0x00 0x${L.initrd.end.toString(16)}>`));
    assert.match(dts, /reg = <0x00 0x80000000 0x00 0x4000000>/);
  });

  it('sends UART output to the console and routes UART input through the PLIC to the hart', () => {
    const { m, hart, console, bus } = machine();
    const uart = VIRT_MEMMAP.uart0.base;
    hart.program = () => {
      for (const c of 'OpenSBI\n') bus.write(uart, 1, c.charCodeAt(0));
      return StopReason.Budget;
    };
    assert.equal(m.step(1000), StopReason.Budget);
    assert.equal(console.out, 'OpenSBI\n');

    // The guest enables RX interrupts on the UART and routes source 10 to context 1 (hart 0 S-mode).
    const plic = VIRT_MEMMAP.plic.base;
    bus.write(plic + 4 * VIRT_IRQ.uart0, 4, 1);
    bus.write(plic + 0x2000 + 0x80, 4, 1 << VIRT_IRQ.uart0);
    bus.write(uart + 2, 1, 0x01); // FIFO on, trigger 1
    bus.write(uart + 1, 1, 0x01);
    assert.equal(hart.external.supervisor, false);
    console.listener?.(new TextEncoder().encode('ls\n'));
    assert.equal(hart.external.supervisor, true);
    assert.equal(hart.external.machine, false);
    assert.equal(bus.read(plic + 0x20_1004, 4), VIRT_IRQ.uart0);
    let got = '';
    while (bus.read(uart + 5, 1) & 1) got += String.fromCharCode(bus.read(uart, 1));
    assert.equal(got, 'ls\n');
    bus.write(plic + 0x20_1004, 4, VIRT_IRQ.uart0);
    assert.equal(hart.external.supervisor, false);
  });

  it('stops on the test device: poweroff, fail code, reset and restart', () => {
    const { m, hart, bus, events } = machine();
    hart.program = () => {
      bus.write(VIRT_MEMMAP.test.base, 4, 0x3333 | (7 << 16));
      return StopReason.Budget;
    };
    m.step(10);
    assert.deepEqual(m.powerState, { fail: 7 });
    assert.deepEqual(events, [{ fail: 7 }]);
    let ran = false;
    hart.program = () => {
      ran = true;
      return StopReason.Budget;
    };
    assert.equal(m.step(10), StopReason.Wfi);
    assert.equal(ran, false);
    assert.equal(m.ticksUntilNextEvent(), Number.POSITIVE_INFINITY);
    hart.ram[0] = 0;
    m.reset();
    assert.equal(m.powerState, 'running');
    assert.equal(hart.resets, 2);
    assert.equal(hart.ram[0], 0x13, 'images reloaded');
    bus.write(VIRT_MEMMAP.test.base, 4, 0x5555);
    assert.equal(m.powerState, 'poweroff');
    m.reset();
    bus.write(VIRT_MEMMAP.test.base, 4, 0x7777);
    assert.equal(m.powerState, 'reset');
  });

  it('has eight empty virtio-mmio slots and lets a device be plugged into one', () => {
    const { m, bus } = machine();
    for (let n = 0; n < 8; n++) {
      assert.equal(bus.read(virtioSlotBase(n), 4), 0x74726976);
      assert.equal(bus.read(virtioSlotBase(n) + 4, 4), 2);
      assert.equal(bus.read(virtioSlotBase(n) + 8, 4), 0);
    }
    let irqOf = -1;
    m.attachVirtioDevice(2, (ctx) => {
      irqOf = ctx.slot;
      ctx.irq.setLevel(false);
      return { read: () => 0x1234, write: () => {}, ticksUntilEvent: () => 42 };
    });
    assert.equal(irqOf, 2);
    assert.equal(bus.read(virtioSlotBase(2), 4), 0x1234);
    assert.equal(m.ticksUntilNextEvent(), 42);
    assert.throws(() => m.attachVirtioDevice(2, () => ({ read: () => 0, write: () => {} })), { code: 'CONFLICT' });
    assert.throws(() => m.attachVirtioDevice(8, () => ({ read: () => 0, write: () => {} })), {
      code: 'INVALID_ARGUMENT',
    });
  });

  it('saves and restores the board state through JSON', () => {
    const { m, bus, hart } = machine();
    const plic = VIRT_MEMMAP.plic.base;
    const uart = VIRT_MEMMAP.uart0.base;
    const rtc = VIRT_MEMMAP.rtc.base;
    bus.write(plic + 4 * VIRT_IRQ.uart0, 4, 3);
    bus.write(plic + 0x2000 + 0x80, 4, 1 << VIRT_IRQ.uart0);
    bus.write(uart + 2, 1, 0x81);
    bus.write(uart + 1, 1, 0x01);
    bus.write(uart + 7, 1, 0x5a);
    m.pushConsoleInput(new TextEncoder().encode('0123456789'));
    bus.write(rtc + 0x04, 4, 0x1234);
    bus.write(rtc + 0x00, 4, 0x5678);
    assert.equal(hart.external.supervisor, true);
    const saved = JSON.parse(JSON.stringify(m.saveBoard()));

    const other = machine();
    assert.equal(other.hart.external.supervisor, false);
    other.m.restoreBoard(saved);
    assert.equal(other.hart.external.supervisor, true);
    assert.equal(other.bus.read(uart + 7, 1), 0x5a);
    assert.equal(other.bus.read(uart + 2, 1), 0xc4);
    assert.equal(other.bus.read(rtc + 0x00, 4) >>> 0 >= 0x5678, true);
    assert.equal(other.bus.read(rtc + 0x04, 4), 0x1234);
    assert.equal(other.bus.read(plic + 0x20_1004, 4), VIRT_IRQ.uart0);
    let got = '';
    while (other.bus.read(uart + 5, 1) & 1) got += String.fromCharCode(other.bus.read(uart, 1));
    assert.equal(got, '0123456789');
    assert.throws(() => other.m.restoreBoard({ ...saved, version: 2 }), { code: 'INVALID_ARGUMENT' });
  });

  it('reports the nearest event: the hart timer or an RTC alarm', () => {
    const { m, hart, bus } = machine();
    hart.timerTicks = 5000;
    assert.equal(m.ticksUntilNextEvent(), 5000);
    const rtc = VIRT_MEMMAP.rtc.base;
    const low = bus.read(rtc, 4);
    const high = bus.read(rtc + 4, 4);
    const alarm = BigInt(high) * 2n ** 32n + BigInt(low) + 100_000n; // 100 µs = 1000 ticks
    bus.write(rtc + 0x0c, 4, Number(alarm >> 32n));
    bus.write(rtc + 0x08, 4, Number(alarm & 0xffff_ffffn));
    assert.equal(m.ticksUntilNextEvent(), 1000);
    assert.equal(bus.read(0x5000_0000, 4), 0, 'unmapped');
  });
});

describe('VirtMachine bad input', () => {
  const create = (overrides: Partial<VirtMachineConfig>) => {
    let built = false;
    try {
      VirtMachine.create(
        {
          memoryBytes: 64 * MiB,
          firmware: new Uint8Array(0x4_0000),
          kernel: fakeLinuxImage(),
          cmdline: '',
          console: new MemoryConsole(),
          clock,
          firmwareName: 'fw_jump.bin',
          kernelName: 'Image',
          initrdName: 'initrd.gz',
          ...overrides,
        },
        (mmio, ramBytes) => {
          built = true;
          return new FakeHart(mmio, ramBytes);
        },
      );
    } finally {
      assert.equal(built, false, 'nothing may be built before the input is validated');
    }
  };
  const cases: [string, Partial<VirtMachineConfig>, RegExp][] = [
    ['garbage kernel', { kernel: new Uint8Array(100) }, /'Image' is neither a RISC-V Linux Image nor a RISC-V ELF/],
    ['gzip kernel', { kernel: new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]) }, /'Image' is gzip-compressed/],
    ['Image without firmware', { firmware: undefined }, /'Image' is a Linux Image, which needs SBI firmware/],
    ['firmware over the kernel', { firmware: new Uint8Array(3 * MiB) }, /'fw_jump.bin' .* overlaps kernel 'Image'/],
    ['initrd too big', { initrd: new Uint8Array(62 * MiB) }, /initrd 'initrd.gz' \(65011712 bytes\) does not fit/],
    ['kernel beyond RAM', { kernel: fakeLinuxImage({ imageSize: 80 * MiB }) }, /'Image' needs 83886080 bytes/],
    ['odd memory size', { memoryBytes: 1000 }, /memory size 1000/],
    ['empty firmware', { firmware: new Uint8Array(0) }, /'fw_jump.bin' is empty/],
    ['firmware bigger than RAM', { memoryBytes: MiB, firmware: new Uint8Array(2 * MiB) }, /does not fit/],
  ];
  for (const [what, overrides, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => create(overrides), { code: 'INVALID_ARGUMENT', message });
    });
  }
});

const PROGRAM = `
volatile unsigned long tohost __attribute__((section(".tohost"))) = 0;
volatile unsigned long fromhost __attribute__((section(".tohost"))) = 0;
void _start(void) { tohost = 1; for (;;) {} }
`;

function crossCompile(base: number): Uint8Array {
  writeFileSync(join(dir, 'p.c'), PROGRAM);
  writeFileSync(
    join(dir, 'p.ld'),
    `ENTRY(_start)\nSECTIONS {\n . = 0x${base.toString(16)};\n .text : { *(.text*) }\n .tohost ALIGN(64) : { *(.tohost) }\n .data : { *(.data*) *(.sdata*) }\n .bss : { *(.bss*) *(.sbss*) *(COMMON) }\n}\n`,
  );
  const out = join(dir, 'p.elf');
  execFileSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-mcmodel=medany',
    '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments',
    '-T',
    join(dir, 'p.ld'),
    '-o',
    out,
    join(dir, 'p.c'),
  ]);
  return new Uint8Array(readFileSync(out));
}

describe('VirtMachine bare-metal mode', () => {
  const elf = crossCompile(RAM);
  const tohostAddr = Number.parseInt(
    execFileSync('riscv64-linux-gnu-nm', [join(dir, 'p.elf')], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.endsWith(' tohost'))
      ?.split(' ')[0] ?? '',
    16,
  );

  it('starts at the ELF entry with HTIF on tohost and reports the exit', () => {
    const { m, hart } = machine({ firmware: undefined, kernel: elf });
    assert.equal(m.layout.mode, 'bare-metal');
    assert.equal(hart.pc, RAM);
    assert.equal(hart.htifAddr, tohostAddr);
    assert.equal(hart.regs[11], m.layout.dtbAddr);
    hart.tohost = 1;
    hart.program = () => StopReason.Htif;
    assert.equal(m.step(100), StopReason.Htif);
    assert.deepEqual(m.htifResult, { toHost: 1, exitCode: 0 });
    assert.equal(m.powerState, 'poweroff');
  });

  it('turns a failing HTIF exit into a fail state', () => {
    const { m, hart } = machine({ firmware: undefined, kernel: elf });
    hart.tohost = (5 << 1) | 1;
    hart.program = () => StopReason.Htif;
    m.step(100);
    assert.deepEqual(m.htifResult, { toHost: 11, exitCode: 5 });
    assert.deepEqual(m.powerState, { fail: 5 });
  });

  it('rejects an ELF outside RAM before building anything', () => {
    const low = crossCompile(0x1000);
    assert.throws(() => machine({ firmware: undefined, kernel: low, kernelName: 'low.elf' }), {
      code: 'INVALID_ARGUMENT',
      message: /ELF file 'low.elf': segment at 0x1000\.\..* lies outside RAM/,
    });
  });
});
