import { StrataError } from '../../base/errors.js';
import type { BlockBackend } from '../ports/block-backend.js';
import { readFromChain, writeToChain } from './chain-io.js';
import type { DescriptorChain } from './split-virtqueue.js';
import {
  type FeatureWords,
  featureWords,
  VIRTIO_ID_BLOCK,
  type VirtioDevice,
  type VirtioDeviceHost,
} from './virtio-device.js';

/** Feature bits of the block device (virtio 1.2 §5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

/** Request types (virtio 1.2 §5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

/** Request status byte (virtio 1.2 §5.2.6). */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Length of the GET_ID answer (virtio 1.2 §5.2.6: VIRTIO_BLK_ID_BYTES). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** write_zeroes flag: the device may deallocate the range (virtio 1.2 §5.2.6). */
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

/** The sector unit of every virtio-blk request, whatever the block size (virtio 1.2 §5.2.6). */
export const SECTOR_BYTES = 512;
const HEADER_BYTES = 16;
const SEGMENT_BYTES = 16;

/** Largest buffer per descriptor the driver may use (`size_max`). */
export const VIRTIO_BLK_SIZE_MAX_BYTES = 128 * 1024;
/** Most data buffers per request (`seg_max`): leaves room for header and status in a 128-entry chain. */
export const VIRTIO_BLK_SEG_MAX = 126;
/** Most bytes of data in one request; a larger one fails with IOERR rather than growing host memory. */
export const VIRTIO_BLK_MAX_REQUEST_BYTES = VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX_BYTES;
/** Most segments in one discard or write-zeroes request. */
export const VIRTIO_BLK_MAX_DISCARD_SEG = 32;
/** Most sectors in one discard or write-zeroes segment (1 GiB). */
export const VIRTIO_BLK_MAX_DISCARD_SECTORS = 2 * 1024 * 1024;
/** Discard granularity announced to the driver, in sectors (4 KiB). */
const DISCARD_SECTOR_ALIGNMENT = 8;
/** Queue size offered. */
const QUEUE_SIZE = 256;
/** Bytes of request data held by the host at once; more requests wait in the ring until some complete. */
const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

// Configuration space layout (virtio 1.2 §5.2.4, struct virtio_blk_config).
const CFG_CAPACITY = 0;
const CFG_SIZE_MAX = 8;
const CFG_SEG_MAX = 12;
const CFG_BLK_SIZE = 20;
const CFG_MAX_DISCARD_SECTORS = 36;
const CFG_MAX_DISCARD_SEG = 40;
const CFG_DISCARD_SECTOR_ALIGNMENT = 44;
const CFG_MAX_WRITE_ZEROES_SECTORS = 48;
const CFG_MAX_WRITE_ZEROES_SEG = 52;
const CFG_WRITE_ZEROES_MAY_UNMAP = 56;
const CONFIG_BYTES = 72;

/** Knobs of a virtio-blk device. */
export interface VirtioBlkOptions {
  /** Bound of request data held by the host at once (default 64 MiB). */
  maxInFlightBytes?: number;
}

/** Saved state of a virtio-blk device (version 1): what the guest was told about the disk. */
export interface VirtioBlkState {
  readonly version: 1;
  readonly capacitySectors: number;
  readonly readOnly: boolean;
}

/**
 * A virtio block device (virtio 1.2 §5.2) over a `BlockBackend`: one request queue; reads, writes, flush, get-id,
 * discard and write-zeroes; read-only disks (VIRTIO_BLK_F_RO). Each request is handed to the backend and the
 * guest sees its completion asynchronously: the used buffer and the interrupt come when the backend's promise
 * settles, so the hart never waits for the host.
 *
 * Guest mistakes are answered, never thrown: a request beyond the capacity, a write to a read-only disk, a
 * misshapen request or a backend failure gets VIRTIO_BLK_S_IOERR; an unknown type VIRTIO_BLK_S_UNSUPP; a chain
 * with no room for the status byte is returned unused.
 */
