/**
 * The virtual switch: ports, a learning forwarding database with aging, flooding, 802.1Q VLANs (access and trunk
 * ports, native VLAN), per-port counters and rate limits, and packet capture of any port.
 *
 * Frame path: a device calls `SwitchPort.receive`; the frame waits in that port's bounded queue; the switch drains
 * the queues round-robin, a few frames per port per turn (so a flooding port cannot starve the others, and memory
 * is bounded by the queue lengths), validates each frame (runts, oversized, multicast source are counted in
 * rxErrors and dropped), and hands it to the datapath. The default datapath is `normal` (the classic learning
 * bridge); an OpenFlow agent replaces it with its flow pipeline, whose NORMAL action calls back into `normal`.
 */

import { StrataError } from '../../base/errors.js';
import {
  ETH_HEADER_BYTES,
  isMulticastMac,
  localMac,
  MAX_FRAME_BYTES,
  type MacNum,
  parseEthernet,
  popVlan,
  pushVlan,
  readMac,
} from './ethernet.js';
import { MacTable } from './mac-table.js';
import { PcapWriter } from './pcap-writer.js';
import { type PortOptions, SwitchPort } from './port.js';

/** Options of a VirtualSwitch. */
export interface VirtualSwitchOptions {
  /** Switch name (shown as the OpenFlow datapath description). */
  name: string;
  /** 64-bit OpenFlow datapath id as 16 hex digits (default: derived from the name). */
  datapathId?: string;
  /** MAC aging time in seconds (default 300). */
  agingSeconds?: number;
  /** Most learned MACs (default 8192). */
  macCapacity?: number;
  /** Largest untagged frame a port accepts, without FCS (default 1514); tagged frames may be 4 bytes longer. */
  maxFrameBytes?: number;
  /** Frames taken from one port per round of the scheduler (default 32). */
  quantum?: number;
  /** Clock for MAC aging in ms (default performance.now). */
  now?: () => number;
}

/** A change of the port set, as OpenFlow PORT_STATUS reports it. */
export type PortEvent = { reason: 'add' | 'delete' | 'modify'; port: SwitchPort };

/** The function that decides where a received frame goes. */
export type Datapath = (inPort: SwitchPort, frame: Uint8Array) => void;

/** A learning Ethernet switch with VLANs. */
export class VirtualSwitch {
  readonly name: string;
  /** OpenFlow datapath id, 16 hex digits. */
  readonly datapathId: string;
  /** The forwarding database. */
  readonly macs: MacTable;
  readonly maxFrameBytes: number;
  private readonly byNo = new Map<number, SwitchPort>();
  private readonly ready: SwitchPort[] = [];
  private scheduled = false;
  private readonly quantum: number;
  private readonly listeners = new Set<(e: PortEvent) => void>();
  private datapath: Datapath;
  private closed = false;

