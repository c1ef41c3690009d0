/**
 * OpenFlow 1.3 wire codec: bounds-checked reading and growable writing of big-endian structures, OXM matches
 * (spec 7.2.3), instructions (7.2.4) and actions (7.2.5). Every decoding failure throws an `OfError` carrying the
 * error type and code the spec prescribes, so the agent answers with an OFPT_ERROR instead of failing.
 */

import {
  OFP_HEADER_BYTES,
  OFP_VERSION,
  OFPAT,
  OFPBAC,
  OFPBIC,
  OFPBMC,
  OFPBRC,
  OFPET,
  OFPIT,
  OFPP,
  OFPVID_PRESENT,
  OFPXMC_OPENFLOW_BASIC,
  OXM,
  OXM_INFO,
} from './constants.js';

/** A protocol error to report to the controller as OFPT_ERROR (type, code). */
export class OfError extends Error {
  constructor(
    readonly type: number,
    readonly code: number,
    message?: string,
  ) {
    super(message ?? `OpenFlow error type ${type} code ${code}`);
    this.name = 'OfError';
  }
}

/** Throws OFPBRC_BAD_LEN: the generic answer to a message whose lengths do not add up. */
export function badLen(what: string): never {
  throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, `bad length: ${what}`);
}

/** Bounds-checked big-endian reader over a message. */
export class Reader {
  private readonly v: DataView;

  constructor(
    readonly b: Uint8Array,
    public off = 0,
    readonly end = b.length,
    private readonly err: () => never = () => badLen('message truncated'),
  ) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Bytes left. */
  get left(): number {
    return this.end - this.off;
  }

  private need(n: number): void {
    if (this.off + n > this.end) this.err();
  }

  u8(): number {
    this.need(1);
    return this.b[this.off++]!;
  }

  u16(): number {
    this.need(2);
    const x = this.v.getUint16(this.off);
    this.off += 2;
    return x;
  }

  u32(): number {
    this.need(4);
    const x = this.v.getUint32(this.off);
    this.off += 4;
    return x;
  }

  u64(): bigint {
    this.need(8);
    const x = this.v.getBigUint64(this.off);
    this.off += 8;
    return x;
  }

  /** An unsigned integer of `n` (1..6) bytes as a number. */
  uint(n: number): number {
    this.need(n);
    let x = 0;
    for (let i = 0; i < n; i++) x = x * 256 + this.b[this.off + i]!;
    this.off += n;
    return x;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const x = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return x;
  }

  skip(n: number): void {
    this.need(n);
    this.off += n;
  }
}

/** Growable big-endian writer. */
export class Writer {
  private buf = new Uint8Array(256);
  private v = new DataView(this.buf.buffer);
  /** Bytes written. */
  len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.v = new DataView(nb.buffer);
  }

  u8(x: number): this {
    this.grow(1);
    this.buf[this.len++] = x & 0xff;
    return this;
  }

  u16(x: number): this {
    this.grow(2);
    this.v.setUint16(this.len, x & 0xffff);
    this.len += 2;
    return this;
  }

  u32(x: number): this {
    this.grow(4);
    this.v.setUint32(this.len, x >>> 0);
    this.len += 4;
    return this;
  }

  u64(x: bigint | number): this {
    this.grow(8);
    this.v.setBigUint64(this.len, BigInt.asUintN(64, BigInt(x)));
    this.len += 8;
    return this;
  }

  /** An unsigned integer in `n` bytes. */
  uint(x: number, n: number): this {
    this.grow(n);
    for (let i = n - 1; i >= 0; i--) {
      this.buf[this.len + i] = x % 256;
      x = Math.floor(x / 256);
    }
    this.len += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }

  /** A NUL-padded fixed-size string. */
  str(s: string, n: number): this {
    const e = new TextEncoder().encode(s).subarray(0, n - 1);
    this.bytes(e);
    return this.zeros(n - e.length);
  }

  /** Pads with zeros to a multiple of 8. */
  pad8(): this {
    return this.zeros((8 - (this.len % 8)) % 8);
  }

  /** Overwrites a 16-bit value at `at`. */
  patch16(at: number, x: number): void {
    this.v.setUint16(at, x);
  }

  /** The bytes written (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Builds a whole message: header (version, type, length, xid) around the body written by `body`. */
