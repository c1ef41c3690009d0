/**
 * A DHCP server (RFC 2131, options of RFC 2132) for one router interface: a pool of addresses, leases keyed by
 * client identifier (option 61) or hardware address, offers reserved briefly, renewals, release, decline and
 * inform. It works on UDP payloads; the router carries them.
 */

import { type MacNum, macToString, readMac, writeMac } from '../ethernet.js';
import { broadcastOf, type Cidr, inSubnet, ipToString, prefixMask } from './ipv4.js';

/** DHCP message types (option 53). */
export const DHCP = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

/** The magic cookie that starts the options field (RFC 2131 section 3). */
export const DHCP_MAGIC = 0x63825363;

/** A parsed BOOTP/DHCP message. */
export interface DhcpMessage {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  chaddr: MacNum;
  /** Options by code (the last occurrence wins; RFC 3396 concatenation is not needed for our small options). */
  options: Map<number, Uint8Array>;
}

/** Parses a DHCP message; undefined when it is not one (short, not Ethernet hardware, bad cookie). */
export function parseDhcp(b: Uint8Array): DhcpMessage | undefined {
  if (b.length < 240) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[1] !== 1 || b[2] !== 6 || v.getUint32(236) !== DHCP_MAGIC) return undefined;
  const options = new Map<number, Uint8Array>();
  let i = 240;
  while (i < b.length) {
    const code = b[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) return undefined;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return undefined;
    options.set(code, b.slice(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return {
    op: b[0]!,
    xid: v.getUint32(4),
    secs: v.getUint16(8),
    flags: v.getUint16(10),
    ciaddr: v.getUint32(12),
    yiaddr: v.getUint32(16),
    siaddr: v.getUint32(20),
    giaddr: v.getUint32(24),
    chaddr: readMac(b, 28),
    options,
  };
}

/** Builds a DHCP message (BOOTP fixed part, cookie, options, end; padded to 300 bytes as BOOTP clients expect). */
export function buildDhcp(m: Omit<DhcpMessage, 'options'> & { options: Array<[number, Uint8Array]> }): Uint8Array {
  let optLen = 0;
  for (const [, val] of m.options) optLen += 2 + val.length;
  const b = new Uint8Array(Math.max(300, 240 + optLen + 1));
  const v = new DataView(b.buffer);
  b[0] = m.op;
  b[1] = 1;
  b[2] = 6;
  v.setUint32(4, m.xid);
  v.setUint16(8, m.secs);
  v.setUint16(10, m.flags);
  v.setUint32(12, m.ciaddr);
  v.setUint32(16, m.yiaddr);
  v.setUint32(20, m.siaddr);
  v.setUint32(24, m.giaddr);
  writeMac(b, 28, m.chaddr);
  v.setUint32(236, DHCP_MAGIC);
  let i = 240;
  for (const [code, val] of m.options) {
    b[i] = code;
    b[i + 1] = val.length;
    b.set(val, i + 2);
    i += 2 + val.length;
  }
  b[i] = 255;
  return b;
}

function u32(x: number): Uint8Array {
  return new Uint8Array([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
}

function readU32(b: Uint8Array | undefined): number | undefined {
  if (b?.length !== 4) return undefined;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** Configuration of a DHCP server. */
export interface DhcpServerOptions {
  /** The server's (router interface's) address and subnet. */
  subnet: Cidr;
  /** First and last address handed out (inclusive). */
  rangeStart: number;
  rangeEnd: number;
  /** Lease time in seconds (default 3600). */
  leaseSeconds?: number;
  /** DNS servers to announce (option 6); default none. */
  dns?: number[];
  /** Router to announce (option 3); default the server's address. */
  router?: number;
  /** Domain name (option 15). */
  domain?: string;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/** One lease. */
export interface DhcpLease {
  ip: number;
  mac: MacNum;
  clientId: string;
  /** Unix ms. */
  expires: number;
  state: 'offered' | 'bound';
  hostname?: string;
}

/** A reply and how to deliver it (RFC 2131 section 4.1). */
export interface DhcpReply {
  payload: Uint8Array;
  /** Destination IP: the client's address, or 255.255.255.255. */
  dstIp: number;
  /** Destination MAC: chaddr or broadcast. */
  dstMac: MacNum;
}

const OFFER_HOLD_MS = 30_000;
const DECLINE_HOLD_MS = 600_000;

/** The DHCP server of one subnet. */
export class DhcpServer {
  private readonly leases = new Map<string, DhcpLease>();
  private readonly declined = new Map<number, number>();
  private readonly now: () => number;
  readonly leaseSeconds: number;
  /** DISCOVERs left unanswered because the pool was exhausted. */
  exhausted = 0;

  constructor(private readonly opts: DhcpServerOptions) {
    this.now = opts.now ?? Date.now;
    this.leaseSeconds = opts.leaseSeconds ?? 3600;
    if (
      !inSubnet(opts.rangeStart, opts.subnet) ||
      !inSubnet(opts.rangeEnd, opts.subnet) ||
      opts.rangeStart > opts.rangeEnd
    )
      throw new RangeError(
        `DHCP range ${ipToString(opts.rangeStart)}-${ipToString(opts.rangeEnd)} is not inside the subnet`,
      );
  }

  /** Current leases (bound and offered, not expired). */
  list(): DhcpLease[] {
    const t = this.now();
    return [...this.leases.values()].filter((l) => l.expires > t);
  }

  /** Handles one message from a client; returns the reply to send, if any. */
  handle(msg: DhcpMessage): DhcpReply | undefined {
    if (msg.op !== 1) return undefined;
    const type = msg.options.get(53)?.[0];
    const cid = msg.options.get(61);
    const key = cid && cid.length > 0 ? `id:${Buffer.from(cid).toString('hex')}` : `hw:${macToString(msg.chaddr)}`;
    const server = this.opts.subnet.ip;
    const requested = readU32(msg.options.get(50));
    const serverId = readU32(msg.options.get(54));
    const t = this.now();
    switch (type) {
      case DHCP.DISCOVER: {
        const ip = this.choose(key, requested, t);
        if (ip === undefined) {
          this.exhausted++;
          return undefined;
        }
        const existing = this.leases.get(key);
        if (!existing || existing.ip !== ip || existing.state !== 'bound')
          this.leases.set(key, { ip, mac: msg.chaddr, clientId: key, expires: t + OFFER_HOLD_MS, state: 'offered' });
        return this.reply(msg, DHCP.OFFER, ip);
      }
      case DHCP.REQUEST: {
        const lease = this.leases.get(key);
        if (serverId !== undefined) {
          // SELECTING (4.3.2): the client answers an offer; another server's offer means ours is declined.
          if (serverId !== server) {
            if (lease?.state === 'offered') this.leases.delete(key);
            return undefined;
          }
          if (!lease || requested === undefined || lease.ip !== requested) return this.nak(msg);
          return this.bind(msg, key, lease.ip, t);
        }
        if (requested !== undefined && msg.ciaddr === 0) {
          // INIT-REBOOT: the client wants its old address back.
          if (!inSubnet(requested, this.opts.subnet)) return this.nak(msg);
          if (lease?.ip === requested || (this.inRange(requested) && this.isFree(requested, key, t)))
            return this.bind(msg, key, requested, t);
          return this.nak(msg);
        }
        if (msg.ciaddr !== 0) {
          // RENEWING or REBINDING: extend the lease the client holds.
          if (lease && lease.ip === msg.ciaddr) return this.bind(msg, key, msg.ciaddr, t);
          return this.nak(msg);
        }
        return undefined;
      }
      case DHCP.DECLINE: {
        // The address is in use by someone else (the client probed it): keep it out of the pool for a while.
        const lease = this.leases.get(key);
        if (requested !== undefined && serverId === server) {
          this.declined.set(requested, t + DECLINE_HOLD_MS);
          if (lease?.ip === requested) this.leases.delete(key);
        }
        return undefined;
      }
      case DHCP.RELEASE: {
        const lease = this.leases.get(key);
        if (lease && lease.ip === msg.ciaddr) this.leases.delete(key);
        return undefined;
      }
      case DHCP.INFORM:
        return this.reply(msg, DHCP.ACK, 0);
      default:
        return undefined;
    }
  }

  private bind(msg: DhcpMessage, key: string, ip: number, t: number): DhcpReply {
    const host = msg.options.get(12);
    this.leases.set(key, {
      ip,
      mac: msg.chaddr,
      clientId: key,
      expires: t + this.leaseSeconds * 1000,
      state: 'bound',
      hostname: host ? new TextDecoder().decode(host) : undefined,
    });
    return this.reply(msg, DHCP.ACK, ip);
  }

  private nak(msg: DhcpMessage): DhcpReply {
    return this.reply(msg, DHCP.NAK, 0);
  }

  private inRange(ip: number): boolean {
    return ip >= this.opts.rangeStart && ip <= this.opts.rangeEnd && ip !== this.opts.subnet.ip;
  }

  private isFree(ip: number, key: string, t: number): boolean {
    const d = this.declined.get(ip);
    if (d !== undefined && d > t) return false;
    for (const l of this.leases.values()) if (l.ip === ip && l.clientId !== key && l.expires > t) return false;
    return true;
  }

  private choose(key: string, requested: number | undefined, t: number): number | undefined {
    const own = this.leases.get(key);
    if (own && this.inRange(own.ip) && this.isFree(own.ip, key, t)) return own.ip;
    if (requested !== undefined && this.inRange(requested) && this.isFree(requested, key, t)) return requested;
    for (let ip = this.opts.rangeStart; ip <= this.opts.rangeEnd; ip++) {
      if (this.inRange(ip) && this.isFree(ip, key, t)) return ip;
    }
    // Reclaim expired leases' keys lazily.
    for (const [k, l] of this.leases) if (l.expires <= t) this.leases.delete(k);
    return undefined;
  }

  private reply(msg: DhcpMessage, type: number, yiaddr: number): DhcpReply {
    const o = this.opts;
    const server = o.subnet.ip;
    const options: Array<[number, Uint8Array]> = [
      [53, new Uint8Array([type])],
      [54, u32(server)],
    ];
    if (type !== DHCP.NAK) {
      if (type !== DHCP.ACK || yiaddr !== 0) {
        options.push([51, u32(this.leaseSeconds)]);
        options.push([58, u32(Math.floor(this.leaseSeconds / 2))]);
        options.push([59, u32(Math.floor((this.leaseSeconds * 7) / 8))]);
      }
      options.push([1, u32(prefixMask(o.subnet.prefix))]);
      options.push([3, u32(o.router ?? server)]);
      options.push([28, u32(broadcastOf(o.subnet))]);
      if (o.dns && o.dns.length > 0) {
        const d = new Uint8Array(o.dns.length * 4);
        for (const [i, addr] of o.dns.entries()) d.set(u32(addr), i * 4);
        options.push([6, d]);
      }
      if (o.domain) options.push([15, new TextEncoder().encode(o.domain)]);
    }
    const payload = buildDhcp({
      op: 2,
      xid: msg.xid,
      secs: 0,
      flags: msg.flags,
      ciaddr: type === DHCP.ACK && yiaddr === 0 ? msg.ciaddr : 0,
      yiaddr,
      siaddr: 0,
      giaddr: msg.giaddr,
      chaddr: msg.chaddr,
      options,
    });
    // RFC 2131 4.1: NAKs are broadcast; to a configured client (ciaddr) unicast; with the BROADCAST flag
    // broadcast; otherwise unicast to chaddr and yiaddr.
    const BCAST = 0xffffffffffff;
    if (type === DHCP.NAK) return { payload, dstIp: 0xffffffff, dstMac: BCAST };
    if (msg.ciaddr !== 0) return { payload, dstIp: msg.ciaddr, dstMac: msg.chaddr };
    if (msg.flags & 0x8000) return { payload, dstIp: 0xffffffff, dstMac: BCAST };
    return { payload, dstIp: yiaddr, dstMac: msg.chaddr };
  }
}
