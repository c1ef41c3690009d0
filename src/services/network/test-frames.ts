/**
 * Frame builders for the network service's tests and benchmarks: Ethernet, ARP, IPv4, UDP, TCP and ICMP packets
 * made from their specs (RFC 791, 768, 9293, 792, 826), with correct checksums.
 */

import { buildEthernet, ETH_TYPE_ARP, ETH_TYPE_IPV4, type MacNum, writeMac } from './ethernet.js';
import { onesSum } from './openflow/packet-key.js';
import { buildIpv4, transportChecksum } from './router/ipv4.js';

/** An Ethernet frame of `size` bytes total (at least 14) with EtherType `type`, payload filled with `fill`. */
export function testFrame(dst: MacNum, src: MacNum, size = 64, type = 0x88b5, fill = 0): Uint8Array {
  return buildEthernet(dst, src, type, new Uint8Array(Math.max(0, size - 14)).fill(fill));
}

/** Dotted quad to a 32-bit number. */
export function ip(text: string): number {
  const p = text.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0) as number;
}

/** An ARP request or reply (RFC 826) for Ethernet/IPv4. */
export function arpFrame(op: 1 | 2, sha: MacNum, spa: number, tha: MacNum, tpa: number, dst?: MacNum): Uint8Array {
  const p = new Uint8Array(28);
  const v = new DataView(p.buffer);
  v.setUint16(0, 1);
  v.setUint16(2, ETH_TYPE_IPV4);
  p[4] = 6;
  p[5] = 4;
  v.setUint16(6, op);
  writeMac(p, 8, sha);
  v.setUint32(14, spa);
  writeMac(p, 18, tha);
  v.setUint32(24, tpa);
  return buildEthernet(dst ?? (op === 1 ? 0xffffffffffff : tha), sha, ETH_TYPE_ARP, p);
}

/** An IPv4 packet (RFC 791) with a correct header checksum. */
export function ipv4Packet(src: number, dst: number, proto: number, payload: Uint8Array, ttl = 64, id = 0): Uint8Array {
  return buildIpv4(src, dst, proto, payload, ttl, id);
}

/** The TCP/UDP checksum over the IPv4 pseudo-header (RFC 9293 3.1); UDP sends a computed 0 as 0xffff (RFC 768). */
export function l4Checksum(src: number, dst: number, proto: number, seg: Uint8Array): number {
  const c = transportChecksum(src, dst, proto, seg);
  return proto === 17 && c === 0 ? 0xffff : c;
}

/** A UDP datagram (RFC 768) inside IPv4 inside Ethernet. */
export function udpFrame(
  dstMac: MacNum,
  srcMac: MacNum,
  src: number,
  sport: number,
  dst: number,
  dport: number,
  data: Uint8Array,
): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, u.length);
  u.set(data, 8);
  v.setUint16(6, l4Checksum(src, dst, 17, u));
  return buildEthernet(dstMac, srcMac, ETH_TYPE_IPV4, ipv4Packet(src, dst, 17, u));
}

/** TCP flag bits. */
export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

/** A TCP segment (RFC 9293 3.1) inside IPv4 inside Ethernet; `mss` adds the MSS option. */
export function tcpFrame(
  dstMac: MacNum,
  srcMac: MacNum,
  src: number,
  sport: number,
  dst: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  data: Uint8Array = new Uint8Array(0),
  window = 65535,
  mss?: number,
): Uint8Array {
  const optLen = mss === undefined ? 0 : 4;
  const t = new Uint8Array(20 + optLen + data.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  t[12] = ((20 + optLen) / 4) << 4;
  t[13] = flags;
  v.setUint16(14, window);
  if (mss !== undefined) {
    t[20] = 2;
    t[21] = 4;
    v.setUint16(22, mss);
  }
  t.set(data, 20 + optLen);
  v.setUint16(16, l4Checksum(src, dst, 6, t));
  return buildEthernet(dstMac, srcMac, ETH_TYPE_IPV4, ipv4Packet(src, dst, 6, t));
}

/** An ICMP echo request (RFC 792). */
export function icmpEchoFrame(
  dstMac: MacNum,
  srcMac: MacNum,
  src: number,
  dst: number,
  id: number,
  seq: number,
): Uint8Array {
  const m = new Uint8Array(16);
  const v = new DataView(m.buffer);
  m[0] = 8;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  m.fill(0x61, 8);
  v.setUint16(2, ~onesSum(m, 0, m.length) & 0xffff);
  return buildEthernet(dstMac, srcMac, ETH_TYPE_IPV4, ipv4Packet(src, dst, 1, m));
}