export function message(type: number, xid: number, body?: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  w.u8(OFP_VERSION).u8(type).u16(0).u32(xid);
  body?.(w);
  w.patch16(2, w.len);
  return w.finish();
}

/** An OFPT_ERROR message answering `request` (its first 64 bytes are echoed, spec 7.4.4). */
export function errorMessage(xid: number, type: number, code: number, request?: Uint8Array): Uint8Array {
  return message(1, xid, (w) => {
    w.u16(type).u16(code);
    if (request) w.bytes(request.subarray(0, 64));
  });
}

/** The fixed header of a message. */
export interface OfHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

/** Reads the header of a message (at least 8 bytes). */
export function readHeader(b: Uint8Array): OfHeader {
  if (b.length < OFP_HEADER_BYTES) badLen('header');
  return {
    version: b[0]!,
    type: b[1]!,
    length: (b[2]! << 8) | b[3]!,
    xid: ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0,
  };
}

/** One OXM field of a match: value and optional mask (numbers: every supported field is at most 48 bits). */
export interface MatchField {
  field: number;
  value: number;
  mask?: number;
}

/** A match: the fields, sorted by field number, each at most once. Empty matches everything. */
export type Match = MatchField[];

/** Bitwise AND of two unsigned integers of up to 48 bits. */
export function and48(a: number, b: number): number {
  if (a <= 0xffffffff && b <= 0xffffffff) return (a & b) >>> 0;
  const ah = Math.floor(a / 0x100000000);
  const bh = Math.floor(b / 0x100000000);
  return ((ah & bh) >>> 0) * 0x100000000 + ((a & b) >>> 0);
}

/** All-ones value of a field of `bytes` bytes. */
export function fullMask(bytes: number): number {
  return 2 ** (bytes * 8) - 1;
}

function matchErr(code: number, msg: string): never {
  throw new OfError(OFPET.BAD_MATCH, code, msg);
}

/** The field-level prerequisites of spec 7.2.3.6 (table 12): field -> required (field, values). */
const PREREQ: ReadonlyMap<number, { field: number; values: number[] }> = new Map([
  [OXM.VLAN_PCP, { field: OXM.VLAN_VID, values: [] /* any present VID */ }],
  [OXM.IP_DSCP, { field: OXM.ETH_TYPE, values: [0x0800, 0x86dd] }],
  [OXM.IP_ECN, { field: OXM.ETH_TYPE, values: [0x0800, 0x86dd] }],
  [OXM.IP_PROTO, { field: OXM.ETH_TYPE, values: [0x0800, 0x86dd] }],
  [OXM.IPV4_SRC, { field: OXM.ETH_TYPE, values: [0x0800] }],
  [OXM.IPV4_DST, { field: OXM.ETH_TYPE, values: [0x0800] }],
  [OXM.TCP_SRC, { field: OXM.IP_PROTO, values: [6] }],
  [OXM.TCP_DST, { field: OXM.IP_PROTO, values: [6] }],
  [OXM.UDP_SRC, { field: OXM.IP_PROTO, values: [17] }],
  [OXM.UDP_DST, { field: OXM.IP_PROTO, values: [17] }],
  [OXM.ICMPV4_TYPE, { field: OXM.IP_PROTO, values: [1] }],
  [OXM.ICMPV4_CODE, { field: OXM.IP_PROTO, values: [1] }],
  [OXM.ARP_OP, { field: OXM.ETH_TYPE, values: [0x0806] }],
  [OXM.ARP_SPA, { field: OXM.ETH_TYPE, values: [0x0806] }],
  [OXM.ARP_TPA, { field: OXM.ETH_TYPE, values: [0x0806] }],
  [OXM.ARP_SHA, { field: OXM.ETH_TYPE, values: [0x0806] }],
  [OXM.ARP_THA, { field: OXM.ETH_TYPE, values: [0x0806] }],
]);

