/**
 * TCP from guests to the host, as QEMU's user networking does it: the router terminates the guest's TCP
 * connection with a small TCP implementation of its own (RFC 9293) and relays the byte stream to a host socket
 * (node:net) connected to the host's loopback at the destination port.
 *
 * What it implements, kept small on purpose: the passive open (SYN -> connect to the host -> SYN-ACK, or RST when
 * the host refuses), in-order data with cumulative ACKs (out-of-order segments are not queued: they are answered
 * with a duplicate ACK and the guest retransmits), the guest's MSS option and window (no window scaling, so at
 * most 64 KiB in flight), our receive window following the host socket's backlog (backpressure to the guest),
 * retransmission on timeout with exponential backoff (RFC 6298: initial RTO 1 s) and go-back-N, fast retransmit
 * on three duplicate ACKs (RFC 5681), zero-window probes, FIN in both directions (half-close), and RST. Host data
 * waiting for the guest is bounded: the host socket is paused beyond 256 KiB.
 */

import { connect, type Socket } from 'node:net';
import { IPPROTO, transportChecksum } from '../ipv4.js';

/** TCP header flags. */
export const TCPF = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

/** A parsed TCP segment. */
export interface TcpSegment {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** MSS option of a SYN. */
  mss?: number;
  data: Uint8Array;
}

