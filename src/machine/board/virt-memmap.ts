/**
 * The `virt` board as one table, with the addresses and interrupt lines of QEMU's `hw/riscv/virt.c`, so that
 * firmware and kernels built for QEMU's `virt` run unchanged. The bus and the device tree are both generated from
 * this table; no other file hard-codes an address.
 */
export interface MemRegion {
  /** Guest physical base address. */
  readonly base: number;
  /** Size of the region in bytes. */
  readonly sizeBytes: number;
}

/** Regions of the `virt` board (QEMU virt_memmap[]). */
export const VIRT_MEMMAP = {
  mrom: { base: 0x0000_1000, sizeBytes: 0xf000 },
  test: { base: 0x0010_0000, sizeBytes: 0x1000 },
  rtc: { base: 0x0010_1000, sizeBytes: 0x1000 },
  clint: { base: 0x0200_0000, sizeBytes: 0x1_0000 },
  plic: { base: 0x0c00_0000, sizeBytes: 0x60_0000 },
  uart0: { base: 0x1000_0000, sizeBytes: 0x100 },
  virtio: { base: 0x1000_1000, sizeBytes: 0x1000 },
  dram: { base: 0x8000_0000, sizeBytes: 0 },
} as const satisfies Record<string, MemRegion>;

/** PLIC interrupt source numbers (QEMU virt: UART0_IRQ, RTC_IRQ, VIRTIO_IRQ). */
export const VIRT_IRQ = {
  uart0: 10,
  rtc: 11,
  /** The first virtio-mmio slot's line; slot n uses virtio0 + n. */
  virtio0: 1,
} as const;

/** Number of virtio-mmio slots, each `VIRT_MEMMAP.virtio.sizeBytes` apart (QEMU VIRTIO_COUNT). */
export const VIRTIO_SLOT_COUNT = 8;

/** Number of PLIC interrupt sources the board wires (QEMU VIRT_IRQCHIP_NUM_SOURCES). */
export const PLIC_SOURCE_COUNT = 96;

/** Frequency of `mtime` and the `time` CSR: 10 MHz, as QEMU's virt (RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ). */
export const TIMEBASE_FREQUENCY_HZ = 10_000_000;

/** Where the kernel is placed when firmware is used (OpenSBI fw_jump/fw_dynamic next address on rv64). */
export const KERNEL_LOAD_OFFSET = 0x20_0000;

/** Input clock of the 16550A UART as the device tree announces it (QEMU virt: 3.6864 MHz, `clock-frequency`). */
export const UART_CLOCK_FREQUENCY_HZ = 3_686_400;

/**
 * Alignment of the device tree blob in RAM. The blob goes in the highest 2 MiB-aligned place below the end of RAM
 * (or below `FDT_PLACEMENT_LIMIT`) that holds it, so that the memory after it stays free for OpenSBI, which
 * grows the tree in place when it adds its reserved-memory and other fix-ups.
 */
export const FDT_ALIGN_BYTES = 0x20_0000;

/**
 * Highest guest physical address the device tree may end at (QEMU virt keeps it below 3 GiB so that firmware and
 * early kernel code that address it with 32 bits can reach it).
 */
export const FDT_PLACEMENT_LIMIT = 0xc000_0000;

/** PLIC contexts per hart: M-mode first, then S-mode (QEMU virt's PLIC "MS" hart configuration). */
export const PLIC_CONTEXTS_PER_HART = 2;

/** Base address of virtio-mmio slot `n`. */
export function virtioSlotBase(n: number): number {
  return VIRT_MEMMAP.virtio.base + n * VIRT_MEMMAP.virtio.sizeBytes;
}
