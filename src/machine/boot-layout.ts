import { StrataError } from '../base/errors.js';
import { FDT_ALIGN_BYTES, FDT_PLACEMENT_LIMIT, KERNEL_LOAD_OFFSET, VIRT_MEMMAP } from './board/virt-memmap.js';
import { buildVirtFdt } from './fdt/virt-fdt.js';
import { checkElfFits, type ElfImage, elfExtent, isElf, loadElf, parseElf } from './loaders/elf-loader.js';
import { isRiscvLinuxImage, parseLinuxImage } from './loaders/linux-image.js';

/** OpenSBI's fw_dynamic_info (include/sbi/fw_dynamic.h): six `unsigned long` fields on rv64. */
export const FW_DYNAMIC_INFO_MAGIC = 0x4942_534f; // "OSBI"
/** Version 2 of the struct adds `boot_hart`. */
export const FW_DYNAMIC_INFO_VERSION = 2;
/** Size of the struct in RAM. */
export const FW_DYNAMIC_INFO_BYTES = 6 * 8;
/** next_mode value for S-mode. */
export const FW_DYNAMIC_INFO_NEXT_MODE_S = 1;

/** Initrds are placed on a page boundary. */
const INITRD_ALIGN_BYTES = 0x1000;

/** What to boot, as the user gave it (the images' bytes and the names used in error messages). */
export interface BootImages {
  readonly memoryBytes: number;
  readonly firmware?: Uint8Array;
  readonly firmwareName?: string;
  readonly kernel: Uint8Array;
  readonly kernelName?: string;
  readonly initrd?: Uint8Array;
  readonly initrdName?: string;
  readonly cmdline: string;
  readonly rngSeed?: Uint8Array;
}

