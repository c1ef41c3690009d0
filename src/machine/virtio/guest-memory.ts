/**
 * Guest RAM as a device sees it for DMA: bounds-checked little-endian access by guest physical address. Virtio
 * structures are little-endian (virtio 1.2 §2.4). Addresses are JavaScript numbers; a 64-bit address from the
 * guest is combined from its 32-bit halves by `physAddr`, and anything beyond RAM is simply "not in RAM".
 */
export class GuestMemory {
  private readonly view: DataView;

  /** `ram` holds guest physical address `ramBase` at index 0. */
  constructor(
    readonly ram: Uint8Array,
    readonly ramBase: number,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  /**
   * The RAM index of the `lengthBytes` bytes at guest physical `addr`, or -1 when any of them lies outside RAM
   * (or the address is not a whole non-negative number).
   */
  index(addr: number, lengthBytes: number): number {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(lengthBytes) || lengthBytes < 0) return -1;
    const i = addr - this.ramBase;
    if (i < 0 || i + lengthBytes > this.ram.length) return -1;
    return i;
  }

  /** Little-endian 16-bit load at RAM index `i` (the caller checked the range). */
  u16(i: number): number {
    return this.view.getUint16(i, true);
  }

  /** Little-endian 32-bit load at RAM index `i` (the caller checked the range). */
  u32(i: number): number {
    return this.view.getUint32(i, true);
  }

  /** Little-endian 16-bit store at RAM index `i` (the caller checked the range). */
  setU16(i: number, value: number): void {
    this.view.setUint16(i, value & 0xffff, true);
  }

  /** Little-endian 32-bit store at RAM index `i` (the caller checked the range). */
  setU32(i: number, value: number): void {
    this.view.setUint32(i, value >>> 0, true);
  }

  /**
   * A little-endian 64-bit guest address at RAM index `i` as a number; values at or above 2^52 (never RAM) come
   * back as -1 so they fail every range check instead of losing precision.
   */
  addr64(i: number): number {
    return physAddr(this.view.getUint32(i, true), this.view.getUint32(i + 4, true));
  }
}

/** A 64-bit physical address from its 32-bit halves; -1 when the high half makes it 2^52 or more (never RAM). */
export function physAddr(low: number, high: number): number {
  if (high >>> 0 >= 0x10_0000) return -1;
  return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
}
