/**
 * Reading and adjusting a WebAssembly binary before a sandbox runs it (WebAssembly core specification 1.0/2.0,
 * "Binary Format", sections 5.5: a module is a magic, a version and a list of sections `id u8, size u32 LEB128,
 * contents`). The sandbox needs two things the JavaScript API does not tell: the limits of the module's memory
 * (import section id 2, memory section id 5; "limits" are a flag byte, `min`, and `max` when flag bit 0 is set),
 * and a way to lower the declared maximum to the sandbox's memory cap, so `memory.grow` beyond the cap returns -1
 * inside the module (core spec "memory.grow": failure is -1, not a trap) instead of reaching the host. Tables
 * (section id 4) are capped the same way.
 */

import { StrataError } from '../../base/errors.js';

/** Bytes per WebAssembly page (core spec: 64 KiB). */
export const WASM_PAGE_BYTES = 65_536;

/** Section ids used here (core spec 5.5.2). */
const SECTION_IMPORT = 2;
const SECTION_TABLE = 4;
const SECTION_MEMORY = 5;

/** The limits of one memory: pages, `max` undefined when the module declares none. */
export interface MemoryLimits {
  min: number;
  max: number | undefined;
  /** Flag bit 1: a shared memory (threads proposal). */
  shared: boolean;
  /** Flag bit 2: a 64-bit memory (memory64 proposal). */
  is64: boolean;
}

/** A memory the module imports (`module`.`name`). */
export interface MemoryImport {
  module: string;
  name: string;
  limits: MemoryLimits;
}

/** What `inspectModule` found. */
export interface ModuleMemories {
  imported: MemoryImport[];
  /** Memories the module defines, with the byte range of the memory section's contents. */
  defined: MemoryLimits[];
  /** Offset of the memory section's id byte, when there is one. */
  memorySectionAt?: number | undefined;
  /** Offset just past the memory section. */
  memorySectionEnd?: number | undefined;
  /** Tables the module defines: element type byte and limits (in entries). */
  tables: { refType: number; limits: MemoryLimits }[];
  /** Tables the module imports. */
  importedTables: number;
  tableSectionAt?: number | undefined;
  tableSectionEnd?: number | undefined;
}

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
  ) {}

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) throw malformed('unexpected end of module');
    this.pos++;
    return b;
  }

  /** Unsigned LEB128 up to 32 bits (core spec 5.2.2). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw malformed('integer too long');
    }
    if (result > 0xffff_ffff) throw malformed('integer too large');
    return result;
  }

  /** Unsigned LEB128 up to 64 bits, as a number (memory64 limits; exact below 2^53). */
  u64(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw malformed('integer too long');
    }
  }

  name(): string {
    const n = this.u32();
    if (this.pos + n > this.bytes.length) throw malformed('name past the end');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  limits(): MemoryLimits {
    const flags = this.byte();
    if (flags > 0x07) throw malformed(`bad memory limits flags 0x${flags.toString(16)}`);
    const is64 = (flags & 0x04) !== 0;
    const min = is64 ? this.u64() : this.u32();
    const max = (flags & 0x01) !== 0 ? (is64 ? this.u64() : this.u32()) : undefined;
    return { min, max, shared: (flags & 0x02) !== 0, is64 };
  }
}

function malformed(what: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `not a valid WebAssembly module: ${what}`);
}

/** Unsigned LEB128 encoding of `n` (core spec 5.2.2). */
export function uleb128(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** True when `bytes` start with the WebAssembly magic `\0asm` and version 1. */
export function hasWasmHeader(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 &&
    bytes[0] === 0x00 &&
    bytes[1] === 0x61 &&
    bytes[2] === 0x73 &&
    bytes[3] === 0x6d &&
    bytes[4] === 0x01 &&
    bytes[5] === 0x00 &&
    bytes[6] === 0x00 &&
    bytes[7] === 0x00
  );
}

