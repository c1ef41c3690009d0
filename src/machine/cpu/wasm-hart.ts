/**
 * The WebAssembly hart (build/hart.wasm, compiled from ./assembly) behind the HartPort interface. Browser-safe:
 * the caller supplies the compiled module; this file only instantiates it over a shared memory that holds the
 * hart state and guest RAM.
 */
import { StrataError } from '../../base/errors.js';
import { VIRT_MEMMAP } from '../board/virt-memmap.js';
import type { HartPort, MmioHandler, StopReason } from './hart-port.js';
import {
  HART_STATE_FIELDS,
  HART_STATE_VERSION,
  type HartState,
  type HartStateField,
  parseU64Hex,
  u64Hex,
  validateHartState,
} from './hart-state.js';

/** Options for {@link WasmHart.create}. */
export interface WasmHartOptions {
  /** Guest RAM size in bytes: a multiple of 64 KiB, at most 4 GiB minus 17 MiB. */
  ramBytes: number;
  /** Every physical access outside RAM and the CLINT. */
  mmio: MmioHandler;
  /** Host monotonic clock in `mtime` ticks (10 MHz); defaults to `performance.now()`. */
  nowTicks?: () => number;
  /** mhartid (default 0). */
  hartId?: number;
  /**
   * Deterministic time: `mtime` advances one tick per this many executed instructions instead of following the
   * host clock (tests, record/replay). 0 or absent: host clock.
   */
  instructionsPerTick?: number;
  /**
   * The shared memory to run in, for example made on the VMM thread (see {@link WasmHart.createMemory}) so that
   * devices there see guest RAM while the hart runs in a worker. Absent: a new memory.
   */
  memory?: WebAssembly.Memory;
}

/** The exports of hart.wasm (see src/machine/cpu/assembly/index.ts); every value is an i32 or an f64. */
interface HartExports {
  init(ramBytes: number, clintBase: number): void;
  reset(pcLo: number, pcHi: number): void;
  run(budget: number): number;
  xregAddress(): number;
  fregAddress(): number;
  ramAddress(): number;
  ramBase(): number;
  irqLinesAddress(): number;
  pcLo(): number;
  pcHi(): number;
  setPc(lo: number, hi: number): void;
  privilege(): number;
  setHartId(id: number): void;
  setExternal(mask: number, level: number): void;
  ticksUntilTimer(): number;
  mtime(): number;
  instret(): number;
  setInstructionClock(instrPerTick: number): void;
  setHtif(lo: number, hi: number): void;
  htifLo(): number;
  htifHi(): number;
  csrPeek(csr: number): number;
  csrPeekOk(): number;
  hiResult(): number;
  faultCause(): number;
  faultPcLo(): number;
  faultPcHi(): number;
  saveState(): void;
  loadState(): void;
  snapshotAddress(): number;
  snapshotSlots(): number;
  pmpConfigBase(): number;
  pmpAddressBase(): number;
}

const WASM_PAGE_BYTES = 65536;
/** Bytes after RAM that keep a fetch of a 32-bit instruction at the very end of RAM inside the memory. */
const GUARD_BYTES = WASM_PAGE_BYTES;
const TWO_32 = 4294967296;
/** Where hart.wasm places guest RAM in its linear memory (assembly/state.ts RAM_OFFSET; checked at creation). */
const RAM_OFFSET_BYTES = 0x0100_0000;

/** Splits a JavaScript integer (|v| < 2^53, negative values as two's complement) into 32-bit halves. */
function split(v: number): [number, number] {
  const lo = v >>> 0;
  const hi = Math.floor(v / TWO_32) >>> 0;
  return [lo, hi];
}

/** Joins halves as a signed 64-bit value (exact when |v| < 2^53, which covers Sv39 canonical addresses). */
function joinSigned(lo: number, hi: number): number {
  return (hi | 0) * TWO_32 + (lo >>> 0);
}

/** Joins halves as an unsigned 64-bit value (exact below 2^53). */
function joinUnsigned(lo: number, hi: number): number {
  return (hi >>> 0) * TWO_32 + (lo >>> 0);
}

