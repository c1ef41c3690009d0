import { StrataError } from '../base/errors.js';
import type { MemRegion } from './board/virt-memmap.js';
import type { MmioHandler } from './cpu/hart-port.js';
import type { MmioDevice } from './devices/mmio-device.js';

/** One mapped device window, as `Bus.regions()` lists it. */
export interface BusRegion extends MemRegion {
  /** The name the window was mapped under (a key of the board table, or `virtio3`). */
  readonly name: string;
  readonly device: MmioDevice;
}

/**
 * Routes physical MMIO addresses to devices; this is the `MmioHandler` the hart calls for every access outside
 * RAM and the CLINT. Windows come from the board table (`VIRT_MEMMAP`), mapped by name. Unmapped addresses read 0
 * and ignore writes; an access that straddles the end of a window goes to that window (the device sees an offset
 * near its end and ignores what it does not implement). Never throws at the guest.
 */
export class Bus implements MmioHandler {
  private readonly windows: BusRegion[] = [];
  /** The window hit last: MMIO comes in bursts to one device (a UART string, a PLIC claim sequence). */
  private last: BusRegion | undefined;

  /**
   * Maps `device` at `region` under `name`. Throws INTERNAL for an empty window, a duplicate name or a window that
   * overlaps another: the board table is our own data, so that is a bug, not user input.
   */
  map(name: string, region: MemRegion, device: MmioDevice): void {
    if (!(region.sizeBytes > 0)) throw new StrataError('INTERNAL', `bus window '${name}' has size ${region.sizeBytes}`);
    const end = region.base + region.sizeBytes;
    for (const w of this.windows) {
      if (w.name === name) throw new StrataError('INTERNAL', `bus window '${name}' is mapped twice`);
      if (region.base < w.base + w.sizeBytes && w.base < end) {
        throw new StrataError(
          'INTERNAL',
          `bus window '${name}' at 0x${region.base.toString(16)} overlaps '${w.name}' at 0x${w.base.toString(16)}`,
        );
      }
    }
    this.windows.push({ name, base: region.base, sizeBytes: region.sizeBytes, device });
    this.windows.sort((a, b) => a.base - b.base);
  }

  /**
   * Puts `device` in place of the one mapped under `name` (how virtio devices are plugged into an empty slot).
   * Throws NOT_FOUND for an unknown name.
   */
  replace(name: string, device: MmioDevice): void {
    const i = this.windows.findIndex((w) => w.name === name);
    const old = this.windows[i];
    if (old === undefined) throw new StrataError('NOT_FOUND', `no bus window named '${name}'`);
    this.windows[i] = { ...old, device };
    this.last = undefined;
  }

  /** The device mapped under `name`, if any. */
  device(name: string): MmioDevice | undefined {
    return this.windows.find((w) => w.name === name)?.device;
  }

  /** Every mapped window, lowest address first (for diagnostics and tests). */
  regions(): readonly BusRegion[] {
    return this.windows;
  }

  /** The window holding physical address `addr`, or undefined. */
  private find(addr: number): BusRegion | undefined {
    const last = this.last;
    if (last !== undefined && addr >= last.base && addr < last.base + last.sizeBytes) return last;
    for (const w of this.windows) {
      if (addr < w.base) return undefined;
      if (addr < w.base + w.sizeBytes) {
        this.last = w;
        return w;
      }
    }
    return undefined;
  }

  /** MmioHandler: reads `size` bytes at `addr`; unmapped reads 0. The result is unsigned. */
  read(addr: number, size: number): number {
    const w = this.find(addr);
    if (w === undefined) return 0;
    const value = w.device.read(addr - w.base, size);
    return size >= 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
  }

  /** MmioHandler: writes the low `size` bytes of `value` at `addr`; unmapped writes are ignored. */
  write(addr: number, size: number, value: number): void {
    const w = this.find(addr);
    if (w === undefined) return;
    w.device.write(addr - w.base, size, size >= 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1));
  }
}