  constructor(opts: VirtualSwitchOptions) {
    this.name = opts.name;
    let h = 0x811c9dc5;
    for (const c of opts.name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    this.datapathId = (opts.datapathId ?? `0000${h.toString(16).padStart(8, '0')}0001`).padStart(16, '0');
    this.macs = new MacTable({ agingSeconds: opts.agingSeconds, capacity: opts.macCapacity, now: opts.now });
    this.maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.quantum = opts.quantum ?? 32;
    this.datapath = (p, f) => this.normal(p, f);
  }

  /** Adds a port; emits a PortEvent 'add'. */
  addPort(opts: PortOptions): SwitchPort {
    if (this.closed) throw new StrataError('UNAVAILABLE', `switch ${this.name} is closed`);
    let no = opts.portNo ?? 1;
    if (opts.portNo !== undefined) {
      if (this.byNo.has(no)) throw new StrataError('ALREADY_EXISTS', `switch ${this.name} already has port ${no}`);
      if (!Number.isInteger(no) || no < 1 || no > 0xffffff00)
        throw new StrataError('INVALID_ARGUMENT', `bad port number ${no}`);
    } else {
      while (this.byNo.has(no)) no++;
    }
    for (const p of this.byNo.values()) {
      if (p.name === opts.name)
        throw new StrataError('ALREADY_EXISTS', `switch ${this.name} already has a port named ${opts.name}`);
    }
    const port = new SwitchPort(
      no,
      opts.name,
      opts.mac ?? localMac(0xfe00000000 + no),
      opts.vlan ?? { mode: 'access', vlan: 1 },
      opts.sink,
      opts.queueFrames ?? 256,
      (p) => this.wake(p),
    );
    if (opts.rateLimit) port.setRateLimit(opts.rateLimit);
    this.byNo.set(no, port);
    this.emit({ reason: 'add', port });
    return port;
  }

  /** Removes a port, forgets the MACs learned on it, stops its captures; emits 'delete'. */
  removePort(no: number): void {
    const port = this.byNo.get(no);
    if (!port) return;
    this.byNo.delete(no);
    port.up = false;
    this.macs.flushPort(no);
    for (const c of port.captures) void c.close();
    port.captures.clear();
    this.emit({ reason: 'delete', port });
  }

  /** Sets a port administratively up or down; emits 'modify'. */
  setPortUp(no: number, up: boolean): void {
    const port = this.requirePort(no);
    if (port.up === up) return;
    port.up = up;
    if (!up) this.macs.flushPort(no);
    this.emit({ reason: 'modify', port });
  }

  /** The port numbered `no`. */
  port(no: number): SwitchPort | undefined {
    return this.byNo.get(no);
  }

  /** The port named `name`. */
  portByName(name: string): SwitchPort | undefined {
    for (const p of this.byNo.values()) if (p.name === name) return p;
    return undefined;
  }

  /** All ports, by number. */
  ports(): SwitchPort[] {
    return [...this.byNo.values()].sort((a, b) => a.no - b.no);
  }

  /** Subscribes to port changes; returns the unsubscribe function. */
  onPortEvent(cb: (e: PortEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Replaces the datapath (an OpenFlow pipeline); null restores the learning switch. */
  setDatapath(dp: Datapath | null): void {
    this.datapath = dp ?? ((p, f) => this.normal(p, f));
  }

  /** Starts capturing port `no` (frames in and out) to a pcap file; returns the writer (close it to stop). */
  capture(no: number, path: string, opts: { snaplen?: number } = {}): PcapWriter {
    const port = this.requirePort(no);
    const w = new PcapWriter(path, opts);
    port.captures.add(w);
    const close = w.close.bind(w);
    w.close = () => {
      port.captures.delete(w);
      return close();
    };
    return w;
  }

  /** Processes every queued frame now (tests, benchmarks); normally a scheduled task does it. */
  flush(): void {
    while (this.ready.length > 0) this.drainRound(Number.POSITIVE_INFINITY);
  }

  /**
   * The learning-switch forwarding of a frame received on `inPort` (IEEE 802.1Q-2018 clause 8.6): VLAN
   * classification by the port's mode, source learning, then unicast to the learned port or flooding within the
   * VLAN; egress tagging by each output port's mode.
   */
  normal(inPort: SwitchPort, frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth) return;
    const mode = inPort.vlan;
    let vlan: number;
    let pcp = 0;
    if (eth.vlan) {
      pcp = eth.vlan.pcp;
      // A priority-tagged frame (VID 0) belongs to the port's VLAN (802.1Q-2018 clause 6.9.1).
      if (mode.mode === 'access') {
        if (eth.vlan.vid !== 0 && eth.vlan.vid !== mode.vlan) {
          inPort.counters.rxDropped++;
          return;
        }
        vlan = mode.vlan;
      } else {
        const vid = eth.vlan.vid === 0 ? mode.native : eth.vlan.vid;
        if (vid === undefined || (vid !== mode.native && inPort.allowed && !inPort.allowed.has(vid))) {
          inPort.counters.rxDropped++;
          return;
        }
        vlan = vid;
      }
    } else if (mode.mode === 'access') {
      vlan = mode.vlan;
    } else {
      if (mode.native === undefined) {
        inPort.counters.rxDropped++;
        return;
      }
      vlan = mode.native;
    }
    this.macs.learn(vlan, eth.src, inPort.no);
    const inner = eth.vlan ? popVlan(frame) : frame;
    if (!isMulticastMac(eth.dst)) {
      const outNo = this.macs.lookup(vlan, eth.dst);
      if (outNo !== undefined) {
        if (outNo === inPort.no) return; // filtered: destination is on the same segment
        const out = this.byNo.get(outNo);
        if (out?.up && out.carries(vlan)) {
          this.egressVlan(out, vlan, pcp, inner, eth.vlan ? undefined : frame);
          return;
        }
      }
    }
    for (const out of this.byNo.values()) {
      if (out === inPort || !out.up || !out.carries(vlan)) continue;
      this.egressVlan(out, vlan, pcp, inner, eth.vlan ? undefined : frame);
    }
  }

  /** Sends `frame` out of port `out` as it is (OpenFlow outputs); counts and captures it. */
  transmit(out: SwitchPort, frame: Uint8Array): void {
    if (!out.up) {
      out.counters.txDropped++;
      return;
    }
    for (const c of out.captures) c.write(frame);
    if (out.sink(frame)) {
      out.counters.txPackets++;
      out.counters.txBytes += frame.length;
    } else {
      out.counters.txDropped++;
    }
  }

  /** Stops the switch: removes every port. */
  close(): void {
    for (const no of [...this.byNo.keys()]) this.removePort(no);
    this.closed = true;
  }

  private egressVlan(out: SwitchPort, vlan: number, pcp: number, inner: Uint8Array, untaggedIn?: Uint8Array): void {
    const m = out.vlan;
    const untagged = m.mode === 'access' || m.native === vlan;
    this.transmit(out, untagged ? (untaggedIn ?? inner) : pushVlan(inner, vlan, pcp));
  }

  private requirePort(no: number): SwitchPort {
    const p = this.byNo.get(no);
    if (!p) throw new StrataError('NOT_FOUND', `switch ${this.name} has no port ${no}`);
    return p;
  }

  private emit(e: PortEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure must not break the switch
      }
    }
  }

