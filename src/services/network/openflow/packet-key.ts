/**
 * The OXM view of a packet: which match fields a frame has and their values (spec 7.2.3.7), and the packet
 * rewrites of set_field, push_vlan, pop_vlan and dec_nw_ttl on frame bytes.
 */

import { readMac, writeMac } from '../ethernet.js';
import { OFPVID_PRESENT, OXM } from './constants.js';

/** Field values indexed by OXM field number; undefined where the packet lacks the field. */
export type PacketKey = Array<number | undefined>;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Offsets of the layers in a frame, for rewriting. */
interface Layout {
  vlan: boolean;
  l3: number;
  ethType: number;
  l4?: number;
  ipProto?: number;
}

function layout(f: Uint8Array): Layout | undefined {
  if (f.length < 14) return undefined;
  let ethType = u16(f, 12);
  let l3 = 14;
  const vlan = ethType === 0x8100 || ethType === 0x88a8;
  if (vlan) {
    if (f.length < 18) return undefined;
    ethType = u16(f, 16);
    l3 = 18;
  }
  const out: Layout = { vlan, l3, ethType };
  if (ethType === 0x0800 && f.length >= l3 + 20 && f[l3]! >> 4 === 4) {
    const ihl = (f[l3]! & 15) * 4;
    out.ipProto = f[l3 + 9]!;
    const fragOff = u16(f, l3 + 6) & 0x1fff;
    if (ihl >= 20 && fragOff === 0 && f.length >= l3 + ihl) out.l4 = l3 + ihl;
  }
  return out;
}

/** True for an IPv4 fragment: More Fragments set or a non-zero fragment offset (RFC 791 3.1). */
export function isIpv4Fragment(frame: Uint8Array): boolean {
  const L = layout(frame);
  return L !== undefined && L.ipProto !== undefined && (u16(frame, L.l3 + 6) & 0x3fff) !== 0;
}

/** Extracts the match fields of `frame` received on `inPort`. */
export function packetKey(frame: Uint8Array, inPort: number): PacketKey {
  const k: PacketKey = [];
  k[OXM.IN_PORT] = inPort;
  const L = layout(frame);
  if (!L) return k;
  k[OXM.ETH_DST] = readMac(frame, 0);
  k[OXM.ETH_SRC] = readMac(frame, 6);
  k[OXM.ETH_TYPE] = L.ethType;
  if (L.vlan) {
    const tci = u16(frame, 14);
    k[OXM.VLAN_VID] = OFPVID_PRESENT | (tci & 0xfff);
    k[OXM.VLAN_PCP] = tci >>> 13;
  } else {
    k[OXM.VLAN_VID] = 0; // OFPVID_NONE
  }
  const o = L.l3;
  if (L.ipProto !== undefined) {
    k[OXM.IP_DSCP] = frame[o + 1]! >>> 2;
    k[OXM.IP_ECN] = frame[o + 1]! & 3;
    k[OXM.IP_PROTO] = L.ipProto;
    k[OXM.IPV4_SRC] = u32(frame, o + 12);
    k[OXM.IPV4_DST] = u32(frame, o + 16);
    const l4 = L.l4;
    if (l4 !== undefined) {
      if (L.ipProto === 6 && frame.length >= l4 + 4) {
        k[OXM.TCP_SRC] = u16(frame, l4);
        k[OXM.TCP_DST] = u16(frame, l4 + 2);
      } else if (L.ipProto === 17 && frame.length >= l4 + 4) {
        k[OXM.UDP_SRC] = u16(frame, l4);
        k[OXM.UDP_DST] = u16(frame, l4 + 2);
      } else if (L.ipProto === 1 && frame.length >= l4 + 2) {
        k[OXM.ICMPV4_TYPE] = frame[l4]!;
        k[OXM.ICMPV4_CODE] = frame[l4 + 1]!;
      }
    }
  } else if (L.ethType === 0x0806 && frame.length >= o + 28) {
    k[OXM.ARP_OP] = u16(frame, o + 6);
    k[OXM.ARP_SHA] = readMac(frame, o + 8);
    k[OXM.ARP_SPA] = u32(frame, o + 14);
    k[OXM.ARP_THA] = readMac(frame, o + 18);
    k[OXM.ARP_TPA] = u32(frame, o + 24);
  }
  return k;
}

function put16(b: Uint8Array, o: number, x: number): void {
  b[o] = (x >>> 8) & 0xff;
  b[o + 1] = x & 0xff;
}

function put32(b: Uint8Array, o: number, x: number): void {
  put16(b, o, x >>> 16);
  put16(b, o + 2, x & 0xffff);
}

