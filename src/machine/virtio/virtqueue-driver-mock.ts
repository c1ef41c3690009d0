import type { MmioDevice } from '../devices/mmio-device.js';
import { GuestMemory } from './guest-memory.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './split-virtqueue.js';
import { type FeatureWords, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from './virtio-device.js';
import { VIRTIO_MMIO, VIRTIO_STATUS } from './virtio-mmio.js';

/** One buffer of a chain the mock driver submits: guest physical address, length, device-writable or not. */
export interface MockBuffer {
  readonly addr: number;
  readonly len: number;
  readonly write: boolean;
}

/** A used-ring entry as the driver reads it. */
export interface MockUsed {
  readonly id: number;
  readonly len: number;
}

/**
 * Guest RAM for tests with a bump allocator: what a driver would get from its kernel's allocator. Addresses are
 * guest physical (`ramBase` + index).
 */
export class MockGuestRam {
  readonly ram: Uint8Array;
  readonly mem: GuestMemory;
  private next: number;

  /**
   * `sizeBytes` of zeroed RAM at `ramBase`, or an existing RAM (a machine's) to allocate in; allocation starts
   * `firstOffset` bytes in (default 4096).
   */
  constructor(
    sizeOrRam: number | Uint8Array,
    readonly ramBase = 0x8000_0000,
    firstOffset = 4096,
  ) {
    this.ram = typeof sizeOrRam === 'number' ? new Uint8Array(sizeOrRam) : sizeOrRam;
    this.mem = new GuestMemory(this.ram, ramBase);
    this.next = firstOffset;
  }

  /** Reserves `len` bytes aligned to `align`; returns the guest physical address. */
  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const at = this.next;
    this.next += Math.max(len, 1);
    if (this.next > this.ram.length) throw new Error(`mock guest RAM exhausted allocating ${len} bytes`);
    return this.ramBase + at;
  }

  /** Allocates a buffer holding `bytes`; returns its address. */
  put(bytes: Uint8Array, align = 16): number {
    const addr = this.alloc(bytes.length, align);
    this.ram.set(bytes, addr - this.ramBase);
    return addr;
  }

  /** The `len` bytes at guest physical `addr` (a view, not a copy). */
  view(addr: number, len: number): Uint8Array {
    return this.ram.subarray(addr - this.ramBase, addr - this.ramBase + len);
  }
}

/**
 * The driver side of one split virtqueue (virtio 1.2 §2.7), for tests: lays out the descriptor table and both
 * rings in mock guest RAM, submits descriptor chains (direct or through an indirect table), and reads the used
 * ring. Raw helpers (`setDescriptor`, `publish`) let a test build malformed chains on purpose.
 */
export class VirtqueueDriverMock {
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  private freeHead = 0;
  private availIdx = 0;
  private lastUsed = 0;

  /** Lays out a queue of `size` entries in `gram`. */
  constructor(
    readonly gram: MockGuestRam,
    readonly size: number,
  ) {
    this.descAddr = gram.alloc(16 * size, 16);
    this.driverAddr = gram.alloc(6 + 2 * size, 2);
    this.deviceAddr = gram.alloc(6 + 8 * size, 4);
  }

  /** Writes descriptor `index` of the queue's table (or of the table at `tableAddr`). */
  setDescriptor(
    index: number,
    addr: number,
    len: number,
    flags: number,
    next: number,
    tableAddr = this.descAddr,
  ): void {
    const i = tableAddr - this.gram.ramBase + 16 * index;
    const v = new DataView(this.gram.ram.buffer, this.gram.ram.byteOffset);
    v.setUint32(i, addr >>> 0, true);
    v.setUint32(i + 4, Math.floor(addr / 0x1_0000_0000), true);
    v.setUint32(i + 8, len >>> 0, true);
    v.setUint16(i + 12, flags, true);
    v.setUint16(i + 14, next, true);
  }

