/**
 * ARP (RFC 826) for the router: answering requests for its own addresses, a bounded cache of neighbours with
 * expiry, and resolution of next hops with a small bounded queue of packets waiting for an answer.
 */

import { BROADCAST_MAC, buildEthernet, ETH_TYPE_ARP, type MacNum, readMac, writeMac } from '../ethernet.js';

/** A parsed Ethernet/IPv4 ARP packet. */
export interface ArpPacket {
  op: number;
  sha: MacNum;
  spa: number;
  tha: MacNum;
  tpa: number;
}

/** Parses an ARP payload (hardware type 1, protocol 0x0800, lengths 6 and 4); undefined otherwise. */
export function parseArp(b: Uint8Array, off: number): ArpPacket | undefined {
  if (b.length < off + 28) return undefined;
  const v = new DataView(b.buffer, b.byteOffset + off, 28);
  if (v.getUint16(0) !== 1 || v.getUint16(2) !== 0x0800 || b[off + 4] !== 6 || b[off + 5] !== 4) return undefined;
  return {
    op: v.getUint16(6),
    sha: readMac(b, off + 8),
    spa: v.getUint32(14),
    tha: readMac(b, off + 18),
    tpa: v.getUint32(24),
  };
}

/** Builds an ARP frame. Requests go to broadcast; replies to the target hardware address. */
export function buildArp(op: 1 | 2, sha: MacNum, spa: number, tha: MacNum, tpa: number): Uint8Array {
  const p = new Uint8Array(28);
  const v = new DataView(p.buffer);
  v.setUint16(0, 1);
  v.setUint16(2, 0x0800);
  p[4] = 6;
  p[5] = 4;
  v.setUint16(6, op);
  writeMac(p, 8, sha);
  v.setUint32(14, spa);
  writeMac(p, 18, op === 1 ? 0 : tha);
  v.setUint32(24, tpa);
  return buildEthernet(op === 1 ? BROADCAST_MAC : tha, sha, ETH_TYPE_ARP, p);
}

/** A neighbour cache with expiry and a bounded per-address queue of packets awaiting resolution. */
export class ArpCache {
  private readonly entries = new Map<number, { mac: MacNum; expires: number }>();
  private readonly pending = new Map<number, { packets: Array<(mac: MacNum) => void>; asked: number; tries: number }>();

  constructor(
    private readonly ttlMs = 300_000,
    private readonly capacity = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The MAC of `ip`, when known and fresh. */
  lookup(ip: number): MacNum | undefined {
    const e = this.entries.get(ip);
    if (!e) return undefined;
    if (e.expires < this.now()) {
      this.entries.delete(ip);
      return undefined;
    }
    return e.mac;
  }

  /** Records `ip` at `mac` and releases packets waiting for it. */
  learn(ip: number, mac: MacNum): void {
    if (!this.entries.has(ip) && this.entries.size >= this.capacity) {
      const first = this.entries.keys().next().value;
      if (first !== undefined) this.entries.delete(first);
    }
    this.entries.set(ip, { mac, expires: this.now() + this.ttlMs });
    const p = this.pending.get(ip);
    if (p) {
      this.pending.delete(ip);
      for (const send of p.packets) send(mac);
    }
  }

  /** True when `ip` is cached (used for RFC 826's "merge" step: refresh only known senders). */
  has(ip: number): boolean {
    return this.entries.has(ip);
  }

  /**
   * Runs `send` with the MAC of `ip`, now or once resolved. Returns true when a request should be sent now
   * (first packet for that address, or the last request is over a second old). At most 16 packets wait per
   * address and 256 addresses; beyond that packets are dropped (returns false).
   */
  resolve(ip: number, send: (mac: MacNum) => void): boolean {
    const mac = this.lookup(ip);
    if (mac !== undefined) {
      send(mac);
      return false;
    }
    const t = this.now();
    let p = this.pending.get(ip);
    if (!p) {
      if (this.pending.size >= 256) return false;
      p = { packets: [], asked: Number.NEGATIVE_INFINITY, tries: 0 };
      this.pending.set(ip, p);
    }
    if (p.packets.length < 16) p.packets.push(send);
    if (t - p.asked >= 1000) {
      p.asked = t;
      p.tries++;
      if (p.tries > 5) {
        this.pending.delete(ip);
        return false;
      }
      return true;
    }
    return false;
  }
}
