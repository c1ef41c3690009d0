import type { MmioDevice } from './mmio-device.js';

/** "virt" in little-endian ASCII: the virtio-mmio MagicValue (virtio 1.2 §4.2.2). */
export const VIRTIO_MMIO_MAGIC_VALUE = 0x7472_6976;
/** The virtio-mmio (non-legacy) interface version (virtio 1.2 §4.2.2). */
export const VIRTIO_MMIO_VERSION = 2;

const VIRTIO_MMIO_MAGIC_OFFSET = 0x000;
const VIRTIO_MMIO_VERSION_OFFSET = 0x004;

/**
 * A virtio-mmio slot with no device behind it: MagicValue and Version read as a real transport's, DeviceID (and
 * every other register) reads 0, writes are ignored. virtio 1.2 §4.2.2: device ID 0 is a placeholder that the
 * driver must ignore, so Linux's virtio-mmio probe skips the slot. Replaced by a real device through
 * `VirtMachine.attachVirtioDevice`.
 */
export class VirtioMmioEmptySlot implements MmioDevice {
  read(offset: number, size: number): number {
    if (size !== 4) return 0;
    if (offset === VIRTIO_MMIO_MAGIC_OFFSET) return VIRTIO_MMIO_MAGIC_VALUE;
    if (offset === VIRTIO_MMIO_VERSION_OFFSET) return VIRTIO_MMIO_VERSION;
    return 0;
  }

  write(_offset: number, _size: number, _value: number): void {}
}