/** Reads one OXM TLV (header and payload) for a match or a set_field; `forSetField` forbids masks. */
function readOxm(r: Reader, forSetField: boolean): MatchField {
  const cls = r.u16();
  const fh = r.u8();
  const len = r.u8();
  const field = fh >>> 1;
  const hasMask = (fh & 1) === 1;
  const fail = (code: number, m: string): never =>
    forSetField
      ? (() => {
          throw new OfError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_TYPE, m);
        })()
      : matchErr(code, m);
  if (cls !== OFPXMC_OPENFLOW_BASIC) {
    r.skip(Math.min(len, r.left));
    return fail(OFPBMC.BAD_FIELD, `unsupported OXM class 0x${cls.toString(16)}`);
  }
  const info = OXM_INFO.get(field);
  if (!info) {
    r.skip(Math.min(len, r.left));
    return fail(OFPBMC.BAD_FIELD, `unsupported OXM field ${field}`);
  }
  if (len !== info.bytes * (hasMask ? 2 : 1)) {
    if (forSetField) throw new OfError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_LEN, `OXM ${info.name} length ${len}`);
    matchErr(OFPBMC.BAD_LEN, `OXM ${info.name} length ${len}`);
  }
  const value = r.uint(info.bytes);
  if (!hasMask) return { field, value };
  if (forSetField) throw new OfError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_ARGUMENT, 'masked set_field');
  if (!info.maskable) matchErr(OFPBMC.BAD_MASK, `field ${info.name} is not maskable`);
  const mask = r.uint(info.bytes);
  return { field, value, mask };
}

/**
 * Reads an ofp_match (type OFPMT_OXM; length excludes the padding to 8 bytes) and validates it: known fields,
 * no duplicates (OFPBMC_DUP_FIELD), value bits only under the mask (OFPBMC_BAD_WILDCARDS), prerequisites
 * present (OFPBMC_BAD_PREREQ). Normalizes: an all-ones mask is dropped, an all-zeros mask drops the field.
 */
export function readMatch(r: Reader): Match {
  const start = r.off;
  const type = r.u16();
  const length = r.u16();
  if (type !== 1) matchErr(OFPBMC.BAD_TYPE, `match type ${type} is not OFPMT_OXM`);
  if (length < 4 || start + length > r.end) matchErr(OFPBMC.BAD_LEN, `match length ${length}`);
  const sub = new Reader(r.b, r.off, start + length, () => matchErr(OFPBMC.BAD_LEN, 'OXM field truncated'));
  const fields: Match = [];
  const seen = new Set<number>();
  while (sub.left > 0) {
    const f = readOxm(sub, false);
    if (seen.has(f.field)) matchErr(OFPBMC.DUP_FIELD, `duplicate OXM field ${f.field}`);
    seen.add(f.field);
    const info = OXM_INFO.get(f.field)!;
    if (f.mask !== undefined) {
      if (and48(f.value, f.mask) !== f.value) matchErr(OFPBMC.BAD_WILDCARDS, `value has bits outside its mask`);
      if (f.mask === fullMask(info.bytes)) delete f.mask;
      else if (f.mask === 0) continue;
    }
    if (
      f.field === OXM.IN_PORT &&
      (f.value === 0 || (f.value > OFPP.MAX && f.value !== OFPP.LOCAL && f.value !== OFPP.CONTROLLER))
    )
      matchErr(OFPBMC.BAD_VALUE, `in_port ${f.value}`);
    if (f.field === OXM.VLAN_VID && f.mask === undefined && f.value !== 0 && (f.value & OFPVID_PRESENT) === 0)
      matchErr(OFPBMC.BAD_VALUE, 'vlan_vid without OFPVID_PRESENT');
    fields.push(f);
  }
  const padded = start + ((length + 7) & ~7);
  if (padded > r.end) matchErr(OFPBMC.BAD_LEN, 'match padding missing');
  r.off = padded;
  checkPrereqs(fields);
  fields.sort((a, b) => a.field - b.field);
  return fields;
}

