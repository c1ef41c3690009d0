/**
 * A tiny WebAssembly binary encoder (core specification, "Binary Format") for tests and benchmarks: enough to hand-write WASI
 * command modules (types, function imports, one memory, functions, exports, active data segments) without a
 * wat2wasm tool. Instructions are given as bytes; `op` holds the opcodes the test modules use.
 */

import { uleb128 } from './wasm-module.js';

/** Value types (core spec 5.3.1). */
export const I32 = 0x7f;
/** 64-bit integer value type. */
export const I64 = 0x7e;

/** Unsigned LEB128 (the module reader's encoder). */
export const u = uleb128;

/** Signed LEB128 (for i32.const / i64.const immediates in the safe-integer range). */
export function s(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

/** Opcodes and small instruction builders. */
export const op = {
  unreachable: [0x00],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (d: number) => [0x0c, ...u(d)],
  brIf: (d: number) => [0x0d, ...u(d)],
  return: [0x0f],
  call: (f: number) => [0x10, ...u(f)],
  drop: [0x1a],
  localGet: (i: number) => [0x20, ...u(i)],
  localSet: (i: number) => [0x21, ...u(i)],
  localTee: (i: number) => [0x22, ...u(i)],
  i32Load: (offset = 0) => [0x28, 0x02, ...u(offset)],
  i32Store: (offset = 0) => [0x36, 0x02, ...u(offset)],
  memorySize: [0x3f, 0x00],
  memoryGrow: [0x40, 0x00],
  i32Const: (n: number) => [0x41, ...s(n)],
  i64Const: (n: number | bigint) => [0x42, ...s(n)],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32Add: [0x6a],
  i32Sub: [0x6b],
};

function vec(items: number[][]): number[] {
  return [...u(items.length), ...items.flat()];
}

function str(text: string): number[] {
  const b = [...new TextEncoder().encode(text)];
  return [...u(b.length), ...b];
}

function section(id: number, content: number[]): number[] {
  return content.length === 0 ? [] : [id, ...u(content.length), ...content];
}

/** Builds one module; function indices count imports first, as the spec says. */
export class WasmBuilder {
  private readonly types: number[][] = [];
  private readonly imports: number[][] = [];
  private readonly funcs: { type: number; locals: number[]; body: number[] }[] = [];
  private readonly exports: number[][] = [];
  private readonly datas: number[][] = [];
  private memory: number[] | undefined;
  private table: number[] | undefined;
  private importedFuncs = 0;

  /** A function type; returns its index. */
  type(params: number[], results: number[]): number {
    this.types.push([0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))]);
    return this.types.length - 1;
  }

  /** Imports a function; returns its function index. Call before `func`. */
  importFunc(module: string, name: string, params: number[], results: number[]): number {
    const t = this.type(params, results);
    this.imports.push([...str(module), ...str(name), 0x00, ...u(t)]);
    return this.importedFuncs++;
  }

  /** Imports the memory (limits in pages). */
  importMemory(module: string, name: string, min: number, max?: number): void {
    this.imports.push([...str(module), ...str(name), 0x02, ...limits(min, max)]);
  }

  /** Defines the memory (limits in pages) and exports it as `memory`. */
  defineMemory(min: number, max?: number): void {
    this.memory = [...u(1), ...limits(min, max)];
    this.exports.push([...str('memory'), 0x02, ...u(0)]);
  }

  /** Defines a function-reference table (limits in entries) and exports it as `table`. */
  defineTable(min: number, max?: number): void {
    this.table = [...u(1), 0x70, ...limits(min, max)];
    this.exports.push([...str('table'), 0x01, ...u(0)]);
  }

  /** Defines a function; returns its function index. `locals` are value types, one per local. */
  func(params: number[], results: number[], locals: number[], body: number[]): number {
    this.funcs.push({ type: this.type(params, results), locals, body });
    return this.importedFuncs + this.funcs.length - 1;
  }

  /** Exports function `index` as `name`. */
  exportFunc(name: string, index: number): void {
    this.exports.push([...str(name), 0x00, ...u(index)]);
  }

  /** An active data segment at `offset` of memory 0. */
  data(offset: number, bytes: Uint8Array | string): void {
    const b = typeof bytes === 'string' ? [...new TextEncoder().encode(bytes)] : [...bytes];
    this.datas.push([0x00, 0x41, ...s(offset), 0x0b, ...u(b.length), ...b]);
  }

  /** The module's bytes. */
  build(): Uint8Array {
    const code = this.funcs.map((f) => {
      const locals = vec(f.locals.map((t) => [1, t]));
      const body = [...locals, ...f.body, 0x0b];
      return [...u(body.length), ...body];
    });
    return new Uint8Array([
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00,
      ...section(1, this.types.length ? vec(this.types) : []),
      ...section(2, this.imports.length ? vec(this.imports) : []),
      ...section(3, this.funcs.length ? vec(this.funcs.map((f) => u(f.type))) : []),
      ...section(4, this.table ?? []),
      ...section(5, this.memory ?? []),
      ...section(7, this.exports.length ? vec(this.exports) : []),
      ...section(10, code.length ? vec(code) : []),
      ...section(11, this.datas.length ? vec(this.datas) : []),
    ]);
  }
}

function limits(min: number, max?: number): number[] {
  return max === undefined ? [0x00, ...u(min)] : [0x01, ...u(min), ...u(max)];
}
