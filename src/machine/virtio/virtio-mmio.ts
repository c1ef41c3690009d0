import { StrataError } from '../../base/errors.js';
import type { IrqLine } from '../devices/mmio-device.js';
import { VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION } from '../devices/virtio-mmio-empty.js';
import type { AttachedDevice } from '../virt-machine.js';
import { GuestMemory, physAddr } from './guest-memory.js';
import { SplitVirtqueue, type SplitVirtqueueState } from './split-virtqueue.js';
import {
  type FeatureWords,
  hasFeatureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  type VirtioDevice,
  type VirtioDeviceHost,
} from './virtio-device.js';

/** virtio-mmio register offsets (virtio 1.2 §4.2.2, Table "MMIO Device Register Layout"). */
export const VIRTIO_MMIO = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

/** Device status bits (virtio 1.2 §2.1). */
export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** InterruptStatus bits (virtio 1.2 §4.2.2). */
export const VIRTIO_MMIO_INT_VRING = 1;
export const VIRTIO_MMIO_INT_CONFIG = 2;

/** VendorID the transport reports: "STRA" (any value is allowed; drivers match on DeviceID). */
export const STRATA_VIRTIO_VENDOR_ID = 0x4152_5453;

/** What the transport needs from the machine (a `VirtioSlotContext` fits). */
export interface VirtioTransportContext {
  readonly irq: IrqLine;
  readonly ram: Uint8Array;
  readonly ramBase: number;
  /** Wakes the VM's run loop when host I/O completes while the hart sleeps. */
  readonly wake?: () => void;
}

interface QueueRegs {
  num: number;
  ready: boolean;
  descLow: number;
  descHigh: number;
  driverLow: number;
  driverHigh: number;
  deviceLow: number;
  deviceHigh: number;
  queue: SplitVirtqueue | undefined;
}

/** Saved state of one queue's registers (version 1) and, when enabled, its ring position. */
export interface VirtioMmioQueueState {
  readonly num: number;
  readonly ready: boolean;
  readonly desc: readonly [number, number];
  readonly driver: readonly [number, number];
  readonly device: readonly [number, number];
  readonly ring?: SplitVirtqueueState;
}

/** Saved state of the transport (version 1). Device-specific state is saved by the device. */
export interface VirtioMmioState {
  readonly version: 1;
  readonly deviceId: number;
  readonly status: number;
  readonly deviceFeaturesSel: number;
  readonly driverFeaturesSel: number;
  readonly driverFeatures: readonly [number, number];
  readonly queueSel: number;
  readonly interruptStatus: number;
  readonly configGeneration: number;
  readonly needsResetReason?: string;
  readonly queues: readonly VirtioMmioQueueState[];
}

/**
 * The virtio-mmio transport, version 2 ("modern", virtio 1.2 §4.2), in one `virt` slot around a `VirtioDevice`.
 * It implements the register file, feature negotiation (VIRTIO_F_VERSION_1 required; INDIRECT_DESC and EVENT_IDX
 * offered), split-virtqueue setup, the interrupt line (high while InterruptStatus is non-zero) and device reset.
 *
 * Plug it in with `machine.attachVirtioDevice(slot, (ctx) => new VirtioMmioTransport(ctx, device))`. Only aligned
 * 32-bit accesses reach the registers below 0x100 (virtio 1.2 §4.2.2.2); the configuration space takes 8-, 16-
 * and 32-bit accesses. Never throws at the guest.
 */
export class VirtioMmioTransport implements AttachedDevice {
  readonly memory: GuestMemory;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private readonly driverFeatures: [number, number] = [0, 0];
  private readonly offered: [number, number];
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private needsResetReason: string | undefined;
  private readonly queues: QueueRegs[];
  private readonly host: VirtioDeviceHost;

