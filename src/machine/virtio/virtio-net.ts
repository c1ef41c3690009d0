import type { NetBackend } from '../ports/net-backend.js';
import { readFromChain, writeToChain } from './chain-io.js';
import type { DescriptorChain } from './split-virtqueue.js';
import {
  type FeatureWords,
  featureWords,
  VIRTIO_ID_NET,
  type VirtioDevice,
  type VirtioDeviceHost,
} from './virtio-device.js';

/** Feature bits of the network device (virtio 1.2 §5.1.3). */
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;

/** `status` bit of the configuration space (virtio 1.2 §5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;
/** `flags` of struct virtio_net_hdr (virtio 1.2 §5.1.6). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** `gso_type` NONE: the only one without GSO features (virtio 1.2 §5.1.6). */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/**
 * Length of struct virtio_net_hdr with `num_buffers`: 12 bytes whenever VIRTIO_F_VERSION_1 is negotiated, which
 * our transport requires (virtio 1.2 §5.1.6: "num_buffers ... is always present with VERSION_1").
 */
export const VIRTIO_NET_HDR_BYTES = 12;
/** Queue indices without VIRTIO_NET_F_MQ or CTRL_VQ (virtio 1.2 §5.1.2): receiveq1, transmitq1. */
export const VIRTIO_NET_RXQ = 0;
export const VIRTIO_NET_TXQ = 1;

const QUEUE_SIZE = 256;
/** Shortest frame we carry: an Ethernet header (destination, source, EtherType). */
const MIN_FRAME_BYTES = 14;
/** 802.1Q tag: a tagged frame may be this much longer than the backend's untagged limit. */
const VLAN_TAG_BYTES = 4;
// Configuration layout (virtio 1.2 §5.1.4): mac[6], status u16, max_virtqueue_pairs u16, mtu u16. The last two
// exist only with F_MQ / F_MTU (not offered) and read 0.
const CFG_MAC = 0;
const CFG_STATUS = 6;
const CONFIG_BYTES = 12;

/** Counters of a virtio-net device, guest's view: tx is what the guest sent, rx what it received. */
export interface VirtioNetStats {
  txPackets: number;
  txBytes: number;
  /** Frames from the guest dropped as bad: runts, oversized, malformed header or checksum request. */
  txErrors: number;
  /** Of txErrors: shorter than an Ethernet header. */
  txRunts: number;
  /** Of txErrors: longer than the network's largest frame. */
  txOversize: number;
  rxPackets: number;
  rxBytes: number;
  /** Frames for the guest dropped because its driver was not running or its buffers could never hold them. */
  rxDropped: number;
  /** Times the device told the backend to hold frames because the guest had no receive buffer. */
  rxStalls: number;
}

/** Knobs of a virtio-net device. */
export interface VirtioNetOptions {
  /** The guest's MAC address (6 bytes); default the backend's, else a locally administered one. */
  mac?: Uint8Array;
  /** Offer VIRTIO_NET_F_MRG_RXBUF (default true). */
  mergeableRxBuffers?: boolean;
  /** Offer VIRTIO_NET_F_CSUM, checksum completion for the guest's transmissions (default true). */
  checksumOffload?: boolean;
}

/**
 * The virtio network device (virtio 1.2 §5.1) over a `NetBackend`: one receive and one transmit queue, the MAC in
 * the configuration space (VIRTIO_NET_F_MAC), link status (VIRTIO_NET_F_STATUS), mergeable receive buffers
 * (VIRTIO_NET_F_MRG_RXBUF) and transmit checksum completion (VIRTIO_NET_F_CSUM). Each buffer starts with the
 * 12-byte struct virtio_net_hdr.
 *
 * Transmit: the header is stripped, a partial checksum is completed, and the frame goes to the backend. While the
 * backend cannot take frames they stay in the transmit ring (the guest sees a full queue, as on a real wire with
 * flow control) until its `onWritable` fires. Runt, oversized and malformed frames are counted and dropped.
 * Receive: frames from the backend go into the guest's posted buffers, merged over several when needed; when the
 * guest has none free the device refuses the frame (the backend holds it) and calls `resume()` when the guest
 * posts buffers again. Completions raise the interrupt and wake the VM's run loop. Never throws at the guest.
 */
