/**
 * Ethernet II frames and 802.1Q tags: parsing, building and the MAC address forms used across the network
 * service. Frames are as on the wire without preamble and FCS (IEEE 802.3 clause 3; 802.1Q-2018 clause 9).
 */

/** EtherType of an IPv4 packet. */
export const ETH_TYPE_IPV4 = 0x0800;
/** EtherType of an ARP packet (RFC 826). */
export const ETH_TYPE_ARP = 0x0806;
/** EtherType (TPID) of an 802.1Q customer VLAN tag. */
export const ETH_TYPE_VLAN = 0x8100;
/** EtherType of an IPv6 packet. */
export const ETH_TYPE_IPV6 = 0x86dd;
/** Length of the Ethernet header without a VLAN tag. */
export const ETH_HEADER_BYTES = 14;
/** Shortest frame we accept: a bare header. Guests do not pad to 60 bytes (virtio has no padding rule). */
export const MIN_FRAME_BYTES = ETH_HEADER_BYTES;
/** Largest untagged frame of a 1500-byte MTU, without FCS. */
export const MAX_FRAME_BYTES = 1514;
/** Largest frame with one 802.1Q tag, without FCS (802.3 clause 3.2.7 "envelope" allows 1522 with FCS). */
export const MAX_TAGGED_FRAME_BYTES = 1518;

/** A MAC address as a 48-bit integer: exact in a JS number, and a fast Map key. */
export type MacNum = number;

/** The broadcast MAC ff:ff:ff:ff:ff:ff as a MacNum. */
export const BROADCAST_MAC: MacNum = 0xffffffffffff;

/** Reads the 6-byte MAC at `off` as a 48-bit integer. */
export function readMac(b: Uint8Array, off: number): MacNum {
  return (
    ((b[off]! << 8) | b[off + 1]!) * 0x100000000 +
    (((b[off + 2]! << 24) | (b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!) >>> 0)
  );
}

/** Writes a 48-bit MAC integer at `off`. */
export function writeMac(b: Uint8Array, off: number, mac: MacNum): void {
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  b[off] = (hi >>> 8) & 0xff;
  b[off + 1] = hi & 0xff;
  b[off + 2] = lo >>> 24;
  b[off + 3] = (lo >>> 16) & 0xff;
  b[off + 4] = (lo >>> 8) & 0xff;
  b[off + 5] = lo & 0xff;
}

/** True for a group (multicast or broadcast) address: the I/G bit, the low bit of the first octet. */
export function isMulticastMac(mac: MacNum): boolean {
  return Math.floor(mac / 0x10000000000) % 2 === 1;
}

/** Formats a MAC as aa:bb:cc:dd:ee:ff. */
export function macToString(mac: MacNum | Uint8Array): string {
  const b = typeof mac === 'number' ? macToBytes(mac) : mac;
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The 6 bytes of a MAC integer. */
export function macToBytes(mac: MacNum): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

/** Parses aa:bb:cc:dd:ee:ff (or with dashes); undefined when it is not a MAC. */
export function parseMac(text: string): MacNum | undefined {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      text.trim(),
    );
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + Number.parseInt(m[i]!, 16);
  return v;
}

/** A locally administered unicast MAC (02:xx:...) derived from a 40-bit seed, for ports and router interfaces. */
export function localMac(seed: number): MacNum {
  return 0x020000000000 + (Math.floor(Math.abs(seed)) % 0x10000000000);
}

/** What `parseEthernet` finds in a frame. */
export interface EthernetHeader {
  /** Destination MAC. */
  dst: MacNum;
  /** Source MAC. */
  src: MacNum;
  /** The 802.1Q tag, when the frame carries one (only the outer tag is parsed). */
  vlan?: { vid: number; pcp: number; dei: number };
  /** EtherType after any tag. */
  etherType: number;
  /** Offset of the payload (14, or 18 with a tag). */
  payloadOffset: number;
}

/** Parses the Ethernet header; undefined for a runt (shorter than a header, or a tag cut short). */
export function parseEthernet(frame: Uint8Array): EthernetHeader | undefined {
  if (frame.length < ETH_HEADER_BYTES) return undefined;
  const dst = readMac(frame, 0);
  const src = readMac(frame, 6);
  const type = (frame[12]! << 8) | frame[13]!;
  if (type !== ETH_TYPE_VLAN) return { dst, src, etherType: type, payloadOffset: 14 };
  if (frame.length < 18) return undefined;
  const tci = (frame[14]! << 8) | frame[15]!;
  return {
    dst,
    src,
    vlan: { vid: tci & 0xfff, pcp: tci >>> 13, dei: (tci >>> 12) & 1 },
    etherType: (frame[16]! << 8) | frame[17]!,
    payloadOffset: 18,
  };
}

/** True when the frame carries an 802.1Q tag (TPID 0x8100 at offset 12). */
export function hasVlanTag(frame: Uint8Array): boolean {
  return frame.length >= 18 && frame[12] === 0x81 && frame[13] === 0x00;
}

/** A copy of `frame` with an 802.1Q tag (TPID `tpid`) inserted after the source MAC. */
export function pushVlan(frame: Uint8Array, vid: number, pcp = 0, tpid = ETH_TYPE_VLAN): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  out[12] = tpid >>> 8;
  out[13] = tpid & 0xff;
  const tci = ((pcp & 7) << 13) | (vid & 0xfff);
  out[14] = tci >>> 8;
  out[15] = tci & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/** A copy of `frame` without its outer 802.1Q tag (the frame itself when it has none). */
export function popVlan(frame: Uint8Array): Uint8Array {
  if (!hasVlanTag(frame)) return frame;
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}

/** Builds an untagged Ethernet II frame around `payload`. */
export function buildEthernet(dst: MacNum, src: MacNum, etherType: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + payload.length);
  writeMac(out, 0, dst);
  writeMac(out, 6, src);
  out[12] = etherType >>> 8;
  out[13] = etherType & 0xff;
  out.set(payload, 14);
  return out;
}