  /** Makes descriptor `head` available and advances the available index by one. */
  publish(head: number): void {
    const a = this.gram.mem.index(this.driverAddr, 6 + 2 * this.size);
    this.gram.mem.setU16(a + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.gram.mem.setU16(a + 2, this.availIdx);
  }

  /** Sets the available index directly (to simulate a driver that claims too much). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.gram.mem.setU16(this.gram.mem.index(this.driverAddr, 4) + 2, this.availIdx);
  }

  /** Submits `buffers` as one chain of direct descriptors; returns the head index. */
  submit(buffers: readonly MockBuffer[]): number {
    const head = this.freeHead;
    buffers.forEach((b, k) => {
      const idx = (head + k) % this.size;
      const last = k === buffers.length - 1;
      this.setDescriptor(
        idx,
        b.addr,
        b.len,
        (b.write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
        (idx + 1) % this.size,
      );
    });
    this.freeHead = (head + buffers.length) % this.size;
    this.publish(head);
    return head;
  }

  /** Submits `buffers` through an indirect table (one descriptor in the ring); returns the head index. */
  submitIndirect(buffers: readonly MockBuffer[]): number {
    const table = this.gram.alloc(16 * buffers.length, 16);
    buffers.forEach((b, k) => {
      const last = k === buffers.length - 1;
      this.setDescriptor(
        k,
        b.addr,
        b.len,
        (b.write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
        k + 1,
        table,
      );
    });
    const head = this.freeHead;
    this.setDescriptor(head, table, 16 * buffers.length, VIRTQ_DESC_F_INDIRECT, 0);
    this.freeHead = (head + 1) % this.size;
    this.publish(head);
    return head;
  }

  /** Used entries the device returned since the last call. */
  takeUsed(): MockUsed[] {
    const u = this.gram.mem.index(this.deviceAddr, 6 + 8 * this.size);
    const idx = this.gram.mem.u16(u + 2);
    const out: MockUsed[] = [];
    while (this.lastUsed !== idx) {
      const e = u + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.gram.mem.u32(e), len: this.gram.mem.u32(e + 4) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Sets the available ring's flags (VIRTQ_AVAIL_F_NO_INTERRUPT). */
  setAvailFlags(flags: number): void {
    this.gram.mem.setU16(this.gram.mem.index(this.driverAddr, 2), flags);
  }

  /** Sets `used_event` (VIRTIO_F_EVENT_IDX). */
  setUsedEvent(idx: number): void {
    this.gram.mem.setU16(this.gram.mem.index(this.driverAddr, 6 + 2 * this.size) + 4 + 2 * this.size, idx);
  }

  /** Reads `avail_event` (VIRTIO_F_EVENT_IDX). */
  availEvent(): number {
    return this.gram.mem.u16(this.gram.mem.index(this.deviceAddr, 6 + 8 * this.size) + 4 + 8 * this.size);
  }
}

/** How the mock driver sets a device up. */
export interface MockDriverSetup {
  /** Driver feature words to accept (default: everything offered). */
  features?: FeatureWords;
  /** Queue sizes to use (default: QueueNumMax of each queue, capped at 256). */
  queueSizes?: readonly number[];
}

/**
 * A virtio-mmio driver for tests, talking to the transport through its registers as Linux's virtio_mmio does
 * (virtio 1.2 §3.1.1 and §4.2.3): reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue setup, DRIVER_OK.
 */
export class VirtioMmioDriverMock {
  readonly queues: VirtqueueDriverMock[] = [];

  /** A driver for the transport `dev` whose rings live in `gram`. */
  constructor(
    readonly dev: MmioDevice,
    readonly gram: MockGuestRam,
  ) {}

  /** Reads a 32-bit register. */
  reg(offset: number): number {
    return this.dev.read(offset, 4);
  }

  /** Writes a 32-bit register. */
  setReg(offset: number, value: number): void {
    this.dev.write(offset, 4, value);
  }

  /** The 64-bit DeviceFeatures as two words. */
  deviceFeatures(): [number, number] {
    this.setReg(VIRTIO_MMIO.DeviceFeaturesSel, 0);
    const low = this.reg(VIRTIO_MMIO.DeviceFeatures);
    this.setReg(VIRTIO_MMIO.DeviceFeaturesSel, 1);
    return [low, this.reg(VIRTIO_MMIO.DeviceFeatures)];
  }

  /** Runs the whole initialisation; returns the final Status (FEATURES_OK clear when the device refused). */
  init(setup: MockDriverSetup = {}): number {
    this.setReg(VIRTIO_MMIO.Status, 0);
    this.setReg(VIRTIO_MMIO.Status, VIRTIO_STATUS.ACKNOWLEDGE);
    this.setReg(VIRTIO_MMIO.Status, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
    const [low, high] = setup.features ?? this.deviceFeatures();
    this.setReg(VIRTIO_MMIO.DriverFeaturesSel, 0);
    this.setReg(VIRTIO_MMIO.DriverFeatures, low);
    this.setReg(VIRTIO_MMIO.DriverFeaturesSel, 1);
    this.setReg(VIRTIO_MMIO.DriverFeatures, high);
    const s = VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK;
    this.setReg(VIRTIO_MMIO.Status, s);
    if (!(this.reg(VIRTIO_MMIO.Status) & VIRTIO_STATUS.FEATURES_OK)) return this.reg(VIRTIO_MMIO.Status);
    this.queues.length = 0;
    for (let i = 0; ; i++) {
      this.setReg(VIRTIO_MMIO.QueueSel, i);
      const max = this.reg(VIRTIO_MMIO.QueueNumMax);
      if (max === 0) break;
      const size = setup.queueSizes?.[i] ?? Math.min(max, 256);
      const q = new VirtqueueDriverMock(this.gram, size);
      this.setReg(VIRTIO_MMIO.QueueNum, size);
      this.setAddr(VIRTIO_MMIO.QueueDescLow, q.descAddr);
      this.setAddr(VIRTIO_MMIO.QueueDriverLow, q.driverAddr);
      this.setAddr(VIRTIO_MMIO.QueueDeviceLow, q.deviceAddr);
      this.setReg(VIRTIO_MMIO.QueueReady, 1);
      this.queues.push(q);
    }
    this.setReg(VIRTIO_MMIO.Status, s | VIRTIO_STATUS.DRIVER_OK);
    return this.reg(VIRTIO_MMIO.Status);
  }

  /** Queue `i` (after `init`). */
  queue(i: number): VirtqueueDriverMock {
    const q = this.queues[i];
    if (!q) throw new Error(`queue ${i} is not set up`);
    return q;
  }

  /** Notifies queue `i`. */
  kick(i: number): void {
    this.setReg(VIRTIO_MMIO.QueueNotify, i);
  }

  /** Reads and acknowledges InterruptStatus; returns what was set. */
  ackInterrupt(): number {
    const s = this.reg(VIRTIO_MMIO.InterruptStatus);
    this.setReg(VIRTIO_MMIO.InterruptACK, s);
    return s;
  }

  /** True when features `VIRTIO_F_INDIRECT_DESC` and `VIRTIO_F_EVENT_IDX` are both offered. */
  offersRingFeatures(): boolean {
    const [low] = this.deviceFeatures();
    return ((low >>> VIRTIO_F_INDIRECT_DESC) & 1) === 1 && ((low >>> VIRTIO_F_EVENT_IDX) & 1) === 1;
  }

  private setAddr(lowOffset: number, addr: number): void {
    this.setReg(lowOffset, addr >>> 0);
    this.setReg(lowOffset + 4, Math.floor(addr / 0x1_0000_0000));
  }
}
