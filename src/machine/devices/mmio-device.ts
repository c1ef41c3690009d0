/**
 * The one tiny interface of a memory-mapped device (TinyEMU style), and the interrupt line a device drives.
 */

/**
 * A device behind the bus. `offset` is relative to the device's base address; `size` is 1, 2 or 4 bytes.
 * Contract: never throws at the guest; unimplemented registers read 0 and ignore writes. `read` returns the value
 * as an unsigned number below 2^32 (only the low `size` bytes may be non-zero).
 */
export interface MmioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

/**
 * One level-triggered interrupt line into the interrupt controller. A device sets it high while it wants service
 * and low when the condition is gone; repeated calls with the same level are cheap and harmless.
 */
export interface IrqLine {
  setLevel(asserted: boolean): void;
}

/** An interrupt line wired to nothing (for devices that are not connected, and for tests). */
export const NO_IRQ: IrqLine = { setLevel: () => {} };