  /** Wraps `device` for the slot described by `ctx`. */
  constructor(
    private readonly ctx: VirtioTransportContext,
    readonly device: VirtioDevice,
  ) {
    this.memory = new GuestMemory(ctx.ram, ctx.ramBase);
    const [low, high] = device.features;
    this.offered = [
      (low | (1 << VIRTIO_F_INDIRECT_DESC) | (1 << VIRTIO_F_EVENT_IDX)) >>> 0,
      (high | (1 << (VIRTIO_F_VERSION_1 - 32))) >>> 0,
    ];
    this.queues = device.queueMaxSizes.map(() => emptyQueue());
    this.host = {
      memory: this.memory,
      queue: (index) => (this.live() ? this.queues[index]?.queue : undefined),
      hasFeature: (bit) => hasFeatureBit(this.driverFeatures, bit),
      usedBuffers: (index) => this.usedBuffers(index),
      configChanged: () => this.configChanged(),
      needsReset: (reason) => this.setNeedsReset(reason),
    };
  }

  /** The feature bits offered to the driver (device bits plus the transport's). */
  get deviceFeatures(): FeatureWords {
    return this.offered;
  }

  /** Why the device asked for a reset (DEVICE_NEEDS_RESET), if it did. */
  get needsReset(): string | undefined {
    return this.needsResetReason;
  }

  /** The Status register as the driver last left it. */
  get deviceStatus(): number {
    return this.status;
  }

  read(offset: number, size: number): number {
    if (offset >= VIRTIO_MMIO.Config) return this.device.readConfig(offset - VIRTIO_MMIO.Config, size) >>> 0;
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case VIRTIO_MMIO.MagicValue:
        return VIRTIO_MMIO_MAGIC_VALUE;
      case VIRTIO_MMIO.Version:
        return VIRTIO_MMIO_VERSION;
      case VIRTIO_MMIO.DeviceID:
        return this.device.deviceId;
      case VIRTIO_MMIO.VendorID:
        return STRATA_VIRTIO_VENDOR_ID;
      case VIRTIO_MMIO.DeviceFeatures:
        return this.deviceFeaturesSel < 2 ? (this.offered[this.deviceFeaturesSel] ?? 0) : 0;
      case VIRTIO_MMIO.QueueNumMax:
        return this.device.queueMaxSizes[this.queueSel] ?? 0;
      case VIRTIO_MMIO.QueueNum:
        return q?.num ?? 0;
      case VIRTIO_MMIO.QueueReady:
        return q?.ready ? 1 : 0;
      case VIRTIO_MMIO.QueueDescLow:
        return q?.descLow ?? 0;
      case VIRTIO_MMIO.QueueDescHigh:
        return q?.descHigh ?? 0;
      case VIRTIO_MMIO.QueueDriverLow:
        return q?.driverLow ?? 0;
      case VIRTIO_MMIO.QueueDriverHigh:
        return q?.driverHigh ?? 0;
      case VIRTIO_MMIO.QueueDeviceLow:
        return q?.deviceLow ?? 0;
      case VIRTIO_MMIO.QueueDeviceHigh:
        return q?.deviceHigh ?? 0;
      case VIRTIO_MMIO.InterruptStatus:
        return this.interruptStatus;
      case VIRTIO_MMIO.Status:
        return this.status;
      // virtio 1.2 §4.2.2: a shared memory region that does not exist has length -1.
      case VIRTIO_MMIO.SHMLenLow:
      case VIRTIO_MMIO.SHMLenHigh:
        return 0xffff_ffff;
      case VIRTIO_MMIO.ConfigGeneration:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= VIRTIO_MMIO.Config) {
      this.device.writeConfig(offset - VIRTIO_MMIO.Config, size, value);
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return;
    const v = value >>> 0;
    switch (offset) {
      case VIRTIO_MMIO.DeviceFeaturesSel:
        this.deviceFeaturesSel = v;
        return;
      case VIRTIO_MMIO.DriverFeatures:
        // virtio 1.2 §3.1.1: features are written before FEATURES_OK and are fixed from then on.
        if (this.status & VIRTIO_STATUS.FEATURES_OK) return;
        if (this.driverFeaturesSel < 2) this.driverFeatures[this.driverFeaturesSel] = v;
        return;
      case VIRTIO_MMIO.DriverFeaturesSel:
        this.driverFeaturesSel = v;
        return;
      case VIRTIO_MMIO.QueueSel:
        this.queueSel = v;
        return;
      case VIRTIO_MMIO.QueueNotify:
        if (this.live() && this.queues[v]?.queue) this.device.notify(v);
        return;
      case VIRTIO_MMIO.InterruptACK:
        this.interruptStatus &= ~v;
        this.updateIrq();
        return;
      case VIRTIO_MMIO.Status:
        this.writeStatus(v);
        return;
      default:
        this.writeQueueReg(offset, v);
    }
  }

