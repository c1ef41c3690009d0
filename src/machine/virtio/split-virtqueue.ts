import type { GuestMemory } from './guest-memory.js';

// Split virtqueue layout (virtio 1.2 §2.7): a descriptor table of 16-byte entries, the driver area ("available
// ring") and the device area ("used ring"), all little-endian.
const DESC_BYTES = 16;
/** Descriptor flags (virtio 1.2 §2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Available ring flag: the driver does not want interrupts (virtio 1.2 §2.7.6). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Longest indirect table the device follows: as long as the longest queue (virtio 1.2 §2.7.5.3.1). */
export const VIRTQ_MAX_INDIRECT_ENTRIES = 1024;

/** One buffer of a descriptor chain, as an index into guest RAM (already bounds-checked). */
export interface ChainSegment {
  readonly ramIndex: number;
  readonly lengthBytes: number;
}

/**
 * A descriptor chain the driver made available: its head index (the id the used ring reports back), its
 * device-readable buffers, then its device-writable buffers (virtio 1.2 §2.7.4.2 puts all readable buffers first).
 */
export interface DescriptorChain {
  readonly head: number;
  readonly readable: readonly ChainSegment[];
  readonly writable: readonly ChainSegment[];
  readonly readableBytes: number;
  readonly writableBytes: number;
}

/** Where a queue lives and which ring features the driver accepted. */
export interface SplitVirtqueueLayout {
  /** Queue size (a power of 2, virtio 1.2 §2.7). */
  readonly size: number;
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  readonly indirect: boolean;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  readonly eventIdx: boolean;
}

/** Saved position of a queue (version 1): the layout plus the device's ring indices. */
export interface SplitVirtqueueState extends SplitVirtqueueLayout {
  readonly version: 1;
  readonly lastAvailIdx: number;
  readonly usedIdx: number;
  readonly signalledUsedIdx: number;
  readonly broken?: string;
}

/**
 * The device side of one split virtqueue over guest RAM. `pop` hands out the next available descriptor chain,
 * `pushUsed` returns one, `shouldInterrupt` says whether the driver wants to hear about the used buffers since the
 * last call (VIRTQ_AVAIL_F_NO_INTERRUPT or, with VIRTIO_F_EVENT_IDX, `used_event`).
 *
 * A hostile driver cannot hang or bloat the host: chains are walked at most queue-size (or indirect-table-size)
 * steps, every buffer is checked to lie in RAM, and nothing is allocated in proportion to a buffer's length. The
 * first malformed structure (loop, index beyond the table, nested indirect table, buffer outside RAM, readable
 * buffer after a writable one, more entries made available than the queue holds) marks the queue broken:
 * `onMalformed` is called once (the transport then sets DEVICE_NEEDS_RESET, virtio 1.2 §2.1.1) and the queue
 * hands out nothing more until it is set up again.
 */
export class SplitVirtqueue {
  readonly layout: SplitVirtqueueLayout;
  private lastAvail = 0;
  private usedIdx = 0;
  private signalledUsedIdx = 0;
  private brokenReason: string | undefined;
  private readonly descIndex: number;
  private readonly availIndex: number;
  private readonly usedIndex: number;

  /**
   * Wraps a queue the driver has laid out. Call `SplitVirtqueue.check` first: the constructor assumes the rings lie
   * in RAM.
   */
  constructor(
    private readonly mem: GuestMemory,
    layout: SplitVirtqueueLayout,
    private readonly onMalformed: (reason: string) => void,
  ) {
    this.layout = layout;
    this.descIndex = mem.index(layout.descAddr, DESC_BYTES * layout.size);
    this.availIndex = mem.index(layout.driverAddr, 6 + 2 * layout.size);
    this.usedIndex = mem.index(layout.deviceAddr, 6 + 8 * layout.size);
  }

  /**
   * Why `layout` cannot be used (size not a power of 2 up to 32768, a ring outside RAM or misaligned, virtio 1.2
   * §2.7 "Alignment"), or undefined when it is fine.
   */
  static check(mem: GuestMemory, layout: SplitVirtqueueLayout): string | undefined {
    const { size } = layout;
    if (size < 1 || size > 32768 || (size & (size - 1)) !== 0) return `queue size ${size} is not a power of 2`;
    if (layout.descAddr % 16 !== 0 || mem.index(layout.descAddr, DESC_BYTES * size) < 0) {
      return `descriptor table at 0x${layout.descAddr.toString(16)} is misaligned or outside RAM`;
    }
    if (layout.driverAddr % 2 !== 0 || mem.index(layout.driverAddr, 6 + 2 * size) < 0) {
      return `driver area at 0x${layout.driverAddr.toString(16)} is misaligned or outside RAM`;
    }
    if (layout.deviceAddr % 4 !== 0 || mem.index(layout.deviceAddr, 6 + 8 * size) < 0) {
      return `device area at 0x${layout.deviceAddr.toString(16)} is misaligned or outside RAM`;
    }
    return undefined;
  }

  /** Why the queue stopped, once a malformed structure was seen. */
  get broken(): string | undefined {
    return this.brokenReason;
  }

  /** True when the driver has made chains available that `pop` has not handed out yet. */
  hasAvailable(): boolean {
    return this.brokenReason === undefined && this.availIdx() !== this.lastAvail;
  }

