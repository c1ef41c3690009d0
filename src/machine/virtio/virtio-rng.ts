import { writeToChain } from './chain-io.js';
import { VIRTIO_ID_ENTROPY, type VirtioDevice, type VirtioDeviceHost } from './virtio-device.js';

/** Fills `dest` with random bytes (at most 65536 at a time, as `crypto.getRandomValues` allows). */
export type RandomBytesSource = (dest: Uint8Array<ArrayBuffer>) => void;

/** Most random bytes given per request: the device may fill less than the buffer (virtio 1.2 §5.4.6). */
export const VIRTIO_RNG_MAX_BYTES_PER_REQUEST = 4096;
const QUEUE_SIZE = 64;

/** The Web Crypto random source (browser-safe; available in Node 20 as the global `crypto`). */
export const webCryptoRandomBytes: RandomBytesSource = (dest) => {
  crypto.getRandomValues(dest);
};

/** Saved state of the entropy device (version 1): it has none beyond its transport's. */
export interface VirtioRngState {
  readonly version: 1;
}

/**
 * The virtio entropy device (virtio 1.2 §5.4): one request queue whose device-writable buffers it fills with
 * random bytes from an injected source, at most VIRTIO_RNG_MAX_BYTES_PER_REQUEST per request. The bytes are made in
 * a host buffer first (Web Crypto refuses views on shared memory) and copied into guest RAM.
 */
export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_ENTROPY;
  readonly features = [0, 0] as const;
  readonly queueMaxSizes = [QUEUE_SIZE] as const;
  private host: VirtioDeviceHost | undefined;
  private readonly scratch = new Uint8Array(VIRTIO_RNG_MAX_BYTES_PER_REQUEST);

  /** A device drawing from `random` (default: Web Crypto). */
  constructor(private readonly random: RandomBytesSource = webCryptoRandomBytes) {}

  // virtio 1.2 §5.4.4: the entropy device has no configuration space.
  readConfig(_offset: number, _size: number): number {
    return 0;
  }

  writeConfig(_offset: number, _size: number, _value: number): void {}

  activate(host: VirtioDeviceHost): void {
    this.host = host;
    this.notify(0);
  }

  notify(index: number): void {
    const host = this.host;
    const queue = host?.queue(index);
    if (!host || !queue || index !== 0) return;
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const n = Math.min(chain.writableBytes, VIRTIO_RNG_MAX_BYTES_PER_REQUEST);
      const bytes = this.scratch.subarray(0, n);
      this.random(bytes);
      writeToChain(host.memory.ram, chain, 0, bytes);
      queue.pushUsed(chain.head, n);
      used = true;
    }
    if (used) host.usedBuffers(0);
  }

  reset(): void {
    this.host = undefined;
  }

  /** The device's state as a plain, versioned object. */
  save(): VirtioRngState {
    return { version: 1 };
  }
}