function checkPrereqs(fields: Match): void {
  const by = new Map(fields.map((f) => [f.field, f]));
  for (const f of fields) {
    const p = PREREQ.get(f.field);
    if (!p) continue;
    const req = by.get(p.field);
    if (!req) matchErr(OFPBMC.BAD_PREREQ, `field ${f.field} needs field ${p.field}`);
    if (p.field === OXM.VLAN_VID) {
      if ((req.value & OFPVID_PRESENT) === 0) matchErr(OFPBMC.BAD_PREREQ, 'vlan_pcp needs a VLAN tag');
      continue;
    }
    if (req.mask !== undefined || !p.values.includes(req.value))
      matchErr(OFPBMC.BAD_PREREQ, `field ${f.field} needs field ${p.field} in ${p.values.join(',')}`);
    // ip_proto itself needs eth_type IPv4/IPv6: tcp/udp/icmp prerequisites are transitive (checked via ip_proto).
  }
}

/** Writes one OXM TLV. */
export function writeOxm(w: Writer, f: MatchField): void {
  const info = OXM_INFO.get(f.field);
  if (!info) throw new RangeError(`unknown OXM field ${f.field}`);
  const masked = f.mask !== undefined;
  w.u16(OFPXMC_OPENFLOW_BASIC)
    .u8((f.field << 1) | (masked ? 1 : 0))
    .u8(info.bytes * (masked ? 2 : 1));
  w.uint(f.value, info.bytes);
  if (masked) w.uint(f.mask!, info.bytes);
}

/** Writes an ofp_match with its padding. */
export function writeMatch(w: Writer, m: Match): void {
  const start = w.len;
  w.u16(1).u16(0);
  for (const f of m) writeOxm(w, f);
  w.patch16(start + 2, w.len - start);
  w.pad8();
}

/** An action this agent executes. */
export type Action =
  | { type: 'output'; port: number; maxLen: number }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'set_field'; field: number; value: number }
  | { type: 'dec_nw_ttl' };

/** An instruction this agent executes. */
export type Instruction =
  | { type: 'goto_table'; table: number }
  | { type: 'apply_actions'; actions: Action[] }
  | { type: 'write_actions'; actions: Action[] }
  | { type: 'clear_actions' };

function actErr(code: number, msg: string): never {
  throw new OfError(OFPET.BAD_ACTION, code, msg);
}

/** Reads an action list of `len` bytes (spec 7.2.5). Unsupported actions are OFPBAC_BAD_TYPE. */
export function readActions(r: Reader, len: number): Action[] {
  const end = r.off + len;
  if (end > r.end) badLen('action list');
  const out: Action[] = [];
  while (r.off < end) {
    if (end - r.off < 8) actErr(OFPBAC.BAD_LEN, 'action header');
    const start = r.off;
    const type = r.u16();
    const alen = r.u16();
    if (alen < 8 || alen % 8 !== 0 || start + alen > end) actErr(OFPBAC.BAD_LEN, `action length ${alen}`);
    const a = new Reader(r.b, r.off, start + alen, () => actErr(OFPBAC.BAD_LEN, 'action truncated'));
    switch (type) {
      case OFPAT.OUTPUT: {
        if (alen !== 16) actErr(OFPBAC.BAD_LEN, 'output length');
        const port = a.u32();
        const maxLen = a.u16();
        if (port === 0 || port === OFPP.ANY || (port > OFPP.MAX && port < OFPP.IN_PORT))
          actErr(OFPBAC.BAD_OUT_PORT, `output to port ${port}`);
        out.push({ type: 'output', port, maxLen });
        break;
      }
      case OFPAT.PUSH_VLAN: {
        const ethertype = a.u16();
        if (ethertype !== 0x8100 && ethertype !== 0x88a8)
          actErr(OFPBAC.BAD_ARGUMENT, `push_vlan ethertype ${ethertype}`);
        out.push({ type: 'push_vlan', ethertype });
        break;
      }
      case OFPAT.POP_VLAN:
        out.push({ type: 'pop_vlan' });
        break;
      case OFPAT.DEC_NW_TTL:
        out.push({ type: 'dec_nw_ttl' });
        break;
      case OFPAT.SET_FIELD: {
        const f = readOxm(a, true);
        if (f.field === OXM.IN_PORT) actErr(OFPBAC.BAD_SET_TYPE, 'in_port cannot be set');
        out.push({ type: 'set_field', field: f.field, value: f.value });
        break;
      }
      case OFPAT.EXPERIMENTER:
        actErr(OFPBAC.BAD_EXPERIMENTER, 'experimenter action');
        break;
      default:
        actErr(OFPBAC.BAD_TYPE, `unsupported action type ${type}`);
    }
    r.off = start + alen;
  }
  return out;
}

