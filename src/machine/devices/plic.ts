import { StrataError } from '../../base/errors.js';
import type { IrqLine, MmioDevice } from './mmio-device.js';

/** Register layout of the SiFive/RISC-V PLIC (RISC-V PLIC spec, "Memory map"). */
const PRIORITY_BASE = 0x0;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000;
const CONTEXT_STRIDE = 0x1000;
/** Priority registers implement 3 bits (levels 0..7), as QEMU virt's PLIC; the register is WARL. */
const PRIORITY_MASK = 7;

/** Saved state of the PLIC (version 1): plain arrays, one entry per source or per context. */
export interface PlicState {
  readonly version: 1;
  readonly priority: readonly number[];
  readonly level: readonly number[];
  readonly pending: readonly number[];
  readonly inService: readonly number[];
  /** Enable words, `contextCount * ceil(sourceCount / 32)` of them, context-major. */
  readonly enable: readonly number[];
  readonly threshold: readonly number[];
}

/** Called when the interrupt output of a context changes level. */
export type PlicOutput = (context: number, asserted: boolean) => void;

/**
 * The platform-level interrupt controller (RISC-V PLIC spec 1.0.0, SiFive PLIC). Sources are level-triggered:
 * a device drives `setLevel(source, level)` (or a line from `line(source)`). Source 0 is reserved ("no
 * interrupt"). Each context (context `2h` = hart h M-mode, `2h+1` = hart h S-mode, as QEMU virt) has enable bits,
 * a priority threshold and a claim/complete register; its output is high while some pending, enabled source has a
 * priority above the threshold, and the PLIC reports every change through `output`.
 *
 * Gateway semantics: a source whose line is high becomes pending unless it is in service (claimed and not yet
 * completed); claiming clears pending and puts it in service; completing ends service, and a line still high makes
 * it pending again. A line that drops before the claim clears pending (as QEMU does), so a stale interrupt is not
 * delivered. Only aligned 32-bit accesses are honoured (the PLIC's registers are 32 bits wide); others read 0.
 */
export class Plic implements MmioDevice {
  /** Number of source ids, 0 included (sources 1..sourceCount-1 exist). */
  readonly sourceCount: number;
  /** Number of contexts (2 per hart: M-mode, then S-mode). */
  readonly contextCount: number;
  private readonly words: number;
  private readonly priority: Uint8Array;
  private readonly level: Uint8Array;
  private readonly pending: Uint8Array;
  private readonly inService: Uint8Array;
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  private readonly outputLevel: Uint8Array;

  /** `sourceCount` counts source 0; `contextCount` is 2 per hart. `output` receives every change of a context's line. */
  constructor(
    sourceCount: number,
    contextCount: number,
    private readonly output: PlicOutput,
  ) {
    this.sourceCount = sourceCount;
    this.contextCount = contextCount;
    this.words = Math.ceil(sourceCount / 32);
    this.priority = new Uint8Array(sourceCount);
    this.level = new Uint8Array(sourceCount);
    this.pending = new Uint8Array(sourceCount);
    this.inService = new Uint8Array(sourceCount);
    this.enable = new Uint32Array(contextCount * this.words);
    this.threshold = new Uint8Array(contextCount);
    this.outputLevel = new Uint8Array(contextCount);
  }

  /** Drives source `source`'s line. Ids outside 1..sourceCount-1 are ignored. */
  setLevel(source: number, asserted: boolean): void {
    if (source <= 0 || source >= this.sourceCount) return;
    const lvl = asserted ? 1 : 0;
    if (this.level[source] === lvl) return;
    this.level[source] = lvl;
    this.pending[source] = lvl && !this.inService[source] ? 1 : 0;
    this.update();
  }

  /** An `IrqLine` bound to `source`, to hand to a device. */
  line(source: number): IrqLine {
    return { setLevel: (asserted) => this.setLevel(source, asserted) };
  }

  /** Whether context `context`'s output is asserted now. */
  outputAsserted(context: number): boolean {
    return this.outputLevel[context] === 1;
  }

  /** Returns every register and line to its reset value (all zero, outputs low), reporting outputs that drop. */
  reset(): void {
    this.priority.fill(0);
    this.pending.fill(0);
    this.inService.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    for (let s = 0; s < this.sourceCount; s++) if (this.level[s]) this.pending[s] = 1;
    this.update();
  }

