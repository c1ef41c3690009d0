/**
 * How the rest of the machine sees a hart (the CPU), whatever implements it: the WebAssembly interpreter now,
 * a JIT later. Values cross as JavaScript numbers (no BigInt): 64-bit registers as two 32-bit halves, physical
 * addresses below 2^32 for MMIO.
 */

import type { HartState } from './hart-state.js';

/** Why `run()` returned. */
export enum StopReason {
  /** The instruction budget ran out; call `run()` again after servicing devices. */
  Budget = 0,
  /** The hart executed WFI with no enabled interrupt pending: sleep until the next timer deadline or device event. */
  Wfi = 1,
  /** A bare-metal program wrote a non-zero value to HTIF `tohost`: read `htifToHost()`. */
  Htif = 2,
  /** The hart cannot continue (a trap with no handler in bare-metal mode, or a host-side fault): see `faultText()`. */
  Fault = 3,
}

/** MMIO outside RAM and the CLINT, served by the JavaScript bus. Never throws at the guest. */
export interface MmioHandler {
  /** Reads `size` (1, 2 or 4) bytes at physical `addr`; unmapped addresses read 0. */
  read(addr: number, size: number): number;
  /** Writes the low `size` bytes of `value` at physical `addr`; unmapped addresses ignore the write. */
  write(addr: number, size: number, value: number): void;
}

/** The hart as the machine drives it. */
export interface HartPort {
  /** Guest RAM, physical address `ramBase` at index 0 (a view on the hart's shared memory). */
  readonly ram: Uint8Array;
  /** Runs at most about `budget` instructions; returns why it stopped. */
  run(budget: number): StopReason;
  /** Resets to M-mode at `pc` with every register zero. */
  reset(pc: number): void;
  setReg(index: number, value: number): void;
  getReg(index: number): number;
  getPc(): number;
  /** Level of the external interrupt line from the PLIC for M-mode (MEIP) or S-mode (SEIP). */
  setExternalInterrupt(mode: 'machine' | 'supervisor', asserted: boolean): void;
  /** Ticks of `mtime` (10 MHz) until the next timer interrupt this hart can take, or Infinity. */
  ticksUntilTimer(): number;
  /** Current `mtime`. */
  mtime(): number;
  /** Instructions retired so far (`minstret`). */
  instret(): number;
  /** Enables HTIF mode: stores to physical `tohostAddr` stop the hart with StopReason.Htif. */
  setHtif(tohostAddr: number): void;
  /** The last value written to `tohost`. */
  htifToHost(): number;
  /** Why the hart faulted, for the report. */
  faultText(): string;
  /** Saves registers, CSRs and the hart's CLINT timer state (not RAM) as a plain versioned object (snapshots). */
  saveState?(): HartState;
  /** Restores a state made by saveState; throws INVALID_ARGUMENT for a malformed state and changes nothing. */
  restoreState?(state: HartState): void;
}
