import { StrataError } from '../../base/errors.js';

// Devicetree Specification v0.4 §5: the flattened devicetree (DTB) format.
const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMP_VERSION = 16;
const FDT_HEADER_BYTES = 40;
const FDT_BEGIN_NODE = 0x1;
const FDT_END_NODE = 0x2;
const FDT_PROP = 0x3;
const FDT_END = 0x9;

/** A memory reservation (Devicetree spec §5.3): a physical range the client program must not use. */
export interface FdtReservation {
  readonly address: number;
  readonly sizeBytes: number;
}

/** A growable big-endian byte buffer. */
class ByteSink {
  bytes = new Uint8Array(4096);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  u32(v: number): void {
    this.ensure(4);
    new DataView(this.bytes.buffer).setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.ensure(pad);
    this.bytes.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
}

const utf8 = new TextEncoder();

/** The two 32-bit cells of a 64-bit value (below 2^53), high cell first. */
export function u64Cells(value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StrataError('INTERNAL', `device tree value ${value} is not a whole number in 0..2^53`);
  }
  return [Math.floor(value / 0x1_0000_0000), value % 0x1_0000_0000];
}

/**
 * Writes a flattened devicetree blob (Devicetree spec v0.4 §5, version 17, last compatible version 16) from a
 * sequence of calls: `beginNode`, properties, nested nodes, `endNode`, then `finish()`. The root node's name is
 * the empty string. Property values are encoded as the spec's types (§2.2.4): `<u32>` cells are big-endian,
 * strings NUL-terminated, string lists concatenated. Misuse (a property outside a node, unbalanced nodes, a
 * name with characters the spec does not allow) is a bug of the caller and throws INTERNAL.
 */
export class FdtWriter {
  private readonly struct = new ByteSink();
  private readonly strings = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: FdtReservation[] = [];
  private depth = 0;
  private finished = false;

  /** Opens a node; `name` is `node-name[@unit-address]` (§2.2.1), or '' for the root. */
  beginNode(name: string): void {
    this.checkOpen();
    if (this.depth === 0 && name !== '')
      throw new StrataError('INTERNAL', `the root node must be named '', not '${name}'`);
    if (this.depth > 0 && !/^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/.test(name)) {
      throw new StrataError('INTERNAL', `invalid device tree node name '${name}'`);
    }
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.raw(utf8.encode(name));
    this.struct.raw(new Uint8Array(1));
    this.struct.padTo(4);
    this.depth++;
  }

  /** Closes the node opened last. */
  endNode(): void {
    this.checkOpen();
    if (this.depth === 0) throw new StrataError('INTERNAL', 'device tree endNode without a matching beginNode');
    this.struct.u32(FDT_END_NODE);
    this.depth--;
  }

  /** A property with raw bytes as its value. */
  propBytes(name: string, value: Uint8Array): void {
    this.checkOpen();
    if (this.depth === 0) throw new StrataError('INTERNAL', `device tree property '${name}' outside any node`);
    if (!/^[A-Za-z0-9,._+?#-]{1,31}$/.test(name)) {
      throw new StrataError('INTERNAL', `invalid device tree property name '${name}'`);
    }
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.nameOffset(name));
    this.struct.raw(value);
    this.struct.padTo(4);
  }

  /** A property with an empty value (a boolean such as `interrupt-controller` or `ranges`). */
  propEmpty(name: string): void {
    this.propBytes(name, new Uint8Array(0));
  }

  /** A `<prop-encoded-array>` of 32-bit cells. */
  propCells(name: string, cells: readonly number[]): void {
    const b = new Uint8Array(cells.length * 4);
    const dv = new DataView(b.buffer);
    cells.forEach((c, i) => {
      dv.setUint32(i * 4, c >>> 0);
    });
    this.propBytes(name, b);
  }

  /** A single `<u32>`. */
  propU32(name: string, value: number): void {
    this.propCells(name, [value]);
  }

  /** A `<u64>` (two cells, high first); values must be whole numbers below 2^53. */
  propU64(name: string, value: number): void {
    this.propCells(name, u64Cells(value));
  }

  /** A `<string>`. */
  propString(name: string, value: string): void {
    this.propStrings(name, [value]);
  }

  /** A `<stringlist>`: each string NUL-terminated, concatenated. */
  propStrings(name: string, values: readonly string[]): void {
    const parts = values.map((v) => utf8.encode(v));
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let at = 0;
    for (const p of parts) {
      b.set(p, at);
      at += p.length + 1;
    }
    this.propBytes(name, b);
  }

  /** Adds an entry to the memory reservation block (§5.3). */
  addReservation(reservation: FdtReservation): void {
    this.checkOpen();
    this.reservations.push(reservation);
  }

  /** Ends the tree and returns the blob; `bootCpuidPhys` is the header's boot CPU (§5.2). */
  finish(bootCpuidPhys = 0): Uint8Array {
    this.checkOpen();
    if (this.depth !== 0) throw new StrataError('INTERNAL', `device tree has ${this.depth} unclosed node(s)`);
    this.struct.u32(FDT_END);
    this.finished = true;

    // §5.1: header, then the memory reservation block (8-byte aligned), the structure block (4-byte aligned) and
    // the strings block.
    const offRsvmap = FDT_HEADER_BYTES;
    const rsvBytes = (this.reservations.length + 1) * 16;
    const offStruct = offRsvmap + rsvBytes;
    const offStrings = offStruct + this.struct.length;
    const totalSize = offStrings + this.strings.length;
    const out = new Uint8Array(totalSize);
    const dv = new DataView(out.buffer);
    const header = [
      FDT_MAGIC,
      totalSize,
      offStruct,
      offStrings,
      offRsvmap,
      FDT_VERSION,
      FDT_LAST_COMP_VERSION,
      bootCpuidPhys,
      this.strings.length,
      this.struct.length,
    ];
    header.forEach((v, i) => {
      dv.setUint32(i * 4, v >>> 0);
    });
    this.reservations.forEach((r, i) => {
      const [ah, al] = u64Cells(r.address);
      const [sh, sl] = u64Cells(r.sizeBytes);
      const at = offRsvmap + i * 16;
      dv.setUint32(at, ah);
      dv.setUint32(at + 4, al);
      dv.setUint32(at + 8, sh);
      dv.setUint32(at + 12, sl);
    });
    out.set(this.struct.bytes.subarray(0, this.struct.length), offStruct);
    out.set(this.strings.bytes.subarray(0, this.strings.length), offStrings);
    return out;
  }

  private nameOffset(name: string): number {
    const known = this.stringOffsets.get(name);
    if (known !== undefined) return known;
    const offset = this.strings.length;
    this.strings.raw(utf8.encode(name));
    this.strings.raw(new Uint8Array(1));
    this.stringOffsets.set(name, offset);
    return offset;
  }

  private checkOpen(): void {
    if (this.finished) throw new StrataError('INTERNAL', 'device tree writer used after finish()');
  }
}