/** A physical address range [start, end). */
export interface PhysRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Where everything goes and how the hart starts. Firmware mode (QEMU virt's boot protocol): the hart starts in
 * M-mode at the RAM base (the firmware) with a0 = hart id, a1 = the DTB and a2 = a fw_dynamic_info naming the
 * kernel as the S-mode payload; fw_jump ignores a2 and jumps to RAM base + KERNEL_LOAD_OFFSET, where the kernel
 * is. Bare-metal mode (no firmware, ELF kernel): the hart starts at the ELF entry in M-mode, HTIF on `tohost`.
 */
export interface BootLayout {
  readonly mode: 'firmware' | 'bare-metal';
  readonly ramBase: number;
  readonly ramBytes: number;
  /** Where the hart starts (M-mode). */
  readonly resetPc: number;
  /** a1: physical address of the DTB. */
  readonly dtbAddr: number;
  readonly dtb: Uint8Array;
  /** a2: physical address of the fw_dynamic_info (firmware mode), else 0. */
  readonly dynamicInfoAddr: number;
  /** Where the firmware hands over (fw_dynamic_info.next_addr), or the ELF entry in bare-metal mode. */
  readonly kernelEntry: number;
  readonly firmware?: PhysRange;
  readonly kernel: PhysRange;
  readonly initrd?: PhysRange;
  /** HTIF `tohost` address (bare-metal mode, when the ELF has the symbol). */
  readonly tohostAddr?: number;
  /** Writes the images, the DTB and the fw_dynamic_info into zeroed `ram` (index 0 = `ramBase`). */
  load(ram: Uint8Array): void;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const fail = (message: string) => new StrataError('INVALID_ARGUMENT', message);
const overlaps = (a: PhysRange, b: PhysRange) => a.start < b.end && b.start < a.end;
const alignDown = (n: number, a: number) => Math.floor(n / a) * a;

/**
 * Validates the images and decides the boot layout, before anything runs. Throws INVALID_ARGUMENT naming the file
 * and the reason for a bad RAM size, a kernel that is neither a RISC-V `Image` nor a RISC-V ELF executable, an
 * `Image` without firmware, anything that does not fit in RAM, and overlapping placements.
 */
export function planBoot(images: BootImages): BootLayout {
  const ramBase = VIRT_MEMMAP.dram.base;
  const ramBytes = images.memoryBytes;
  if (!Number.isSafeInteger(ramBytes) || ramBytes <= 0 || ramBytes % INITRD_ALIGN_BYTES !== 0) {
    throw fail(`memory size ${ramBytes} is not a positive multiple of 4 KiB`);
  }
  const ramEnd = ramBase + ramBytes;
  const fwName = images.firmwareName ?? 'firmware';
  const kName = images.kernelName ?? 'kernel';
  const iName = images.initrdName ?? 'initrd';

  let firmware: PhysRange | undefined;
  if (images.firmware) {
    if (images.firmware.length === 0) throw fail(`firmware '${fwName}' is empty`);
    firmware = { start: ramBase, end: ramBase + images.firmware.length };
    if (firmware.end > ramEnd) {
      throw fail(`firmware '${fwName}' (${images.firmware.length} bytes) does not fit in ${ramBytes} bytes of RAM`);
    }
  }

  // The kernel: a RISC-V ELF executable (at its physical addresses) or a Linux Image (at its text_offset).
  const k = images.kernel;
  let elf: ElfImage | undefined;
  let kernel: PhysRange;
  let kernelEntry: number;
  if (isElf(k)) {
    elf = parseElf(k, kName);
    checkElfFits(elf, ramBase, ramBytes, kName);
    kernel = elfExtent(elf);
    kernelEntry = elf.entry;
  } else {
    const compressed = k.length >= 2 && ((k[0] === 0x1f && k[1] === 0x8b) || (k[0] === 0x28 && k[1] === 0xb5));
    if (!compressed && !isRiscvLinuxImage(k)) {
      throw fail(`kernel '${kName}' is neither a RISC-V Linux Image nor a RISC-V ELF executable`);
    }
    const header = parseLinuxImage(k, kName);
    if (!images.firmware) {
      throw fail(
        `kernel '${kName}' is a Linux Image, which needs SBI firmware (OpenSBI fw_dynamic.bin or fw_jump.bin)`,
      );
    }
    const start = ramBase + (header.textOffset !== 0 ? header.textOffset : KERNEL_LOAD_OFFSET);
    kernel = { start, end: start + header.imageSizeBytes };
    kernelEntry = start;
    if (kernel.end > ramEnd) {
      throw fail(
        `kernel '${kName}' needs ${header.imageSizeBytes} bytes at ${hex(start)}, beyond the end of RAM ${hex(ramEnd)}`,
      );
    }
  }
  if (firmware && overlaps(firmware, kernel)) {
    throw fail(
      `firmware '${fwName}' (${hex(firmware.start)}..${hex(firmware.end)}) overlaps kernel '${kName}' ` +
        `(${hex(kernel.start)}..${hex(kernel.end)})`,
    );
  }
  const lowEnd = Math.max(kernel.end, firmware?.end ?? 0);

  // The DTB's size does not depend on the initrd's addresses (fixed two-cell values), so size it first.
  const fdtOptions = { memoryBytes: ramBytes, bootargs: images.cmdline, rngSeed: images.rngSeed };
  const initrdBytes = images.initrd;
  const probe = buildVirtFdt({ ...fdtOptions, initrd: initrdBytes ? { start: 0, end: 0 } : undefined });
  const dtbAddr = alignDown(Math.min(ramEnd, FDT_PLACEMENT_LIMIT) - probe.length, FDT_ALIGN_BYTES);
  const dynamicInfoAddr = firmware ? dtbAddr - FW_DYNAMIC_INFO_BYTES : dtbAddr;
  if (dynamicInfoAddr < lowEnd) {
    throw fail(
      `${ramBytes} bytes of RAM leave no room for the device tree above kernel '${kName}' (ends at ${hex(kernel.end)})`,
    );
  }

  let initrd: PhysRange | undefined;
  if (initrdBytes) {
    const start = alignDown(dynamicInfoAddr - initrdBytes.length, INITRD_ALIGN_BYTES);
    initrd = { start, end: start + initrdBytes.length };
    if (start < lowEnd) {
      throw fail(
        `initrd '${iName}' (${initrdBytes.length} bytes) does not fit in RAM between kernel '${kName}' ` +
          `(ends at ${hex(lowEnd)}) and the device tree at ${hex(dtbAddr)}`,
      );
    }
  }
  const dtb = initrd ? buildVirtFdt({ ...fdtOptions, initrd }) : probe;

  const firmwareBytes = images.firmware;
  return {
    mode: firmware ? 'firmware' : 'bare-metal',
    ramBase,
    ramBytes,
    resetPc: firmware ? ramBase : kernelEntry,
    dtbAddr,
    dtb,
    dynamicInfoAddr: firmware ? dynamicInfoAddr : 0,
    kernelEntry,
    kernel,
    ...(firmware ? { firmware } : {}),
    ...(initrd ? { initrd } : {}),
    ...(!firmware && elf?.tohost !== undefined ? { tohostAddr: elf.tohost } : {}),
    load(ram: Uint8Array): void {
      if (firmwareBytes) ram.set(firmwareBytes, 0);
      if (elf) loadElf(elf, ram, ramBase);
      else ram.set(k, kernel.start - ramBase);
      if (initrd && initrdBytes) ram.set(initrdBytes, initrd.start - ramBase);
      ram.set(dtb, dtbAddr - ramBase);
      if (firmware) writeDynamicInfo(ram, dynamicInfoAddr - ramBase, kernelEntry);
    },
  };
}

/** OpenSBI fw_dynamic_info v2: magic, version, next_addr, next_mode, options, boot_hart (all u64, little-endian). */
function writeDynamicInfo(ram: Uint8Array, at: number, nextAddr: number): void {
  const dv = new DataView(ram.buffer, ram.byteOffset + at, FW_DYNAMIC_INFO_BYTES);
  const fields = [FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, nextAddr, FW_DYNAMIC_INFO_NEXT_MODE_S, 0, 0];
  fields.forEach((v, i) => {
    dv.setBigUint64(i * 8, BigInt(v), true);
  });
}