/** Internet checksum (RFC 1071) of b[start, end), folded, not complemented. */
export function onesSum(b: Uint8Array, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) % 2 === 1) s += b[end - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Incremental checksum update (RFC 1624 eqn. 3) for a 16-bit word changing from `old` to `now`. */
function csumUpdate(b: Uint8Array, at: number, old: number, now: number): void {
  if (at + 2 > b.length) return;
  const hc = u16(b, at);
  let s = (~hc & 0xffff) + (~old & 0xffff) + now;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  put16(b, at, ~s & 0xffff);
}

/**
 * Applies set_field to `frame` in place (the caller owns it). A field the packet lacks is left alone (spec 7.2.5:
 * the prerequisites are the controller's business). IPv4 and L4 checksums are updated.
 */
export function setField(frame: Uint8Array, field: number, value: number): void {
  const L = layout(frame);
  if (!L) return;
  const o = L.l3;
  switch (field) {
    case OXM.ETH_DST:
      writeMac(frame, 0, value);
      return;
    case OXM.ETH_SRC:
      writeMac(frame, 6, value);
      return;
    case OXM.ETH_TYPE:
      put16(frame, L.vlan ? 16 : 12, value);
      return;
    case OXM.VLAN_VID:
      if (L.vlan) put16(frame, 14, (u16(frame, 14) & 0xf000) | (value & 0xfff));
      return;
    case OXM.VLAN_PCP:
      if (L.vlan) put16(frame, 14, (u16(frame, 14) & 0x1fff) | ((value & 7) << 13));
      return;
  }
  if (L.ipProto !== undefined) {
    const ipCsum = o + 10;
    const l4 = L.l4;
    const l4Csum = l4 === undefined ? -1 : L.ipProto === 6 ? l4 + 16 : L.ipProto === 17 ? l4 + 6 : -1;
    const fixL4 = (old: number, now: number) => {
      if (l4Csum < 0) return;
      if (L.ipProto === 17 && u16(frame, l4Csum) === 0) return; // UDP without checksum
      csumUpdate(frame, l4Csum, old, now);
    };
    switch (field) {
      case OXM.IP_DSCP:
      case OXM.IP_ECN: {
        const old = u16(frame, o);
        const tos =
          field === OXM.IP_DSCP ? ((value & 63) << 2) | (frame[o + 1]! & 3) : (frame[o + 1]! & 0xfc) | (value & 3);
        frame[o + 1] = tos;
        csumUpdate(frame, ipCsum, old, u16(frame, o));
        return;
      }
      case OXM.IPV4_SRC:
      case OXM.IPV4_DST: {
        const at = o + (field === OXM.IPV4_SRC ? 12 : 16);
        const oldHi = u16(frame, at);
        const oldLo = u16(frame, at + 2);
        put32(frame, at, value);
        csumUpdate(frame, ipCsum, oldHi, u16(frame, at));
        csumUpdate(frame, ipCsum, oldLo, u16(frame, at + 2));
        fixL4(oldHi, u16(frame, at));
        fixL4(oldLo, u16(frame, at + 2));
        return;
      }
      case OXM.TCP_SRC:
      case OXM.TCP_DST:
      case OXM.UDP_SRC:
      case OXM.UDP_DST: {
        if (l4 === undefined) return;
        const isTcp = field === OXM.TCP_SRC || field === OXM.TCP_DST;
        if ((L.ipProto === 6) !== isTcp || (!isTcp && L.ipProto !== 17)) return;
        const at = l4 + (field === OXM.TCP_SRC || field === OXM.UDP_SRC ? 0 : 2);
        const old = u16(frame, at);
        put16(frame, at, value);
        fixL4(old, value);
        return;
      }
    }
  }
  if (L.ethType === 0x0806 && frame.length >= o + 28) {
    if (field === OXM.ARP_OP) put16(frame, o + 6, value);
    else if (field === OXM.ARP_SHA) writeMac(frame, o + 8, value);
    else if (field === OXM.ARP_SPA) put32(frame, o + 14, value);
    else if (field === OXM.ARP_THA) writeMac(frame, o + 18, value);
    else if (field === OXM.ARP_TPA) put32(frame, o + 24, value);
  }
}

/** Decrements the IPv4 TTL in place; returns false when the TTL was already 0 or 1 (drop, spec 5.12). */
export function decNwTtl(frame: Uint8Array): boolean {
  const L = layout(frame);
  if (!L || L.ipProto === undefined) return true;
  const o = L.l3;
  const ttl = frame[o + 8]!;
  if (ttl <= 1) return false;
  const old = u16(frame, o + 8);
  frame[o + 8] = ttl - 1;
  csumUpdate(frame, o + 10, old, u16(frame, o + 8));
  return true;
}