  /** The next available descriptor chain, or undefined when there is none (or the queue is broken). */
  pop(): DescriptorChain | undefined {
    if (this.brokenReason !== undefined) return undefined;
    const size = this.layout.size;
    const availIdx = this.availIdx();
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return undefined;
    // virtio 1.2 §2.7.6: idx runs ahead of the device by at most the queue size.
    if (pending > size) return this.fail(`available index ${availIdx} is ${pending} entries ahead of the device`);
    const head = this.mem.u16(this.availIndex + 4 + 2 * (this.lastAvail % size));
    const chain = this.walk(head);
    if (chain === undefined) return undefined;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    // virtio 1.2 §2.7.10: with VIRTIO_F_EVENT_IDX, avail_event asks for a notification when the driver makes
    // the entry at this index available, i.e. the next one the device has not seen.
    if (this.layout.eventIdx) this.mem.setU16(this.usedIndex + 4 + 8 * size, this.lastAvail);
    return chain;
  }

  /** Returns chain `head` to the driver with `writtenBytes` written into its writable buffers (virtio 1.2 §2.7.8). */
  pushUsed(head: number, writtenBytes: number): void {
    if (this.brokenReason !== undefined) return;
    const size = this.layout.size;
    const elem = this.usedIndex + 4 + 8 * (this.usedIdx % size);
    this.mem.setU32(elem, head);
    this.mem.setU32(elem + 4, writtenBytes);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.mem.setU16(this.usedIndex + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for the used buffers pushed since the last call: virtio 1.2 §2.7.10
   * (with VIRTIO_F_EVENT_IDX: the used index passed `used_event`) or §2.7.7 (without: VIRTQ_AVAIL_F_NO_INTERRUPT
   * is clear).
   */
  shouldInterrupt(): boolean {
    const oldIdx = this.signalledUsedIdx;
    const newIdx = this.usedIdx;
    this.signalledUsedIdx = newIdx;
    if (newIdx === oldIdx || this.brokenReason !== undefined) return false;
    if (this.layout.eventIdx) {
      const usedEvent = this.mem.u16(this.availIndex + 4 + 2 * this.layout.size);
      return ((newIdx - usedEvent - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }
    return (this.mem.u16(this.availIndex) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** The queue's layout and indices as a plain, versioned object. */
  save(): SplitVirtqueueState {
    return {
      version: 1,
      ...this.layout,
      lastAvailIdx: this.lastAvail,
      usedIdx: this.usedIdx,
      signalledUsedIdx: this.signalledUsedIdx,
      ...(this.brokenReason !== undefined ? { broken: this.brokenReason } : {}),
    };
  }

  /** Puts back the indices of `save()` output (the layout must already match; the transport checks that). */
  restoreIndices(state: SplitVirtqueueState): void {
    this.lastAvail = state.lastAvailIdx & 0xffff;
    this.usedIdx = state.usedIdx & 0xffff;
    this.signalledUsedIdx = state.signalledUsedIdx & 0xffff;
    this.brokenReason = state.broken;
  }

  private availIdx(): number {
    return this.mem.u16(this.availIndex + 2);
  }

  private walk(head: number): DescriptorChain | undefined {
    const readable: ChainSegment[] = [];
    const writable: ChainSegment[] = [];
    let readableBytes = 0;
    let writableBytes = 0;
    let table = this.descIndex;
    let tableEntries = this.layout.size;
    let inIndirect = false;
    let idx = head;
    let steps = 0;
    for (;;) {
      if (idx >= tableEntries) return this.fail(`descriptor index ${idx} is beyond its table of ${tableEntries}`);
      // Each table is walked at most once per entry: a longer walk is a loop (virtio 1.2 §2.7.5.2).
      if (++steps > tableEntries) return this.fail(`descriptor chain from head ${head} loops or is too long`);
      const d = table + DESC_BYTES * idx;
      const addr = this.mem.addr64(d);
      const len = this.mem.u32(d + 8);
      const flags = this.mem.u16(d + 12);
      const next = this.mem.u16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        // virtio 1.2 §2.7.5.3.1: only with the feature, never nested, never combined with NEXT; the table is a
        // whole number of descriptors.
        if (!this.layout.indirect) return this.fail('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (inIndirect) return this.fail('nested indirect descriptor table');
        if (flags & VIRTQ_DESC_F_NEXT) return this.fail('indirect descriptor with VIRTQ_DESC_F_NEXT');
        const entries = len / DESC_BYTES;
        if (len === 0 || !Number.isInteger(entries) || entries > VIRTQ_MAX_INDIRECT_ENTRIES) {
          return this.fail(`indirect table of ${len} bytes`);
        }
        const at = this.mem.index(addr, len);
        if (at < 0 || addr % DESC_BYTES !== 0) return this.fail('indirect table is misaligned or outside RAM');
        table = at;
        tableEntries = entries;
        inIndirect = true;
        idx = 0;
        steps = 0;
        continue;
      }
      const at = this.mem.index(addr, len);
      if (at < 0) return this.fail(`buffer of ${len} bytes at 0x${addr.toString(16)} is outside RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        writable.push({ ramIndex: at, lengthBytes: len });
        writableBytes += len;
      } else {
        // virtio 1.2 §2.7.4.2: device-readable buffers come before device-writable ones.
        if (writable.length > 0) return this.fail('device-readable buffer after a device-writable one');
        readable.push({ ramIndex: at, lengthBytes: len });
        readableBytes += len;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      idx = next;
    }
    return { head, readable, writable, readableBytes, writableBytes };
  }

  private fail(reason: string): undefined {
    if (this.brokenReason === undefined) {
      this.brokenReason = reason;
      this.onMalformed(reason);
    }
    return undefined;
  }
}