/** Parses a TCP segment, verifying its checksum; undefined when malformed. */
export function parseTcp(src: number, dst: number, seg: Uint8Array): TcpSegment | undefined {
  if (seg.length < 20) return undefined;
  const off = (seg[12]! >> 4) * 4;
  if (off < 20 || off > seg.length) return undefined;
  if (transportChecksum(src, dst, IPPROTO.TCP, seg) !== 0) return undefined;
  const v = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  let mss: number | undefined;
  for (let i = 20; i < off; ) {
    const kind = seg[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = seg[i + 1] ?? 0;
    if (len < 2 || i + len > off) break;
    if (kind === 2 && len === 4) mss = v.getUint16(i + 2);
    i += len;
  }
  return {
    sport: v.getUint16(0),
    dport: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: seg[13]! & 0x3f,
    window: v.getUint16(14),
    mss,
    data: seg.subarray(off),
  };
}

/** Builds a TCP segment with checksum (an MSS option when `mss` is given). */
export function buildTcp(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  data: Uint8Array = new Uint8Array(0),
  mss?: number,
): Uint8Array {
  const hl = mss === undefined ? 20 : 24;
  const t = new Uint8Array(hl + data.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  t[12] = (hl / 4) << 4;
  t[13] = flags;
  v.setUint16(14, window);
  if (mss !== undefined) {
    t[20] = 2;
    t[21] = 4;
    v.setUint16(22, mss);
  }
  t.set(data, hl);
  v.setUint16(16, transportChecksum(src, dst, IPPROTO.TCP, t));
  return t;
}

/** a < b in sequence space (RFC 9293 3.4). */
function lt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

function le(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Options of a TcpRelay. */
export interface TcpRelayOptions {
  /** Host address connections go to (default 127.0.0.1). */
  hostAddress?: string;
  /** Most connections at once (default 1024). */
  maxConnections?: number;
  /** Initial retransmission timeout, ms (default 1000, RFC 6298). */
  rtoMs?: number;
  /** Retransmissions before the connection is reset (default 8). */
  maxRetries?: number;
}

/** Addresses of one guest connection. */
export interface TcpFlow {
  guestIp: number;
  guestPort: number;
  /** The address the guest connected to (the router's). */
  dstIp: number;
  dstPort: number;
}

const OUR_MSS = 1460;
const MAX_WINDOW = 65535;
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

class Conn<T> {
  state: 'connecting' | 'syn-rcvd' | 'established' = 'connecting';
  sock: Socket;
  readonly iss = (Math.random() * 0x100000000) >>> 0;
  sndUna = this.iss;
  sndNxt = this.iss;
  rcvNxt: number;
  sndWnd: number;
  mss: number;
  sendBuf = new Uint8Array(0);
  hostEnded = false;
  finSent = false;
  finAcked = false;
  guestFin = false;
  timer: NodeJS.Timeout | undefined;
  rto: number;
  retries = 0;
  dupAcks = 0;
  lastAdvertised = MAX_WINDOW;
  done = false;

  constructor(
    readonly relay: TcpRelay<T>,
    readonly id: string,
    readonly flow: TcpFlow,
    public guest: T,
    syn: TcpSegment,
  ) {
    this.rcvNxt = (syn.seq + 1) >>> 0;
    this.sndWnd = syn.window;
    this.mss = Math.min(syn.mss ?? 536, OUR_MSS);
    this.rto = relay.opts.rtoMs ?? 1000;
    this.sock = connect({ host: relay.opts.hostAddress ?? '127.0.0.1', port: flow.dstPort, allowHalfOpen: true });
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => {
      this.state = 'syn-rcvd';
      this.sendSynAck();
    });
    this.sock.on('data', (d: Buffer) => {
      const nb = new Uint8Array(this.sendBuf.length + d.length);
      nb.set(this.sendBuf);
      nb.set(d, this.sendBuf.length);
      this.sendBuf = nb;
      if (this.sendBuf.length > HIGH_WATER) this.sock.pause();
      this.trySend(false);
    });
    this.sock.on('end', () => {
      this.hostEnded = true;
      this.trySend(false);
    });
    this.sock.on('drain', () => {
      if (this.lastAdvertised < this.mss && this.window() >= this.mss) this.sendAck();
    });
    this.sock.on('error', () => {});
    this.sock.on('close', (hadError) => {
      if (this.done) return;
      if (this.state === 'connecting' || hadError || !this.hostEnded) {
        // Refused, reset, or closed under us: reset the guest side (RFC 9293 3.10.7).
        this.emit(this.state === 'connecting' ? 0 : this.sndNxt, this.rcvNxt, TCPF.RST | TCPF.ACK);
        this.finish();
      }
    });
  }

  /** Our receive window: what the host socket can still take without growing our memory. */
  window(): number {
    return Math.max(0, Math.min(MAX_WINDOW, MAX_WINDOW - this.sock.writableLength));
  }

  emit(seq: number, ack: number, flags: number, data?: Uint8Array, mss?: number): void {
    const w = this.window();
    this.lastAdvertised = w;
    const f = this.flow;
    this.relay.emit(this.guest, f, buildTcp(f.dstIp, f.dstPort, f.guestIp, f.guestPort, seq, ack, flags, w, data, mss));
  }

  sendAck(): void {
    this.emit(this.sndNxt, this.rcvNxt, TCPF.ACK);
  }

  sendSynAck(): void {
    this.sndNxt = (this.iss + 1) >>> 0;
    this.emit(this.iss, this.rcvNxt, TCPF.SYN | TCPF.ACK, undefined, OUR_MSS);
    this.arm();
  }

  arm(): void {
    if (this.timer || this.done) return;
    this.timer = setTimeout(() => this.onTimeout(), this.rto);
    this.timer.unref?.();
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  onTimeout(): void {
    this.timer = undefined;
    if (this.done) return;
    if (++this.retries > (this.relay.opts.maxRetries ?? 8)) {
      this.emit(this.sndNxt, this.rcvNxt, TCPF.RST | TCPF.ACK);
      this.finish();
      return;
    }
    this.rto = Math.min(this.rto * 2, 30_000);
    if (this.state === 'syn-rcvd') {
      this.sendSynAck();
      return;
    }
    this.goBack();
    this.trySend(true);
  }

  /** Go-back-N: resend everything from the oldest unacknowledged byte. */
  goBack(): void {
    this.sndNxt = this.sndUna;
    if (this.finSent && !this.finAcked) this.finSent = false;
  }

  trySend(probe: boolean): void {
    if (this.state !== 'established' || this.done) return;
    let sentOff = (this.sndNxt - this.sndUna) >>> 0;
    if (this.finSent) sentOff--;
    while (sentOff < this.sendBuf.length) {
      const inflight = (this.sndNxt - this.sndUna) >>> 0;
      let room = this.sndWnd - inflight;
      if (room <= 0) {
        if (!probe) break;
        room = 1; // zero-window probe (RFC 9293 3.8.6.1)
      }
      probe = false;
      const len = Math.min(this.mss, this.sendBuf.length - sentOff, room);
      this.emit(this.sndNxt, this.rcvNxt, TCPF.ACK | TCPF.PSH, this.sendBuf.subarray(sentOff, sentOff + len));
      this.sndNxt = (this.sndNxt + len) >>> 0;
      sentOff += len;
    }
    if (this.hostEnded && !this.finSent && sentOff >= this.sendBuf.length) {
      this.emit(this.sndNxt, this.rcvNxt, TCPF.FIN | TCPF.ACK);
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.finSent = true;
    }
    if (this.sndNxt !== this.sndUna || sentOff < this.sendBuf.length) this.arm();
  }

  input(seg: TcpSegment): void {
    if (this.done) return;
    if (seg.flags & TCPF.RST) {
      // Accept a reset whose sequence number is in the window (RFC 9293 3.10.7.4, simplified).
      const off = (seg.seq - this.rcvNxt) | 0;
      if (off >= 0 && off <= MAX_WINDOW) {
        this.sock.destroy();
        this.finish();
      }
      return;
    }
    if (seg.flags & TCPF.SYN) {
      if (this.state === 'syn-rcvd') this.sendSynAck();
      else if (this.state === 'established') this.sendAck();
      return;
    }
    if (this.state === 'connecting' || !(seg.flags & TCPF.ACK)) return;
    // ACK processing (RFC 9293 3.10.7.4, fifth check).
    if (lt(this.sndUna, seg.ack) && le(seg.ack, this.sndNxt)) {
      let acked = (seg.ack - this.sndUna) >>> 0;
      if (this.state === 'syn-rcvd') {
        this.state = 'established';
        acked--;
      }
      if (this.finSent && seg.ack === this.sndNxt) {
        this.finAcked = true;
        acked--;
      }
      if (acked > 0) this.sendBuf = this.sendBuf.subarray(Math.min(acked, this.sendBuf.length));
      this.sndUna = seg.ack;
      this.retries = 0;
      this.dupAcks = 0;
      this.rto = this.relay.opts.rtoMs ?? 1000;
      this.disarm();
      if (this.sendBuf.length < LOW_WATER && this.sock.isPaused()) this.sock.resume();
    } else if (
      seg.ack === this.sndUna &&
      seg.data.length === 0 &&
      !(seg.flags & TCPF.FIN) &&
      this.sndNxt !== this.sndUna &&
      seg.window === this.sndWnd
    ) {
      if (++this.dupAcks === 3) {
        this.disarm();
        this.goBack();
      }
    }
    this.sndWnd = seg.window;
    if (this.state !== 'established') return;
    if (seg.data.length > 0 || seg.flags & TCPF.FIN) {
      const off = (this.rcvNxt - seg.seq) | 0;
      if (off >= 0 && off <= seg.data.length) {
        const fresh = seg.data.subarray(off);
        const take = this.guestFin ? 0 : Math.min(fresh.length, this.window());
        if (take > 0) {
          this.sock.write(fresh.slice(0, take));
          this.rcvNxt = (this.rcvNxt + take) >>> 0;
        }
        if (seg.flags & TCPF.FIN && take === fresh.length && !this.guestFin) {
          this.guestFin = true;
          this.rcvNxt = (this.rcvNxt + 1) >>> 0;
          this.sock.end();
        }
      }
      this.sendAck(); // in order, duplicate or out of order: always acknowledge what we have
    }
    this.trySend(false);
    if (this.guestFin && this.finAcked) {
      this.sock.destroy();
      this.finish();
    }
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    this.relay.forget(this.id);
  }
}

/** Terminates guest TCP connections and relays them to host sockets. */
export class TcpRelay<T> {
  private readonly conns = new Map<string, Conn<T>>();
  /** SYNs refused because of the connection limit. */
  refused = 0;

  constructor(
    /** Sends a TCP segment (with checksum) from flow.dstIp to the guest. */
    readonly emit: (guest: T, flow: TcpFlow, segment: Uint8Array) => void,
    readonly opts: TcpRelayOptions = {},
  ) {}

  /** Open connections. */
  get size(): number {
    return this.conns.size;
  }

  /** Handles a segment from the guest at `src` to `dst`. */
  input(guest: T, src: number, dst: number, seg: TcpSegment): void {
    const id = `${src}:${seg.sport}:${dst}:${seg.dport}`;
    const c = this.conns.get(id);
    if (c) {
      c.guest = guest;
      c.input(seg);
      return;
    }
    const flow: TcpFlow = { guestIp: src, guestPort: seg.sport, dstIp: dst, dstPort: seg.dport };
    if (seg.flags & TCPF.RST) return;
    if (seg.flags & TCPF.SYN && !(seg.flags & TCPF.ACK) && this.conns.size < (this.opts.maxConnections ?? 1024)) {
      this.conns.set(id, new Conn(this, id, flow, guest, seg));
      return;
    }
    if (seg.flags & TCPF.SYN) this.refused++;
    // No connection: answer with a reset (RFC 9293 3.10.7.1).
    const len = seg.data.length + (seg.flags & TCPF.SYN ? 1 : 0) + (seg.flags & TCPF.FIN ? 1 : 0);
    const rst =
      seg.flags & TCPF.ACK
        ? buildTcp(dst, seg.dport, src, seg.sport, seg.ack, 0, TCPF.RST, 0)
        : buildTcp(dst, seg.dport, src, seg.sport, 0, (seg.seq + len) >>> 0, TCPF.RST | TCPF.ACK, 0);
    this.emit(guest, flow, rst);
  }

  /** Resets and closes every connection. */
  close(): void {
    for (const c of [...this.conns.values()]) {
      c.sock.destroy();
      c.finish();
    }
  }

  /** @internal */
  forget(id: string): void {
    this.conns.delete(id);
  }
}