export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly features: FeatureWords;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE] as const;
  /** The guest's MAC address. */
  readonly mac: Uint8Array;
  readonly stats: VirtioNetStats = {
    txPackets: 0,
    txBytes: 0,
    txErrors: 0,
    txRunts: 0,
    txOversize: 0,
    rxPackets: 0,
    rxBytes: 0,
    rxDropped: 0,
    rxStalls: 0,
  };
  private host: VirtioDeviceHost | undefined;
  /** Receive chains taken from the ring but not yet used (a frame needing several buffers waits for enough). */
  private rxStash: DescriptorChain[] = [];
  private rxStashBytes = 0;
  /** True after the device refused a frame for want of buffers: the next notification resumes the backend. */
  private rxWaiting = false;
  private txWaiting = false;
  private inTx = false;
  private disposed = false;

  /** A NIC on `backend`; it registers itself as the backend's receiver. The caller closes the backend. */
  constructor(
    private readonly backend: NetBackend,
    options: VirtioNetOptions = {},
  ) {
    this.mac = (options.mac ?? backend.mac ?? defaultMac()).slice(0, 6);
    const bits = [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS];
    if (options.mergeableRxBuffers ?? true) bits.push(VIRTIO_NET_F_MRG_RXBUF);
    if (options.checksumOffload ?? true) bits.push(VIRTIO_NET_F_CSUM);
    this.features = featureWords(...bits);
    backend.setReceiver((frame) => this.receive(frame));
  }

  readConfig(offset: number, size: number): number {
    if (offset < 0 || offset + size > CONFIG_BYTES) return 0;
    const c = new Uint8Array(CONFIG_BYTES);
    c.set(this.mac, CFG_MAC);
    // virtio 1.2 §5.1.4.2: with VIRTIO_NET_F_STATUS the driver reads link state here.
    const status = this.backend.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    c[CFG_STATUS] = status & 0xff;
    c[CFG_STATUS + 1] = status >> 8;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (c[offset + i] ?? 0);
    return v;
  }

  // virtio 1.2 §5.1.4: the MAC is writable by the driver only without VIRTIO_NET_F_MAC; we offer it, so every
  // field is read-only.
  writeConfig(_offset: number, _size: number, _value: number): void {}

  activate(host: VirtioDeviceHost): void {
    this.host = host;
    this.rxStash = [];
    this.rxStashBytes = 0;
    this.processTx();
    this.rxWaiting = false;
    this.backend.resume();
  }

  notify(index: number): void {
    if (index === VIRTIO_NET_TXQ) this.processTx();
    else if (index === VIRTIO_NET_RXQ && this.rxWaiting) {
      // virtio 1.2 §5.1.6.3: the driver adds receive buffers and notifies; frames held by the backend go first.
      this.rxWaiting = false;
      this.backend.resume();
    }
  }

  reset(): void {
    this.host = undefined;
    this.rxStash = [];
    this.rxStashBytes = 0;
    this.backend.onWritable(null);
    this.txWaiting = false;
  }

  /** Tells the driver that the link state may have changed (a configuration change interrupt). */
  linkChanged(): void {
    this.host?.configChanged();
  }

  /** Stops taking frames from the backend (before the VM goes away); the backend is the caller's to close. */
  dispose(): void {
    this.disposed = true;
    this.backend.setReceiver(null);
    this.backend.onWritable(null);
    this.host = undefined;
  }

  /** Transmit: every frame the guest made available, while the backend can take them. */
  private processTx(): void {
    const host = this.host;
    const queue = host?.queue(VIRTIO_NET_TXQ);
    if (!host || !queue || this.inTx) return;
    this.inTx = true;
    let used = 0;
    try {
      while (queue.hasAvailable()) {
        if (!this.backend.canSend()) {
          // Leave the frames in the ring: the guest's queue fills and its stack slows down (no loss, no growth).
          if (!this.txWaiting) {
            this.txWaiting = true;
            this.backend.onWritable(() => {
              this.txWaiting = false;
              this.backend.onWritable(null);
              this.processTx();
            });
          }
          break;
        }
        const chain = queue.pop();
        if (!chain) break;
        this.transmit(host.memory.ram, chain);
        // virtio 1.2 §5.1.6.2: the device writes nothing into transmit buffers; the used length is 0.
        queue.pushUsed(chain.head, 0);
        used++;
      }
    } finally {
      this.inTx = false;
    }
    if (used > 0) host.usedBuffers(VIRTIO_NET_TXQ);
  }

  private transmit(ram: Uint8Array, chain: DescriptorChain): void {
    const s = this.stats;
    const len = chain.readableBytes - VIRTIO_NET_HDR_BYTES;
    if (len < MIN_FRAME_BYTES) {
      s.txErrors++;
      s.txRunts++;
      return;
    }
    if (len > this.backend.maxFrameBytes + VLAN_TAG_BYTES) {
      s.txErrors++;
      s.txOversize++;
      return;
    }
    const hdr = new Uint8Array(VIRTIO_NET_HDR_BYTES);
    readFromChain(ram, chain, 0, hdr);
    const frame = new Uint8Array(len);
    readFromChain(ram, chain, VIRTIO_NET_HDR_BYTES, frame);
    const flags = hdr[0]!;
    // Without any GSO feature negotiated the driver must send gso_type NONE (virtio 1.2 §5.1.6.2.1).
    if (hdr[1] !== VIRTIO_NET_HDR_GSO_NONE) {
      s.txErrors++;
      return;
    }
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      // virtio 1.2 §5.1.6.2: checksum from csum_start to the end, stored at csum_start + csum_offset; the driver
      // put the pseudo-header sum there already.
      const start = hdr[6]! | (hdr[7]! << 8);
      const at = start + (hdr[8]! | (hdr[9]! << 8));
      if (!this.host?.hasFeature(VIRTIO_NET_F_CSUM) || at + 2 > len || start >= len) {
        s.txErrors++;
        return;
      }
      const sum = onesComplementSum(frame, start, len);
      const c = ~sum & 0xffff;
      frame[at] = c >> 8;
      frame[at + 1] = c & 0xff;
    }
    s.txPackets++;
    s.txBytes += len;
    this.backend.send(frame);
  }

  /** A frame from the network: true when the guest took it (or it was dropped for good), false to be held. */
  private receive(frame: Uint8Array): boolean {
    const s = this.stats;
    const host = this.host;
    const queue = host?.queue(VIRTIO_NET_RXQ);
    if (this.disposed || !host || !queue) {
      // No driver: the frame is lost, as on a real NIC that is down.
      s.rxDropped++;
      return true;
    }
    const need = VIRTIO_NET_HDR_BYTES + frame.length;
    const merge = host.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
    // Gather buffers: with MRG_RXBUF as many as needed (virtio 1.2 §5.1.6.3.2), otherwise one chain that holds
    // the whole frame. A chain too small for any frame it could ever get is returned empty so the ring cannot jam.
    for (;;) {
      if (merge ? this.rxStashBytes >= need : this.rxStash.length > 0) break;
      const chain = queue.pop();
      if (!chain) {
        s.rxStalls++;
        this.rxWaiting = true;
        return false;
      }
      if (chain.writableBytes < (merge ? 1 : VIRTIO_NET_HDR_BYTES + MIN_FRAME_BYTES)) {
        queue.pushUsed(chain.head, 0);
        continue;
      }
      this.rxStash.push(chain);
      this.rxStashBytes += chain.writableBytes;
    }
    const ram = host.memory.ram;
    if (!merge) {
      const chain = this.rxStash[0]!;
      if (chain.writableBytes < need) {
        // A frame larger than the guest's buffers: dropped, the buffer stays for the next frame.
        s.rxDropped++;
        return true;
      }
      this.rxStash.shift();
      this.rxStashBytes -= chain.writableBytes;
      writeToChain(ram, chain, 0, header(1));
      writeToChain(ram, chain, VIRTIO_NET_HDR_BYTES, frame);
      queue.pushUsed(chain.head, need);
    } else {
      let count = 0;
      let room = 0;
      while (room < need) room += this.rxStash[count++]!.writableBytes;
      const chains = this.rxStash.splice(0, count);
      this.rxStashBytes -= room;
      const packet = new Uint8Array(need);
      packet.set(header(count), 0);
      packet.set(frame, VIRTIO_NET_HDR_BYTES);
      let off = 0;
      for (const chain of chains) {
        const n = writeToChain(ram, chain, 0, packet.subarray(off));
        off += n;
        queue.pushUsed(chain.head, n);
      }
    }
    s.rxPackets++;
    s.rxBytes += frame.length;
    host.usedBuffers(VIRTIO_NET_RXQ);
    return true;
  }
}

/** struct virtio_net_hdr for a received frame: no flags, GSO NONE, `numBuffers` buffers. */
function header(numBuffers: number): Uint8Array {
  const h = new Uint8Array(VIRTIO_NET_HDR_BYTES);
  h[10] = numBuffers & 0xff;
  h[11] = numBuffers >> 8;
  return h;
}

/** The 16-bit ones' complement sum of `b[start..end)` (RFC 1071), not yet complemented. */
export function onesComplementSum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** A random locally administered unicast MAC (52:54:xx:xx:xx:xx is QEMU's; we use 02:53 "S"). */
function defaultMac(): Uint8Array {
  const m = new Uint8Array(6);
  crypto.getRandomValues(m.subarray(2));
  m[0] = 0x02;
  m[1] = 0x53;
  return m;
}