  /** The registers and line levels as a plain, versioned object. */
  save(): PlicState {
    return {
      version: 1,
      priority: [...this.priority],
      level: [...this.level],
      pending: [...this.pending],
      inService: [...this.inService],
      enable: [...this.enable],
      threshold: [...this.threshold],
    };
  }

  /**
   * Restores `save()` output of a PLIC of the same shape, then reports the outputs that differ from before.
   * Throws INVALID_ARGUMENT for another version or shape.
   */
  restore(state: PlicState): void {
    const shapeOk =
      state.version === 1 &&
      state.priority.length === this.sourceCount &&
      state.level.length === this.sourceCount &&
      state.pending.length === this.sourceCount &&
      state.inService.length === this.sourceCount &&
      state.enable.length === this.enable.length &&
      state.threshold.length === this.contextCount;
    if (!shapeOk)
      throw new StrataError('INVALID_ARGUMENT', `PLIC state version ${state.version} does not fit this PLIC`);
    this.priority.set(state.priority);
    this.level.set(state.level);
    this.pending.set(state.pending);
    this.inService.set(state.inService);
    this.enable.set(state.enable);
    this.threshold.set(state.threshold);
    this.update();
  }

  read(offset: number, size: number): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    if (offset < PENDING_BASE) {
      const id = (offset - PRIORITY_BASE) >>> 2;
      return id < this.sourceCount ? (this.priority[id] ?? 0) : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      return w < this.words ? this.packWord(this.pending, w) : 0;
    }
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contextCount || w >= this.words) return 0;
      return (this.enable[ctx * this.words + w] ?? 0) >>> 0;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contextCount) return 0;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx] ?? 0;
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset < PENDING_BASE) {
      const id = (offset - PRIORITY_BASE) >>> 2;
      if (id === 0 || id >= this.sourceCount) return;
      this.priority[id] = value & PRIORITY_MASK;
      this.update();
      return;
    }
    // The pending array is read-only (RISC-V PLIC spec: "Interrupt Pending Bits").
    if (offset < ENABLE_BASE) return;
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contextCount || w >= this.words) return;
      // Source 0 does not exist, so its enable bit is hard-wired to 0; so are bits beyond the last source.
      let mask = 0xffff_ffff;
      if (w === 0) mask &= ~1;
      const top = this.sourceCount - w * 32;
      if (top < 32) mask &= (1 << top) - 1;
      this.enable[ctx * this.words + w] = (value & mask) >>> 0;
      this.update();
      return;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contextCount) return;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = value & PRIORITY_MASK;
      this.update();
    } else if (reg === 4) {
      this.complete(ctx, value >>> 0);
    }
  }

  private isEnabled(ctx: number, source: number): boolean {
    return (((this.enable[ctx * this.words + (source >>> 5)] ?? 0) >>> (source & 31)) & 1) === 1;
  }

  /** The best pending, enabled source above the threshold for `ctx`: highest priority, then lowest id (spec). */
  private best(ctx: number): number {
    const threshold = this.threshold[ctx] ?? 0;
    let bestId = 0;
    let bestPriority = threshold;
    for (let s = 1; s < this.sourceCount; s++) {
      if (!this.pending[s]) continue;
      const p = this.priority[s] ?? 0;
      if (p > bestPriority && this.isEnabled(ctx, s)) {
        bestId = s;
        bestPriority = p;
      }
    }
    return bestId;
  }

  // RISC-V PLIC spec "Interrupt Claim Process": a claim returns the best source (or 0) and clears its pending bit.
  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id !== 0) {
      this.pending[id] = 0;
      this.inService[id] = 1;
      this.update();
    }
    return id;
  }

  // RISC-V PLIC spec "Interrupt Completion": an id the context does not enable is silently ignored.
  private complete(ctx: number, id: number): void {
    if (id === 0 || id >= this.sourceCount || !this.isEnabled(ctx, id)) return;
    this.inService[id] = 0;
    if (this.level[id]) this.pending[id] = 1;
    this.update();
  }

  private packWord(bits: Uint8Array, w: number): number {
    let v = 0;
    for (let i = 0; i < 32; i++) if (bits[w * 32 + i]) v |= 1 << i;
    return v >>> 0;
  }

  private update(): void {
    for (let ctx = 0; ctx < this.contextCount; ctx++) {
      const asserted = this.best(ctx) !== 0 ? 1 : 0;
      if (this.outputLevel[ctx] !== asserted) {
        this.outputLevel[ctx] = asserted;
        this.output(ctx, asserted === 1);
      }
    }
  }
}