  private wake(p: SwitchPort): void {
    this.ready.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushSome();
      });
    }
  }

  private flushSome(): void {
    this.drainRound(4096);
    if (this.ready.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushSome();
      });
    }
  }

  /** One or more round-robin passes over the ports with queued frames, up to `budget` frames. */
  private drainRound(budget: number): void {
    let done = 0;
    while (this.ready.length > 0 && done < budget) {
      const n = this.ready.length;
      for (let i = 0; i < n && done < budget; i++) {
        const p = this.ready.shift()!;
        let k = 0;
        while (k < this.quantum && p.qLen > 0) {
          const f = p.dequeue()!;
          k++;
          this.ingress(p, f);
        }
        done += k;
        if (p.qLen > 0) this.ready.push(p);
      }
    }
  }

  private ingress(p: SwitchPort, frame: Uint8Array): void {
    const c = p.counters;
    if (!p.up || !this.byNo.has(p.no)) {
      c.rxDropped++;
      return;
    }
    if (frame.length < ETH_HEADER_BYTES) {
      c.rxErrors++;
      c.rxRunts++;
      return;
    }
    const tagged = frame[12] === 0x81 && frame[13] === 0x00;
    if (frame.length > this.maxFrameBytes + (tagged ? 4 : 0)) {
      c.rxErrors++;
      c.rxOversize++;
      return;
    }
    if (isMulticastMac(readMac(frame, 6)) || (tagged && frame.length < 18)) {
      c.rxErrors++; // a group address is never a valid source (802.3 clause 3.2.3)
      return;
    }
    if (p.limiter && !p.limiter.take(frame.length)) {
      c.rxDropped++;
      return;
    }
    c.rxPackets++;
    c.rxBytes += frame.length;
    for (const w of p.captures) w.write(frame);
    try {
      this.datapath(p, frame);
    } catch {
      c.rxErrors++; // a datapath bug must not stop the switch
    }
  }
}

/** A MacNum from either form, for options that take a MAC. */
export function toMacNum(mac: MacNum | Uint8Array): MacNum {
  return typeof mac === 'number' ? mac : readMac(mac, 0);
}
