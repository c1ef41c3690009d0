import { StrataError } from '../../base/errors.js';
import {
  type MemRegion,
  PLIC_SOURCE_COUNT,
  TIMEBASE_FREQUENCY_HZ,
  UART_CLOCK_FREQUENCY_HZ,
  VIRT_IRQ,
  VIRT_MEMMAP,
  VIRTIO_SLOT_COUNT,
  virtioSlotBase,
} from '../board/virt-memmap.js';
import { FINISHER_PASS, FINISHER_RESET } from '../devices/sifive-test.js';
import { FdtWriter, u64Cells } from './fdt-writer.js';

/**
 * The ISA string every hart announces (RV64GC spelled out, as Linux and OpenSBI parse `riscv,isa`). Multi-letter
 * `z` extensions follow the single letters, in alphabetical order within the `zi` group (unprivileged spec
 * §37.4, "Naming conventions"). Zicntr (cycle, time, instret) is implemented by the hart; Zihpm is not (the
 * hpmcounters read zero), so it is not announced.
 */
export const VIRT_RISCV_ISA = 'rv64imafdc_zicntr_zicsr_zifencei';
/** The same ISA in the newer split form (Linux `riscv,isa-base` + `riscv,isa-extensions` bindings). */
export const VIRT_RISCV_ISA_BASE = 'rv64i';
/** The extensions of `VIRT_RISCV_ISA`, one string each, for `riscv,isa-extensions`. */
export const VIRT_RISCV_ISA_EXTENSIONS = ['i', 'm', 'a', 'f', 'd', 'c', 'zicntr', 'zicsr', 'zifencei'] as const;
/** The MMU the hart implements. */
export const VIRT_MMU_TYPE = 'riscv,sv39';

/** Interrupt numbers of the hart-local interrupt controller (RISC-V privileged spec §3.1.9, mip/mie bits). */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

/** What the `virt` device tree describes beyond the fixed board table. */
export interface VirtFdtOptions {
  /** Size of RAM at `VIRT_MEMMAP.dram.base`. */
  readonly memoryBytes: number;
  /** Number of harts (default 1). */
  readonly hartCount?: number;
  /** Kernel command line for /chosen/bootargs. */
  readonly bootargs: string;
  /** Physical range of the initrd, end exclusive (/chosen/linux,initrd-start and -end). */
  readonly initrd?: { readonly start: number; readonly end: number };
  /** Entropy for /chosen/rng-seed (the kernel seeds its RNG with it early). */
  readonly rngSeed?: Uint8Array;
}

/** Path of the console UART, for /chosen/stdout-path. */
export function virtUartPath(): string {
  return `/soc/${nodeName('serial', VIRT_MEMMAP.uart0)}`;
}

function nodeName(name: string, region: MemRegion): string {
  return `${name}@${region.base.toString(16)}`;
}

/** `reg` of a region with #address-cells = #size-cells = 2. */
function regCells(region: MemRegion): number[] {
  return [...u64Cells(region.base), ...u64Cells(region.sizeBytes)];
}

/**
 * Builds the device tree blob of the `virt` board from the board table (`VIRT_MEMMAP`, `VIRT_IRQ`): the same
 * nodes, compatibles and interrupt wiring as QEMU's `virt`, so that OpenSBI's generic platform and Linux find
 * the CLINT, PLIC, UART, RTC, test device (with syscon poweroff/reboot) and the eight virtio-mmio slots.
 * Throws INVALID_ARGUMENT for a RAM size or hart count that cannot be described.
 */