/** Writes an action list. */
export function writeActions(w: Writer, actions: Action[]): void {
  for (const a of actions) {
    switch (a.type) {
      case 'output':
        w.u16(OFPAT.OUTPUT).u16(16).u32(a.port).u16(a.maxLen).zeros(6);
        break;
      case 'push_vlan':
        w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
        break;
      case 'pop_vlan':
        w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
        break;
      case 'dec_nw_ttl':
        w.u16(OFPAT.DEC_NW_TTL).u16(8).zeros(4);
        break;
      case 'set_field': {
        const start = w.len;
        w.u16(OFPAT.SET_FIELD).u16(0);
        writeOxm(w, { field: a.field, value: a.value });
        w.pad8();
        w.patch16(start + 2, w.len - start);
        break;
      }
    }
  }
}

function instErr(code: number, msg: string): never {
  throw new OfError(OFPET.BAD_INSTRUCTION, code, msg);
}

/** Reads instructions up to the end of `r` (spec 7.2.4); each type at most once (spec 5.9). */
export function readInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  const seen = new Set<number>();
  while (r.left > 0) {
    if (r.left < 4) instErr(OFPBIC.BAD_LEN, 'instruction header');
    const start = r.off;
    const type = r.u16();
    const len = r.u16();
    if (len < 8 || len % 8 !== 0 || start + len > r.end) instErr(OFPBIC.BAD_LEN, `instruction length ${len}`);
    if (seen.has(type)) instErr(OFPBIC.UNKNOWN_INST, `instruction ${type} given twice`);
    seen.add(type);
    switch (type) {
      case OFPIT.GOTO_TABLE:
        out.push({ type: 'goto_table', table: r.u8() });
        break;
      case OFPIT.APPLY_ACTIONS:
      case OFPIT.WRITE_ACTIONS: {
        r.skip(4);
        const actions = readActions(r, start + len - r.off);
        out.push({ type: type === OFPIT.APPLY_ACTIONS ? 'apply_actions' : 'write_actions', actions });
        break;
      }
      case OFPIT.CLEAR_ACTIONS:
        out.push({ type: 'clear_actions' });
        break;
      case OFPIT.WRITE_METADATA:
      case OFPIT.METER:
        instErr(OFPBIC.UNSUP_INST, `unsupported instruction ${type}`);
        break;
      case OFPIT.EXPERIMENTER:
        instErr(OFPBIC.BAD_EXPERIMENTER, 'experimenter instruction');
        break;
      default:
        instErr(OFPBIC.UNKNOWN_INST, `unknown instruction ${type}`);
    }
    r.off = start + len;
  }
  return out;
}

/** Writes instructions. */
export function writeInstructions(w: Writer, insts: Instruction[]): void {
  for (const i of insts) {
    const start = w.len;
    switch (i.type) {
      case 'goto_table':
        w.u16(OFPIT.GOTO_TABLE).u16(8).u8(i.table).zeros(3);
        break;
      case 'clear_actions':
        w.u16(OFPIT.CLEAR_ACTIONS).u16(8).zeros(4);
        break;
      case 'apply_actions':
      case 'write_actions':
        w.u16(i.type === 'apply_actions' ? OFPIT.APPLY_ACTIONS : OFPIT.WRITE_ACTIONS)
          .u16(0)
          .zeros(4);
        writeActions(w, i.actions);
        w.patch16(start + 2, w.len - start);
        break;
    }
  }
}