  /** Machine reset: the same as the driver writing 0 to Status. */
  reset(): void {
    this.deviceReset();
  }

  /** Settles when the device has no host I/O in flight. */
  settled(): Promise<void> {
    return this.device.settled?.() ?? Promise.resolve();
  }

  /**
   * The transport's registers and ring positions as a plain, versioned object. Take it while the device is
   * settled (`await settled()`): requests in flight are not part of it.
   */
  save(): VirtioMmioState {
    return {
      version: 1,
      deviceId: this.device.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [this.driverFeatures[0], this.driverFeatures[1]],
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      ...(this.needsResetReason !== undefined ? { needsResetReason: this.needsResetReason } : {}),
      queues: this.queues.map((q) => ({
        num: q.num,
        ready: q.ready,
        desc: [q.descLow, q.descHigh],
        driver: [q.driverLow, q.driverHigh],
        device: [q.deviceLow, q.deviceHigh],
        ...(q.queue ? { ring: q.queue.save() } : {}),
      })),
    };
  }

  /**
   * Restores `save()` output into a transport around the same kind of device (over the same guest RAM, already
   * restored), re-activates the device when the driver had finished setup, and re-drives the interrupt line.
   * Throws INVALID_ARGUMENT for another version, device or queue count.
   */
  restore(state: VirtioMmioState): void {
    if (state.version !== 1 || state.deviceId !== this.device.deviceId || state.queues.length !== this.queues.length) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `virtio-mmio state version ${state.version} for device ${state.deviceId} does not fit this device`,
      );
    }
    this.deviceReset();
    this.status = state.status;
    this.deviceFeaturesSel = state.deviceFeaturesSel;
    this.driverFeaturesSel = state.driverFeaturesSel;
    this.driverFeatures[0] = state.driverFeatures[0];
    this.driverFeatures[1] = state.driverFeatures[1];
    this.queueSel = state.queueSel;
    this.configGeneration = state.configGeneration;
    this.needsResetReason = state.needsResetReason;
    state.queues.forEach((s, i) => {
      const q = this.queues[i];
      if (!q) return;
      q.num = s.num;
      [q.descLow, q.descHigh] = s.desc;
      [q.driverLow, q.driverHigh] = s.driver;
      [q.deviceLow, q.deviceHigh] = s.device;
      q.ready = false;
      if (s.ready) this.enableQueue(i);
      if (s.ring && q.queue) q.queue.restoreIndices(s.ring);
    });
    this.interruptStatus = state.interruptStatus;
    this.updateIrq();
    if (this.live()) this.device.activate(this.host);
  }

  private writeStatus(v: number): void {
    // virtio 1.2 §2.4.1 / §4.2.2.1: writing 0 resets the device.
    if (v === 0) {
      this.deviceReset();
      return;
    }
    const was = this.status;
    let next = v & 0xff;
    if (next & VIRTIO_STATUS.FEATURES_OK && !(was & VIRTIO_STATUS.FEATURES_OK) && !this.featuresAcceptable()) {
      // virtio 1.2 §3.1.1 step 6: the driver re-reads Status and sees FEATURES_OK clear when we refuse.
      next &= ~VIRTIO_STATUS.FEATURES_OK;
    }
    // DEVICE_NEEDS_RESET is the device's bit; the driver cannot clear it short of a reset.
    if (this.needsResetReason !== undefined) next |= VIRTIO_STATUS.DEVICE_NEEDS_RESET;
    this.status = next;
    if (next & VIRTIO_STATUS.DRIVER_OK && !(was & VIRTIO_STATUS.DRIVER_OK) && this.live()) {
      this.device.activate(this.host);
    }
  }

  // virtio 1.2 §6.1: a driver that does not accept VIRTIO_F_VERSION_1 is a legacy driver, which version 2 of the
  // MMIO transport does not serve; nor may it accept a feature the device did not offer.
  private featuresAcceptable(): boolean {
    const [low, high] = this.driverFeatures;
    if ((low & ~this.offered[0]) !== 0 || (high & ~this.offered[1]) !== 0) return false;
    return hasFeatureBit(this.driverFeatures, VIRTIO_F_VERSION_1);
  }

  private writeQueueReg(offset: number, v: number): void {
    const q = this.queues[this.queueSel];
    if (!q) return;
    if (offset === VIRTIO_MMIO.QueueReady) {
      if ((v & 1) === 1 && !q.ready) this.enableQueue(this.queueSel);
      else if ((v & 1) === 0) {
        q.ready = false;
        q.queue = undefined;
      }
      return;
    }
    // virtio 1.2 §4.2.2.2: the queue's layout registers are written only while it is not ready.
    if (q.ready) return;
    switch (offset) {
      case VIRTIO_MMIO.QueueNum:
        q.num = v;
        return;
      case VIRTIO_MMIO.QueueDescLow:
        q.descLow = v;
        return;
      case VIRTIO_MMIO.QueueDescHigh:
        q.descHigh = v;
        return;
      case VIRTIO_MMIO.QueueDriverLow:
        q.driverLow = v;
        return;
      case VIRTIO_MMIO.QueueDriverHigh:
        q.driverHigh = v;
        return;
      case VIRTIO_MMIO.QueueDeviceLow:
        q.deviceLow = v;
        return;
      case VIRTIO_MMIO.QueueDeviceHigh:
        q.deviceHigh = v;
        return;
    }
  }

  private enableQueue(index: number): void {
    const q = this.queues[index];
    if (!q) return;
    q.ready = true;
    const max = this.device.queueMaxSizes[index] ?? 0;
    const layout = {
      size: q.num,
      descAddr: physAddr(q.descLow, q.descHigh),
      driverAddr: physAddr(q.driverLow, q.driverHigh),
      deviceAddr: physAddr(q.deviceLow, q.deviceHigh),
      indirect: hasFeatureBit(this.driverFeatures, VIRTIO_F_INDIRECT_DESC),
      eventIdx: hasFeatureBit(this.driverFeatures, VIRTIO_F_EVENT_IDX),
    };
    const problem =
      q.num > max
        ? `queue ${index} size ${q.num} exceeds QueueNumMax ${max}`
        : SplitVirtqueue.check(this.memory, layout);
    if (problem !== undefined) {
      this.setNeedsReset(problem);
      return;
    }
    q.queue = new SplitVirtqueue(this.memory, layout, (reason) => this.setNeedsReset(`queue ${index}: ${reason}`));
  }

  // virtio 1.2 §3.1.1: the device works only after the driver set DRIVER_OK on top of an accepted FEATURES_OK.
  private live(): boolean {
    const need = VIRTIO_STATUS.DRIVER_OK | VIRTIO_STATUS.FEATURES_OK;
    return (this.status & need) === need && this.needsResetReason === undefined;
  }

  private usedBuffers(index: number): void {
    const queue = this.queues[index]?.queue;
    if (!queue?.shouldInterrupt()) return;
    this.interruptStatus |= VIRTIO_MMIO_INT_VRING;
    this.updateIrq();
    this.ctx.wake?.();
  }

  private configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (!(this.status & VIRTIO_STATUS.DRIVER_OK)) return;
    this.interruptStatus |= VIRTIO_MMIO_INT_CONFIG;
    this.updateIrq();
    this.ctx.wake?.();
  }

  // virtio 1.2 §2.1.2: on DEVICE_NEEDS_RESET a device that is DRIVER_OK sends a configuration change notification.
  private setNeedsReset(reason: string): void {
    if (this.needsResetReason !== undefined) return;
    this.needsResetReason = reason;
    this.status |= VIRTIO_STATUS.DEVICE_NEEDS_RESET;
    this.configChanged();
  }

  private deviceReset(): void {
    this.device.reset();
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures[0] = 0;
    this.driverFeatures[1] = 0;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.needsResetReason = undefined;
    for (let i = 0; i < this.queues.length; i++) this.queues[i] = emptyQueue();
    this.updateIrq();
  }

  private updateIrq(): void {
    this.ctx.irq.setLevel(this.interruptStatus !== 0);
  }
}

function emptyQueue(): QueueRegs {
  return {
    num: 0,
    ready: false,
    descLow: 0,
    descHigh: 0,
    driverLow: 0,
    driverHigh: 0,
    deviceLow: 0,
    deviceHigh: 0,
    queue: undefined,
  };
}