/** Trap causes for faultText(). */
const CAUSE_NAMES: Record<number, string> = {
  0: 'instruction address misaligned',
  1: 'instruction access fault',
  2: 'illegal instruction',
  3: 'breakpoint',
  4: 'load address misaligned',
  5: 'load access fault',
  6: 'store address misaligned',
  7: 'store access fault',
  8: 'ecall from U',
  9: 'ecall from S',
  11: 'ecall from M',
  12: 'instruction page fault',
  13: 'load page fault',
  15: 'store page fault',
};

/** A RISC-V RV64IMAFDC hart with M/S/U modes and Sv39, running in WebAssembly. */
export class WasmHart implements HartPort {
  /** Guest RAM (physical RAM base at index 0); shares the hart's memory. */
  readonly ram: Uint8Array;
  /** The hart's whole linear memory (shared: other threads may map guest RAM from it). */
  readonly memory: WebAssembly.Memory;
  private readonly x: Uint32Array;
  private readonly f: Uint32Array;
  private readonly irqWord: number;
  private readonly i32: Int32Array;
  private readonly ex: HartExports;

  private constructor(memory: WebAssembly.Memory, ex: HartExports, ramBytes: number) {
    this.memory = memory;
    this.ex = ex;
    const buf = memory.buffer;
    this.ram = new Uint8Array(buf, ex.ramAddress(), ramBytes);
    this.x = new Uint32Array(buf, ex.xregAddress(), 64);
    this.f = new Uint32Array(buf, ex.fregAddress(), 64);
    this.i32 = new Int32Array(buf);
    this.irqWord = ex.irqLinesAddress() >>> 2;
  }

  /** Instantiates the hart synchronously (fine in Node and in workers; browsers' main thread prefers `instantiate`). */
  static create(module: WebAssembly.Module, opts: WasmHartOptions): WasmHart {
    const { memory, imports } = WasmHart.prepare(opts);
    const instance = new WebAssembly.Instance(module, imports);
    return WasmHart.finish(memory, instance, opts);
  }

  /** Instantiates the hart asynchronously. */
  static async instantiate(module: WebAssembly.Module, opts: WasmHartOptions): Promise<WasmHart> {
    const { memory, imports } = WasmHart.prepare(opts);
    const instance = await WebAssembly.instantiate(module, imports);
    return WasmHart.finish(memory, instance, opts);
  }

  /** WebAssembly pages of the memory for `ramBytes` of RAM (hart state, RAM and a guard page). */
  static memoryPages(ramBytes: number): number {
    return Math.ceil((RAM_OFFSET_BYTES + ramBytes + GUARD_BYTES) / WASM_PAGE_BYTES);
  }

  /** A shared memory for a hart with `ramBytes` of RAM (a positive multiple of 64 KiB, below 4 GiB in total). */
  static createMemory(ramBytes: number): WebAssembly.Memory {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % WASM_PAGE_BYTES !== 0) {
      throw new StrataError('INVALID_ARGUMENT', `hart RAM size ${ramBytes} is not a positive multiple of 64 KiB`);
    }
    const pages = WasmHart.memoryPages(ramBytes);
    if (pages > 65536) {
      throw new StrataError('INVALID_ARGUMENT', `hart RAM size ${ramBytes} does not fit in a 4 GiB WebAssembly memory`);
    }
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  /** Guest RAM inside a hart memory made by createMemory (physical RAM base at index 0). */
  static ramView(memory: WebAssembly.Memory, ramBytes: number): Uint8Array {
    return new Uint8Array(memory.buffer, RAM_OFFSET_BYTES, ramBytes);
  }

