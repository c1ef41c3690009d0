/**
 * IPv4 (RFC 791) for the virtual router: addresses and prefixes, header parsing with validation, building
 * packets with correct checksums (RFC 1071), and the transport checksums over the pseudo-header (RFC 768,
 * RFC 9293 section 3.1).
 */

import { StrataError } from '../../../base/errors.js';
import { onesSum } from '../openflow/packet-key.js';

/** IP protocol numbers. */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17 } as const;

/** Dotted quad to a 32-bit unsigned number; undefined when not an address. */
export function parseIp(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** A 32-bit address as a dotted quad. */
export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** An address with its prefix length, e.g. 10.0.2.1/24. */
export interface Cidr {
  ip: number;
  prefix: number;
}

/** The netmask of a prefix length. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses a.b.c.d/n; INVALID_ARGUMENT names the bad value. */
export function parseCidr(text: string): Cidr {
  const [a, p] = text.split('/');
  const ip = parseIp(a ?? '');
  const prefix = Number(p);
  if (ip === undefined || p === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 30)
    throw new StrataError('INVALID_ARGUMENT', `bad IPv4 subnet '${text}': expected a.b.c.d/n with n in 1..30`);
  return { ip, prefix };
}

/** The network address of a CIDR. */
export function networkOf(c: Cidr): number {
  return (c.ip & prefixMask(c.prefix)) >>> 0;
}

/** The directed broadcast address of a CIDR. */
export function broadcastOf(c: Cidr): number {
  return (networkOf(c) | ~prefixMask(c.prefix)) >>> 0;
}

/** True when `ip` is inside the subnet of `c`. */
export function inSubnet(ip: number, c: Cidr): boolean {
  return (ip & prefixMask(c.prefix)) >>> 0 === networkOf(c);
}

/** True when two subnets share an address. */
export function subnetsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.ip & prefixMask(p)) >>> 0 === (b.ip & prefixMask(p)) >>> 0;
}

/** A CIDR as text. */
export function cidrToString(c: Cidr): string {
  return `${ipToString(c.ip)}/${c.prefix}`;
}

/** A parsed IPv4 header. */
export interface Ipv4Header {
  ihl: number;
  tos: number;
  totalLength: number;
  id: number;
  flags: number;
  fragOffset: number;
  ttl: number;
  proto: number;
  src: number;
  dst: number;
}

/**
 * Parses and validates the IPv4 header at `off` of `b`: version 4, IHL >= 5, total length within the buffer,
 * header checksum correct. Undefined for anything malformed.
 */
export function parseIpv4(b: Uint8Array, off: number): Ipv4Header | undefined {
  if (b.length < off + 20) return undefined;
  const vihl = b[off]!;
  if (vihl >> 4 !== 4) return undefined;
  const ihl = (vihl & 15) * 4;
  if (ihl < 20 || b.length < off + ihl) return undefined;
  const totalLength = (b[off + 2]! << 8) | b[off + 3]!;
  if (totalLength < ihl || off + totalLength > b.length) return undefined;
  if (onesSum(b, off, off + ihl) !== 0xffff) return undefined;
  const ff = (b[off + 6]! << 8) | b[off + 7]!;
  return {
    ihl,
    tos: b[off + 1]!,
    totalLength,
    id: (b[off + 4]! << 8) | b[off + 5]!,
    flags: ff >>> 13,
    fragOffset: ff & 0x1fff,
    ttl: b[off + 8]!,
    proto: b[off + 9]!,
    src: ((b[off + 12]! << 24) | (b[off + 13]! << 16) | (b[off + 14]! << 8) | b[off + 15]!) >>> 0,
    dst: ((b[off + 16]! << 24) | (b[off + 17]! << 16) | (b[off + 18]! << 8) | b[off + 19]!) >>> 0,
  };
}

let nextId = 1;

/** Builds an IPv4 packet (DF set, TTL 64 by default, the next identification unless `id` is given) around `payload`. */
export function buildIpv4(
  src: number,
  dst: number,
  proto: number,
  payload: Uint8Array,
  ttl = 64,
  id = nextId++,
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, id & 0xffff);
  v.setUint16(6, 0x4000);
  p[8] = ttl;
  p[9] = proto;
  v.setUint32(12, src);
  v.setUint32(16, dst);
  v.setUint16(10, ~onesSum(p, 0, 20) & 0xffff);
  p.set(payload, 20);
  return p;
}

/** Checksum of a TCP or UDP segment with the IPv4 pseudo-header; 0 when `seg` (with its checksum) verifies. */
export function transportChecksum(src: number, dst: number, proto: number, seg: Uint8Array): number {
  const ph = new Uint8Array(12);
  const v = new DataView(ph.buffer);
  v.setUint32(0, src);
  v.setUint32(4, dst);
  ph[9] = proto;
  v.setUint16(10, seg.length);
  return ~onesSum(seg, 0, seg.length, onesSum(ph, 0, 12)) & 0xffff;
}

/** Builds a UDP datagram (RFC 768) with its checksum. */
export function buildUdp(src: number, sport: number, dst: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, u.length);
  u.set(data, 8);
  const c = transportChecksum(src, dst, IPPROTO.UDP, u);
  v.setUint16(6, c === 0 ? 0xffff : c);
  return u;
}
