/**
 * ICMP (RFC 792) messages the router sends: echo replies for its own addresses, time exceeded and destination
 * unreachable (which quote the offending IP header and the first 8 bytes of its payload).
 */

import { onesSum } from '../openflow/packet-key.js';

/** ICMP types used here. */
export const ICMP = { ECHO_REPLY: 0, UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;

/** The echo reply for an echo request message (`msg` is the ICMP message); undefined when it is not one. */
export function echoReply(msg: Uint8Array): Uint8Array | undefined {
  if (msg.length < 8 || msg[0] !== ICMP.ECHO_REQUEST || msg[1] !== 0) return undefined;
  if (onesSum(msg, 0, msg.length) !== 0xffff) return undefined;
  const r = msg.slice();
  r[0] = ICMP.ECHO_REPLY;
  r[2] = 0;
  r[3] = 0;
  const c = ~onesSum(r, 0, r.length) & 0xffff;
  r[2] = c >> 8;
  r[3] = c & 255;
  return r;
}

/** An error message (time exceeded, unreachable) quoting `ipPacket`'s header and 8 payload bytes. */
export function icmpError(type: number, code: number, ipPacket: Uint8Array): Uint8Array {
  const ihl = (ipPacket[0]! & 15) * 4;
  const quote = ipPacket.subarray(0, Math.min(ipPacket.length, ihl + 8));
  const m = new Uint8Array(8 + quote.length);
  m[0] = type;
  m[1] = code;
  m.set(quote, 8);
  const c = ~onesSum(m, 0, m.length) & 0xffff;
  m[2] = c >> 8;
  m[3] = c & 255;
  return m;
}