/** Walks the sections of a module and returns its memories. INVALID_ARGUMENT on a malformed binary. */
export function inspectModule(bytes: Uint8Array): ModuleMemories {
  if (!hasWasmHeader(bytes)) throw malformed('no WebAssembly header (\\0asm, version 1)');
  const r = new Reader(bytes, 8);
  const out: ModuleMemories = { imported: [], defined: [], tables: [], importedTables: 0 };
  while (r.pos < bytes.length) {
    const at = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw malformed(`section ${id} runs past the end`);
    if (id === SECTION_IMPORT) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0x00) r.u32();
        else if (kind === 0x01) {
          r.byte();
          r.limits();
          out.importedTables++;
        } else if (kind === 0x02) out.imported.push({ module, name, limits: r.limits() });
        else if (kind === 0x03) {
          r.byte();
          r.byte();
        } else if (kind === 0x04) {
          r.byte();
          r.u32();
        } else throw malformed(`unknown import kind ${kind}`);
      }
    } else if (id === SECTION_TABLE) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const refType = r.byte();
        // A table with an initialiser expression (function references proposal, 0x40 0x00) is not read here.
        if (refType === 0x40) throw malformed('tables with initialiser expressions are not supported');
        out.tables.push({ refType, limits: r.limits() });
      }
      out.tableSectionAt = at;
      out.tableSectionEnd = end;
    } else if (id === SECTION_MEMORY) {
      const count = r.u32();
      for (let i = 0; i < count; i++) out.defined.push(r.limits());
      out.memorySectionAt = at;
      out.memorySectionEnd = end;
    }
    r.pos = end;
  }
  return out;
}

/**
 * A copy of `bytes` whose memory section declares `max = min(declared max, capPages)` for every defined memory.
 * The engine then refuses to grow the memory past the cap (memory.grow returns -1).
 */
export function capDefinedMemories(bytes: Uint8Array, info: ModuleMemories, capPages: number): Uint8Array {
  return capModule(bytes, info, capPages, undefined);
}

/**
 * A copy of `bytes` with every defined memory's maximum lowered to `capPages` and, when `capTableEntries` is
 * given, every defined table's maximum lowered to it (core spec "table.grow": failure is -1 too). Tables live
 * outside linear memory, so without this a module could take up to the engine's table limit in host memory.
 */
export function capModule(
  bytes: Uint8Array,
  info: ModuleMemories,
  capPages: number,
  capTableEntries: number | undefined,
): Uint8Array {
  const patches: { at: number; end: number; section: number[] }[] = [];
  if (info.memorySectionAt !== undefined && info.memorySectionEnd !== undefined) {
    const content: number[] = [...uleb128(info.defined.length)];
    for (const m of info.defined) {
      const max = Math.min(m.max ?? Number.POSITIVE_INFINITY, capPages);
      content.push(0x01, ...uleb128(m.min), ...uleb128(max));
    }
    patches.push({
      at: info.memorySectionAt,
      end: info.memorySectionEnd,
      section: [SECTION_MEMORY, ...uleb128(content.length), ...content],
    });
  }
  if (capTableEntries !== undefined && info.tableSectionAt !== undefined && info.tableSectionEnd !== undefined) {
    const content: number[] = [...uleb128(info.tables.length)];
    for (const t of info.tables) {
      const max = Math.min(t.limits.max ?? Number.POSITIVE_INFINITY, capTableEntries);
      content.push(t.refType, 0x01, ...uleb128(t.limits.min), ...uleb128(max));
    }
    patches.push({
      at: info.tableSectionAt,
      end: info.tableSectionEnd,
      section: [SECTION_TABLE, ...uleb128(content.length), ...content],
    });
  }
  if (patches.length === 0) return bytes;
  patches.sort((a, b) => a.at - b.at);
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (const p of patches) {
    parts.push(bytes.subarray(pos, p.at), new Uint8Array(p.section));
    pos = p.end;
  }
  parts.push(bytes.subarray(pos));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