export function buildVirtFdt(options: VirtFdtOptions): Uint8Array {
  const hartCount = options.hartCount ?? 1;
  if (!Number.isInteger(hartCount) || hartCount < 1 || hartCount > 8) {
    throw new StrataError('INVALID_ARGUMENT', `hart count ${hartCount} is outside 1..8`);
  }
  if (!Number.isSafeInteger(options.memoryBytes) || options.memoryBytes <= 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `memory size ${options.memoryBytes} is not a positive whole number of bytes`,
    );
  }

  // Phandles (Devicetree spec §2.3.3): any unique non-zero values. Per hart its cpu node and its intc, then the rest.
  const cpuPhandle = (hart: number) => 1 + 2 * hart;
  const intcPhandle = (hart: number) => 2 + 2 * hart;
  const plicPhandle = 2 * hartCount + 1;
  const testPhandle = 2 * hartCount + 2;

  const w = new FdtWriter();
  w.beginNode('');
  w.propU32('#address-cells', 2);
  w.propU32('#size-cells', 2);
  w.propString('compatible', 'riscv-virtio');
  w.propString('model', 'riscv-virtio,strata');

  w.beginNode('chosen');
  w.propString('bootargs', options.bootargs);
  w.propString('stdout-path', virtUartPath());
  if (options.initrd) {
    // Linux reads linux,initrd-start/end as one or two cells; two cells hold any address.
    w.propU64('linux,initrd-start', options.initrd.start);
    w.propU64('linux,initrd-end', options.initrd.end);
  }
  if (options.rngSeed && options.rngSeed.length > 0) w.propBytes('rng-seed', options.rngSeed);
  w.endNode();

  // Devicetree spec §3.4: /memory with device_type "memory".
  w.beginNode(nodeName('memory', VIRT_MEMMAP.dram));
  w.propString('device_type', 'memory');
  w.propCells('reg', regCells({ base: VIRT_MEMMAP.dram.base, sizeBytes: options.memoryBytes }));
  w.endNode();

  // Devicetree spec §3.7/§3.8 and Linux's riscv/cpus.yaml binding.
  w.beginNode('cpus');
  w.propU32('#address-cells', 1);
  w.propU32('#size-cells', 0);
  w.propU32('timebase-frequency', TIMEBASE_FREQUENCY_HZ);
  for (let h = 0; h < hartCount; h++) {
    w.beginNode(`cpu@${h.toString(16)}`);
    w.propString('device_type', 'cpu');
    w.propU32('reg', h);
    w.propString('status', 'okay');
    w.propString('compatible', 'riscv');
    w.propString('riscv,isa', VIRT_RISCV_ISA);
    w.propString('riscv,isa-base', VIRT_RISCV_ISA_BASE);
    w.propStrings('riscv,isa-extensions', VIRT_RISCV_ISA_EXTENSIONS);
    w.propString('mmu-type', VIRT_MMU_TYPE);
    w.propU32('phandle', cpuPhandle(h));
    w.beginNode('interrupt-controller');
    w.propU32('#address-cells', 0);
    w.propU32('#interrupt-cells', 1);
    w.propEmpty('interrupt-controller');
    w.propString('compatible', 'riscv,cpu-intc');
    w.propU32('phandle', intcPhandle(h));
    w.endNode();
    w.endNode();
  }
  w.beginNode('cpu-map');
  w.beginNode('cluster0');
  for (let h = 0; h < hartCount; h++) {
    w.beginNode(`core${h}`);
    w.propU32('cpu', cpuPhandle(h));
    w.endNode();
  }
  w.endNode();
  w.endNode();
  w.endNode();

  w.beginNode('soc');
  w.propU32('#address-cells', 2);
  w.propU32('#size-cells', 2);
  w.propString('compatible', 'simple-bus');
  w.propEmpty('ranges');

  // Linux bindings: sifive,clint0 takes the M-mode software and timer interrupts of each hart.
  w.beginNode(nodeName('clint', VIRT_MEMMAP.clint));
  w.propStrings('compatible', ['sifive,clint0', 'riscv,clint0']);
  w.propCells('reg', regCells(VIRT_MEMMAP.clint));
  w.propCells(
    'interrupts-extended',
    range(hartCount).flatMap((h) => [intcPhandle(h), IRQ_M_SOFT, intcPhandle(h), IRQ_M_TIMER]),
  );
  w.endNode();

  // Linux bindings sifive,plic-1.0.0: one context per hart privilege mode, M then S (QEMU virt's order).
  w.beginNode(nodeName('plic', VIRT_MEMMAP.plic));
  w.propU32('phandle', plicPhandle);
  w.propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  w.propCells('reg', regCells(VIRT_MEMMAP.plic));
  w.propU32('#address-cells', 0);
  w.propU32('#interrupt-cells', 1);
  w.propEmpty('interrupt-controller');
  // riscv,ndev counts the sources that exist, 1..ndev; source 0 is reserved.
  w.propU32('riscv,ndev', PLIC_SOURCE_COUNT - 1);
  w.propCells(
    'interrupts-extended',
    range(hartCount).flatMap((h) => [intcPhandle(h), IRQ_M_EXT, intcPhandle(h), IRQ_S_EXT]),
  );
  w.endNode();

  w.beginNode(nodeName('serial', VIRT_MEMMAP.uart0));
  w.propString('compatible', 'ns16550a');
  w.propCells('reg', regCells(VIRT_MEMMAP.uart0));
  w.propU32('clock-frequency', UART_CLOCK_FREQUENCY_HZ);
  w.propU32('interrupt-parent', plicPhandle);
  w.propU32('interrupts', VIRT_IRQ.uart0);
  w.endNode();

  w.beginNode(nodeName('test', VIRT_MEMMAP.test));
  w.propStrings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
  w.propCells('reg', regCells(VIRT_MEMMAP.test));
  w.propU32('phandle', testPhandle);
  w.endNode();

  w.beginNode(nodeName('rtc', VIRT_MEMMAP.rtc));
  w.propString('compatible', 'google,goldfish-rtc');
  w.propCells('reg', regCells(VIRT_MEMMAP.rtc));
  w.propU32('interrupt-parent', plicPhandle);
  w.propU32('interrupts', VIRT_IRQ.rtc);
  w.endNode();

  for (let n = 0; n < VIRTIO_SLOT_COUNT; n++) {
    const slot = { base: virtioSlotBase(n), sizeBytes: VIRT_MEMMAP.virtio.sizeBytes };
    w.beginNode(nodeName('virtio_mmio', slot));
    w.propString('compatible', 'virtio,mmio');
    w.propCells('reg', regCells(slot));
    w.propU32('interrupt-parent', plicPhandle);
    w.propU32('interrupts', VIRT_IRQ.virtio0 + n);
    w.endNode();
  }
  w.endNode(); // soc

  // Linux bindings syscon-poweroff / syscon-reboot: a write of `value` at `offset` of the test device.
  for (const [name, value] of [
    ['poweroff', FINISHER_PASS],
    ['reboot', FINISHER_RESET],
  ] as const) {
    w.beginNode(name);
    w.propString('compatible', `syscon-${name}`);
    w.propU32('regmap', testPhandle);
    w.propU32('offset', 0);
    w.propU32('value', value);
    w.endNode();
  }

  w.endNode(); // root
  return w.finish(0);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
