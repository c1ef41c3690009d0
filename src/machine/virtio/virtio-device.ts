import type { GuestMemory } from './guest-memory.js';
import type { SplitVirtqueue } from './split-virtqueue.js';

/** Device IDs (virtio 1.2 §5). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_ENTROPY = 4;

/** Reserved feature bits the transport offers for every device (virtio 1.2 §6). */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** A 64-bit feature set as two 32-bit words: bits 0..31, bits 32..63 (no BigInt on the device path). */
export type FeatureWords = readonly [low: number, high: number];

/** True when bit `bit` (0..63) is set in `words`. */
export function hasFeatureBit(words: FeatureWords, bit: number): boolean {
  const word = bit < 32 ? words[0] : words[1];
  return ((word >>> (bit & 31)) & 1) === 1;
}

/** Feature words with exactly the bits in `bits` set. */
export function featureWords(...bits: number[]): [number, number] {
  let low = 0;
  let high = 0;
  for (const b of bits) {
    if (b < 32) low |= 1 << b;
    else high |= 1 << (b - 32);
  }
  return [low >>> 0, high >>> 0];
}

/**
 * What a device gets from its transport once the driver has set it up: guest memory, its queues, the negotiated
 * features, and the way to tell the driver about used buffers or a broken state.
 */
export interface VirtioDeviceHost {
  readonly memory: GuestMemory;
  /** Queue `index` when the driver has enabled it and the device is live (DRIVER_OK, not needing reset). */
  queue(index: number): SplitVirtqueue | undefined;
  /** Whether feature bit `bit` was negotiated. */
  hasFeature(bit: number): boolean;
  /**
   * Call after pushing used buffers on queue `index`: raises the used-buffer interrupt when the driver wants it
   * and wakes the VM's run loop (completions from host I/O arrive while the hart may be asleep).
   */
  usedBuffers(index: number): void;
  /** Signals a configuration change (virtio 1.2 §2.5.1): bumps ConfigGeneration and interrupts. */
  configChanged(): void;
  /** Sets DEVICE_NEEDS_RESET (virtio 1.2 §2.1.1) and tells the driver; the device stops until reset. */
  needsReset(reason: string): void;
}

/**
 * A virtio device behind a transport: its identity, features, queues and configuration space, and its reaction to
 * driver notifications. The transport (virtio-mmio) owns feature negotiation, queue setup, the interrupt and
 * status; the device sees only live queues. A device never throws at the guest.
 */
export interface VirtioDevice {
  readonly deviceId: number;
  /** Device-specific feature bits offered (the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX). */
  readonly features: FeatureWords;
  /** Maximum size of each queue; the count is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Reads `size` bytes (1, 2 or 4) of the configuration space at `offset`, little-endian; beyond it reads 0. */
  readConfig(offset: number, size: number): number;
  /** Writes the configuration space (most fields are read-only: ignored). */
  writeConfig(offset: number, size: number, value: number): void;
  /** The driver set DRIVER_OK: from now on `host.queue()` gives the enabled queues. Called once per reset. */
  activate(host: VirtioDeviceHost): void;
  /** The driver notified queue `index` (only while active). */
  notify(index: number): void;
  /**
   * Device reset (virtio 1.2 §2.4): forget every request; completions of host I/O still in flight must not touch
   * guest memory afterwards.
   */
  reset(): void;
  /** Settles when no host I/O is in flight (for a clean shutdown or a snapshot). */
  settled?(): Promise<void>;
}