export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: FeatureWords;
  readonly queueMaxSizes = [QUEUE_SIZE] as const;
  private readonly config = new Uint8Array(CONFIG_BYTES);
  private readonly capacitySectors: number;
  private readonly maxInFlightBytes: number;
  private host: VirtioDeviceHost | undefined;
  /** Bumped by every reset: completions of an older generation must not touch the guest. */
  private generation = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private idleWaiters: (() => void)[] = [];

  /** A device for `backend`; the backend stays owned by the caller (who closes it after the VM is gone). */
  constructor(
    private readonly backend: BlockBackend,
    options: VirtioBlkOptions = {},
  ) {
    this.capacitySectors = Math.floor(backend.sizeBytes / SECTOR_BYTES);
    this.maxInFlightBytes = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES;
    const bits = [
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
      VIRTIO_BLK_F_DISCARD,
      VIRTIO_BLK_F_WRITE_ZEROES,
    ];
    if (backend.readOnly) bits.push(VIRTIO_BLK_F_RO);
    this.features = featureWords(...bits);
    const c = new DataView(this.config.buffer);
    c.setUint32(CFG_CAPACITY, this.capacitySectors >>> 0, true);
    c.setUint32(CFG_CAPACITY + 4, Math.floor(this.capacitySectors / 0x1_0000_0000), true);
    c.setUint32(CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX_BYTES, true);
    c.setUint32(CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX, true);
    c.setUint32(CFG_BLK_SIZE, SECTOR_BYTES, true);
    c.setUint32(CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
    c.setUint32(CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DISCARD_SEG, true);
    c.setUint32(CFG_DISCARD_SECTOR_ALIGNMENT, DISCARD_SECTOR_ALIGNMENT, true);
    c.setUint32(CFG_MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
    c.setUint32(CFG_MAX_WRITE_ZEROES_SEG, 1, true);
    c.setUint8(CFG_WRITE_ZEROES_MAY_UNMAP, 1);
  }

  /** Requests handed to the backend and not yet settled. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  readConfig(offset: number, size: number): number {
    if (offset < 0 || offset + size > CONFIG_BYTES) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[offset + i] ?? 0);
    return v;
  }

  // Every field this device offers is read-only (writeback needs VIRTIO_BLK_F_CONFIG_WCE, not offered).
  writeConfig(_offset: number, _size: number, _value: number): void {}

  activate(host: VirtioDeviceHost): void {
    this.host = host;
    this.processQueue();
  }

  notify(index: number): void {
    if (index === 0) this.processQueue();
  }

  reset(): void {
    this.generation++;
    this.host = undefined;
  }

  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** What the guest was told about the disk, as a plain, versioned object. */
  save(): VirtioBlkState {
    return { version: 1, capacitySectors: this.capacitySectors, readOnly: this.backend.readOnly };
  }

  /** Checks that `state` describes this disk (a restore over another disk would corrupt the guest's view). */
  restore(state: VirtioBlkState): void {
    if (
      state.version !== 1 ||
      state.capacitySectors !== this.capacitySectors ||
      state.readOnly !== this.backend.readOnly
    ) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `virtio-blk state (version ${state.version}, ${state.capacitySectors} sectors) does not fit this disk`,
      );
    }
  }

  private processQueue(): void {
    const queue = this.host?.queue(0);
    if (!queue) return;
    while (this.inFlightBytes < this.maxInFlightBytes) {
      const chain = queue.pop();
      if (!chain) break;
      this.handle(chain);
    }
  }

  private handle(chain: DescriptorChain): void {
    // virtio 1.2 §5.2.6: the status byte is the last device-writable byte. Without one nothing can be reported.
    if (chain.writableBytes < 1) {
      this.finish(this.generation, chain, 0);
      return;
    }
    if (chain.readableBytes < HEADER_BYTES) {
      this.complete(this.generation, chain, VIRTIO_BLK_S_IOERR, 0);
      return;
    }
    const ram = this.host?.memory.ram;
    if (!ram) return;
    const header = new Uint8Array(HEADER_BYTES);
    readFromChain(ram, chain, 0, header);
    const h = new DataView(header.buffer);
    const type = h.getUint32(0, true);
    const sector = sectorOf(h.getUint32(8, true), h.getUint32(12, true));
    switch (type) {
      case VIRTIO_BLK_T_IN:
        this.read(chain, sector);
        return;
      case VIRTIO_BLK_T_OUT:
        this.write(chain, sector);
        return;
      case VIRTIO_BLK_T_FLUSH:
        this.run(chain, 0, () => this.backend.flush());
        return;
      case VIRTIO_BLK_T_GET_ID:
        this.getId(chain);
        return;
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        this.discardOrZero(chain, type);
        return;
      default:
        this.complete(this.generation, chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  private read(chain: DescriptorChain, sector: number): void {
    const length = chain.writableBytes - 1;
    if (!this.dataRequestOk(sector, length)) {
      this.complete(this.generation, chain, VIRTIO_BLK_S_IOERR, 0);
      return;
    }
    const buf = new Uint8Array(length);
    const gen = this.generation;
    this.track(
      length,
      () => this.backend.read(sector * SECTOR_BYTES, buf),
      (ok) => {
        if (!ok) return this.complete(gen, chain, VIRTIO_BLK_S_IOERR, 0);
        const ram = this.liveRam(gen);
        if (ram) writeToChain(ram, chain, 0, buf);
        this.complete(gen, chain, VIRTIO_BLK_S_OK, length);
      },
    );
  }

  private write(chain: DescriptorChain, sector: number): void {
    const length = chain.readableBytes - HEADER_BYTES;
    const ram = this.host?.memory.ram;
    // virtio 1.2 §5.2.6.2: a write to a read-only device fails with IOERR and writes nothing.
    if (!ram || this.backend.readOnly || !this.dataRequestOk(sector, length)) {
      this.complete(this.generation, chain, VIRTIO_BLK_S_IOERR, 0);
      return;
    }
    const buf = new Uint8Array(length);
    readFromChain(ram, chain, HEADER_BYTES, buf);
    this.run(chain, length, () => this.backend.write(sector * SECTOR_BYTES, buf));
  }

  private getId(chain: DescriptorChain): void {
    const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    // The serial is padded with zeros; exactly 20 bytes carry no terminator (virtio 1.2 §5.2.6).
    id.set(new TextEncoder().encode(this.backend.serial).subarray(0, VIRTIO_BLK_ID_BYTES));
    const room = Math.min(VIRTIO_BLK_ID_BYTES, chain.writableBytes - 1);
    const ram = this.host?.memory.ram;
    if (ram) writeToChain(ram, chain, 0, id.subarray(0, room));
    this.complete(this.generation, chain, VIRTIO_BLK_S_OK, room);
  }

  private discardOrZero(chain: DescriptorChain, type: number): void {
    const gen = this.generation;
    const payload = chain.readableBytes - HEADER_BYTES;
    const count = payload / SEGMENT_BYTES;
    const maxSeg = type === VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_MAX_DISCARD_SEG : 1;
    const ram = this.host?.memory.ram;
    if (!ram || this.backend.readOnly || !Number.isInteger(count) || count < 1 || count > maxSeg) {
      this.complete(gen, chain, VIRTIO_BLK_S_IOERR, 0);
      return;
    }
    const raw = new Uint8Array(payload);
    readFromChain(ram, chain, HEADER_BYTES, raw);
    const v = new DataView(raw.buffer);
    const ranges: { offsetBytes: number; lengthBytes: number; unmap: boolean }[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * SEGMENT_BYTES;
      const sector = sectorOf(v.getUint32(at, true), v.getUint32(at + 4, true));
      const sectors = v.getUint32(at + 8, true);
      const flags = v.getUint32(at + 12, true);
      // virtio 1.2 §5.2.6.2: UNMAP on a discard is unsupported; other flag bits are reserved, refused the same way.
      const allowedFlags = type === VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
      if ((flags & ~allowedFlags) !== 0) {
        this.complete(gen, chain, VIRTIO_BLK_S_UNSUPP, 0);
        return;
      }
      if (sectors > VIRTIO_BLK_MAX_DISCARD_SECTORS || !this.inRange(sector, sectors * SECTOR_BYTES)) {
        this.complete(gen, chain, VIRTIO_BLK_S_IOERR, 0);
        return;
      }
      ranges.push({ offsetBytes: sector * SECTOR_BYTES, lengthBytes: sectors * SECTOR_BYTES, unmap: flags === 1 });
    }
    this.run(chain, 0, async () => {
      for (const r of ranges) {
        if (type === VIRTIO_BLK_T_DISCARD) await this.backend.discard(r.offsetBytes, r.lengthBytes);
        else await this.backend.writeZeroes(r.offsetBytes, r.lengthBytes, r.unmap);
      }
    });
  }

  /** A data request of `lengthBytes` at `sector` is whole sectors, not too large, and inside the disk. */
  private dataRequestOk(sector: number, lengthBytes: number): boolean {
    return (
      lengthBytes >= 0 &&
      lengthBytes % SECTOR_BYTES === 0 &&
      lengthBytes <= VIRTIO_BLK_MAX_REQUEST_BYTES &&
      this.inRange(sector, lengthBytes)
    );
  }

  // A request beyond the capacity is the driver's mistake; virtio 1.2 §5.2.6 names no status of its own for it, so
  // it gets the generic failure, IOERR, and the device goes on.
  private inRange(sector: number, lengthBytes: number): boolean {
    return (
      sector >= 0 &&
      sector <= this.capacitySectors &&
      sector * SECTOR_BYTES + lengthBytes <= this.capacitySectors * SECTOR_BYTES
    );
  }

  /** Runs backend operation `op` and completes `chain` with OK or IOERR when it settles. */
  private run(chain: DescriptorChain, heldBytes: number, op: () => Promise<void>): void {
    const gen = this.generation;
    this.track(heldBytes, op, (ok) => this.complete(gen, chain, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, 0));
  }

  /** Starts `op`, counting it (and `heldBytes` of buffers) in flight until it settles, then calls `done`. */
  private track(heldBytes: number, op: () => Promise<void>, done: (ok: boolean) => void): void {
    this.inFlight++;
    this.inFlightBytes += heldBytes;
    let promise: Promise<void>;
    try {
      promise = op();
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      () => this.settle(heldBytes, () => done(true)),
      // A backend failure is the guest's IOERR; the backend reports its own diagnostics.
      () => this.settle(heldBytes, () => done(false)),
    );
  }

  private settle(heldBytes: number, done: () => void): void {
    this.inFlight--;
    this.inFlightBytes -= heldBytes;
    done();
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    // Requests left waiting for buffer room are taken now: the driver will not notify again for them.
    this.processQueue();
  }

  private liveRam(gen: number): Uint8Array | undefined {
    return gen === this.generation ? this.host?.memory.ram : undefined;
  }

  /** Writes the status byte after `dataBytes` of written data and returns the chain to the driver. */
  private complete(gen: number, chain: DescriptorChain, status: number, dataBytes: number): void {
    const ram = this.liveRam(gen);
    if (!ram) return;
    writeToChain(ram, chain, chain.writableBytes - 1, Uint8Array.of(status));
    this.finish(gen, chain, dataBytes + 1);
  }

  private finish(gen: number, chain: DescriptorChain, writtenBytes: number): void {
    if (gen !== this.generation) return;
    const queue = this.host?.queue(0);
    if (!queue) return;
    queue.pushUsed(chain.head, writtenBytes);
    this.host?.usedBuffers(0);
  }
}

/** A sector number from its 32-bit halves; sectors at or beyond 2^52 come back as -1 (beyond any disk). */
function sectorOf(low: number, high: number): number {
  if (high >= 0x10_0000) return -1;
  return high * 0x1_0000_0000 + low;
}