  private static prepare(opts: WasmHartOptions): { memory: WebAssembly.Memory; imports: WebAssembly.Imports } {
    const { ramBytes } = opts;
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % WASM_PAGE_BYTES !== 0) {
      throw new StrataError('INVALID_ARGUMENT', `hart RAM size ${ramBytes} is not a positive multiple of 64 KiB`);
    }
    const memory = opts.memory ?? WasmHart.createMemory(ramBytes);
    if (memory.buffer.byteLength !== WasmHart.memoryPages(ramBytes) * WASM_PAGE_BYTES) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `hart memory of ${memory.buffer.byteLength} bytes does not match RAM size ${ramBytes} (use WasmHart.createMemory)`,
      );
    }
    const mmio = opts.mmio;
    const nowTicks = opts.nowTicks ?? (() => performance.now() * 10_000);
    const imports: WebAssembly.Imports = {
      env: {
        memory,
        mmio_read: (addr: number, size: number): number => mmio.read(addr >>> 0, size) | 0,
        mmio_write: (addr: number, size: number, value: number): void => mmio.write(addr >>> 0, size, value >>> 0),
        now_ticks: nowTicks,
        abort: (): void => {
          // The module is built with noAssert and a stub runtime; an abort here is a hart bug, not a guest action.
          throw new Error('hart.wasm aborted');
        },
      },
    };
    return { memory, imports };
  }

  private static finish(memory: WebAssembly.Memory, instance: WebAssembly.Instance, opts: WasmHartOptions): WasmHart {
    const ex = instance.exports as unknown as HartExports;
    if (ex.ramAddress() !== RAM_OFFSET_BYTES) {
      throw new StrataError('INTERNAL', `hart.wasm places RAM at ${ex.ramAddress()}, expected ${RAM_OFFSET_BYTES}`);
    }
    ex.init(opts.ramBytes >>> 0, VIRT_MEMMAP.clint.base);
    ex.setHartId(opts.hartId ?? 0);
    if (opts.instructionsPerTick) ex.setInstructionClock(opts.instructionsPerTick);
    return new WasmHart(memory, ex, opts.ramBytes);
  }

  /**
   * Index, in an Int32Array over `memory.buffer`, of the external interrupt line word (bit 0 MEIP, bit 1 SEIP). A
   * device thread may Atomics.or/and it and Atomics.notify a hart thread that sleeps in Atomics.wait after WFI.
   */
  get irqLinesWordIndex(): number {
    return this.irqWord;
  }

  /** Guest physical address of `ram[0]`. */
  get ramBase(): number {
    return this.ex.ramBase() >>> 0;
  }

  run(budget: number): StopReason {
    return this.ex.run(budget | 0) as StopReason;
  }

  reset(pc: number): void {
    const [lo, hi] = split(pc);
    this.ex.reset(lo, hi);
  }

  /** Sets x`index` from a JavaScript integer (|value| < 2^53; negative values are sign-extended). */
  setReg(index: number, value: number): void {
    if (index <= 0 || index > 31) return;
    const [lo, hi] = split(value);
    this.x[index * 2] = lo;
    this.x[index * 2 + 1] = hi;
  }

  /** x`index` as a signed 64-bit value (exact when |value| < 2^53; use getRegLo/getRegHi for all 64 bits). */
  getReg(index: number): number {
    return joinSigned(this.getRegLo(index), this.getRegHi(index));
  }

  /** Low 32 bits of x`index`, unsigned. */
  getRegLo(index: number): number {
    return this.x[(index & 31) * 2]! >>> 0;
  }

  /** High 32 bits of x`index`, unsigned. */
  getRegHi(index: number): number {
    return this.x[(index & 31) * 2 + 1]! >>> 0;
  }

  /** Sets x`index` from 32-bit halves. */
  setRegHalves(index: number, lo: number, hi: number): void {
    if (index <= 0 || index > 31) return;
    this.x[index * 2] = lo >>> 0;
    this.x[index * 2 + 1] = hi >>> 0;
  }

  /** Low 32 bits of f`index` (raw bit pattern). */
  getFRegLo(index: number): number {
    return this.f[(index & 31) * 2]! >>> 0;
  }

  /** High 32 bits of f`index` (raw bit pattern). */
  getFRegHi(index: number): number {
    return this.f[(index & 31) * 2 + 1]! >>> 0;
  }

  /** The pc as a signed 64-bit value (exact for every Sv39 canonical address). */
  getPc(): number {
    return joinSigned(this.ex.pcLo(), this.ex.pcHi());
  }

  /** Sets the pc (between runs). */
  setPc(pc: number): void {
    const [lo, hi] = split(pc);
    this.ex.setPc(lo, hi);
  }

  /** Current privilege level: 0 U, 1 S, 3 M. */
  privilege(): number {
    return this.ex.privilege();
  }

  setExternalInterrupt(mode: 'machine' | 'supervisor', asserted: boolean): void {
    const mask = mode === 'machine' ? 1 : 2;
    // Atomics so that a device thread may drive the line while the hart runs in another.
    if (asserted) Atomics.or(this.i32, this.irqWord, mask);
    else Atomics.and(this.i32, this.irqWord, ~mask);
  }

  ticksUntilTimer(): number {
    return this.ex.ticksUntilTimer();
  }

  mtime(): number {
    return this.ex.mtime();
  }

  instret(): number {
    return this.ex.instret();
  }

  setHtif(tohostAddr: number): void {
    const [lo, hi] = split(tohostAddr);
    this.ex.setHtif(lo, hi);
  }

  htifToHost(): number {
    return joinUnsigned(this.ex.htifLo(), this.ex.htifHi());
  }

  /** Reads CSR `csr` as M-mode would (no side effects); undefined when the CSR does not exist. */
  readCsr(csr: number): number | undefined {
    const lo = this.ex.csrPeek(csr);
    if (!this.ex.csrPeekOk()) return undefined;
    return joinUnsigned(lo, this.ex.hiResult());
  }

  /** Like readCsr, as [lo, hi] halves (exact for any value). */
  readCsrHalves(csr: number): [number, number] | undefined {
    const lo = this.ex.csrPeek(csr) >>> 0;
    if (!this.ex.csrPeekOk()) return undefined;
    return [lo, this.ex.hiResult() >>> 0];
  }

  /** Saves registers, CSRs and the hart's CLINT state (not RAM) as a plain versioned object. */
  saveState(): HartState {
    this.ex.saveState();
    const u32 = new Uint32Array(this.memory.buffer);
    const halves = (addr: number, count: number): string[] => {
      const out: string[] = [];
      for (let i = 0; i < count; i++) out.push(u64Hex(u32[(addr >>> 2) + 2 * i]!, u32[(addr >>> 2) + 2 * i + 1]!));
      return out;
    };
    const slots = halves(this.ex.snapshotAddress(), this.ex.snapshotSlots());
    const fields = {} as Record<HartStateField, string>;
    HART_STATE_FIELDS.forEach((name, i) => {
      fields[name] = slots[i]!;
    });
    return {
      version: HART_STATE_VERSION,
      x: halves(this.ex.xregAddress(), 32),
      f: halves(this.ex.fregAddress(), 32),
      pmpcfg: halves(this.ex.pmpConfigBase(), 8),
      pmpaddr: halves(this.ex.pmpAddressBase(), 64),
      fields,
    };
  }

  /** Restores a state made by saveState (validated first: a bad state throws INVALID_ARGUMENT and changes nothing). */
  restoreState(state: HartState): void {
    validateHartState(state);
    const u32 = new Uint32Array(this.memory.buffer);
    const put = (addr: number, values: readonly string[], what: string): void => {
      values.forEach((v, i) => {
        const [lo, hi] = parseU64Hex(v, `${what}[${i}]`);
        u32[(addr >>> 2) + 2 * i] = lo;
        u32[(addr >>> 2) + 2 * i + 1] = hi;
      });
    };
    put(
      this.ex.snapshotAddress(),
      HART_STATE_FIELDS.map((name) => state.fields[name]),
      'fields',
    );
    put(this.ex.xregAddress(), state.x, 'x');
    put(this.ex.fregAddress(), state.f, 'f');
    put(this.ex.pmpConfigBase(), state.pmpcfg, 'pmpcfg');
    put(this.ex.pmpAddressBase(), state.pmpaddr, 'pmpaddr');
    u32[this.ex.xregAddress() >>> 2] = 0;
    u32[(this.ex.xregAddress() >>> 2) + 1] = 0;
    this.ex.loadState();
  }

  faultText(): string {
    const cause = this.ex.faultCause();
    const pc = joinUnsigned(this.ex.faultPcLo(), this.ex.faultPcHi());
    return `hart fault: ${CAUSE_NAMES[cause] ?? `cause ${cause}`} at pc 0x${pc.toString(16)} with no usable trap handler`;
  }
}
