/**
 * A port of the virtual switch: its VLAN mode, counters, optional ingress rate limit, and the bounded ingress
 * queue that keeps one busy port from starving the others (the switch drains queues round-robin).
 */

import type { MacNum } from './ethernet.js';
import type { PcapWriter } from './pcap-writer.js';
import { TokenBucket } from './token-bucket.js';

/**
 * 802.1Q membership of a port (802.1Q-2018 clause 6.9): an access port belongs to one VLAN and carries its
 * frames untagged; a trunk carries tagged frames of its allowed VLANs, and untagged frames of its native VLAN.
 */
export type VlanMode =
  | { mode: 'access'; vlan: number }
  | {
      mode: 'trunk';
      /** VLANs carried tagged (default: all of 1..4094). */
      allowed?: number[];
      /** VLAN of untagged frames on this trunk; without one, untagged frames are dropped. */
      native?: number;
    };

/** Counters of one port, named as OpenFlow's ofp_port_stats (OpenFlow 1.3.5 section 7.3.5.6). */
export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  /** Frames dropped on ingress for policy: full queue, rate limit, VLAN not allowed, port down. */
  rxDropped: number;
  /** Frames dropped on ingress as bad: runts, oversized, malformed (multicast source). */
  rxErrors: number;
  /** Of rxErrors: shorter than an Ethernet header. */
  rxRunts: number;
  /** Of rxErrors: longer than the port's largest frame. */
  rxOversize: number;
  txPackets: number;
  txBytes: number;
  /** Frames the attached device could not take (congested, or its receive queue full). */
  txDropped: number;
  txErrors: number;
}

/** How a port hands frames to what is attached to it; returns false when it could not take the frame. */
export type FrameSink = (frame: Uint8Array) => boolean;

/** Options of `VirtualSwitch.addPort`. */
export interface PortOptions {
  /** Port name (at most 15 bytes are shown over OpenFlow). */
  name: string;
  /** Where frames leaving the switch through this port go. Frames are shared between ports: never modify one. */
  sink: FrameSink;
  /** VLAN mode (default: access port of VLAN 1). */
  vlan?: VlanMode;
  /** MAC reported for the port over OpenFlow (default: derived from the port number). */
  mac?: MacNum;
  /** Ingress rate limit (token bucket); frames beyond it are dropped and counted in rxDropped. */
  rateLimit?: { bytesPerSecond: number; burstBytes?: number };
  /** Ingress queue length in frames (default 256). */
  queueFrames?: number;
  /** OpenFlow port number to use (default: the lowest free one). */
  portNo?: number;
}

/** The counters every port starts with. */
export function zeroCounters(): PortCounters {
  return {
    rxPackets: 0,
    rxBytes: 0,
    rxDropped: 0,
    rxErrors: 0,
    rxRunts: 0,
    rxOversize: 0,
    txPackets: 0,
    txBytes: 0,
    txDropped: 0,
    txErrors: 0,
  };
}

/** One switch port. Created by `VirtualSwitch.addPort`; the attached device calls `receive`. */
export class SwitchPort {
  /** Counters since the port was added. */
  readonly counters: PortCounters = zeroCounters();
  /** Captures running on this port (both directions). */
  readonly captures = new Set<PcapWriter>();
  /** When the port was added (performance.now ms), for OpenFlow durations. */
  readonly createdMs = performance.now();
  /** Administrative state: a down port neither receives nor sends. */
  up = true;
  /** The ingress rate limiter, when configured. */
  limiter: TokenBucket | undefined;
  /** VLANs allowed on a trunk, as a set (undefined: all). */
  allowed: Set<number> | undefined;
  /** @internal ingress queue (ring) */
  readonly queue: Array<Uint8Array | undefined>;
  /** @internal */
  qHead = 0;
  /** @internal */
  qLen = 0;

  constructor(
    /** OpenFlow port number (1..0xffffff00). */
    readonly no: number,
    /** Port name. */
    readonly name: string,
    /** MAC reported over OpenFlow. */
    readonly mac: MacNum,
    /** VLAN mode. */
    public vlan: VlanMode,
    /** The attached device's receive function. */
    public sink: FrameSink,
    queueFrames: number,
    private readonly enqueueHook: (port: SwitchPort) => void,
  ) {
    this.queue = new Array(queueFrames);
    this.setVlan(vlan);
  }

  /** Changes the VLAN mode. */
  setVlan(vlan: VlanMode): void {
    for (const v of vlan.mode === 'access' ? [vlan.vlan] : [...(vlan.allowed ?? []), vlan.native ?? 1]) {
      if (!Number.isInteger(v) || v < 1 || v > 4094) throw new RangeError(`VLAN id out of range 1..4094: ${v}`);
    }
    this.vlan = vlan;
    this.allowed = vlan.mode === 'trunk' && vlan.allowed ? new Set(vlan.allowed) : undefined;
  }

  /** Sets or removes (null) the ingress rate limit. */
  setRateLimit(limit: { bytesPerSecond: number; burstBytes?: number } | null): void {
    this.limiter = limit ? new TokenBucket(limit) : undefined;
  }

  /** True when the ingress queue has room: a frame given to `receive` now would not be dropped for congestion. */
  canReceive(): boolean {
    return this.qLen < this.queue.length;
  }

  /**
   * A frame from the attached device into the switch. Never throws and never blocks: a full queue, a rate limit
   * or a bad frame drops it and counts it.
   */
  receive(frame: Uint8Array): void {
    if (!this.up) {
      this.counters.rxDropped++;
      return;
    }
    if (this.qLen >= this.queue.length) {
      this.counters.rxDropped++;
      return;
    }
    this.queue[(this.qHead + this.qLen) % this.queue.length] = frame;
    this.qLen++;
    if (this.qLen === 1) this.enqueueHook(this);
  }

  /** @internal takes the oldest queued frame */
  dequeue(): Uint8Array | undefined {
    if (this.qLen === 0) return undefined;
    const f = this.queue[this.qHead];
    this.queue[this.qHead] = undefined;
    this.qHead = (this.qHead + 1) % this.queue.length;
    this.qLen--;
    return f;
  }

  /** True when this port carries frames of `vlan` (as member, tagged or native). */
  carries(vlan: number): boolean {
    const m = this.vlan;
    if (m.mode === 'access') return m.vlan === vlan;
    if (m.native === vlan) return true;
    return this.allowed ? this.allowed.has(vlan) : true;
  }
}
