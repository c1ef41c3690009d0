// Strata hart — the CLINT (msip, mtimecmp, mtime) of the QEMU `virt` board, inside WebAssembly because the timer
// is read on the interpreter's hot path. SiFive CLINT / RISC-V ACLINT layout: msip at +0, mtimecmp at +0x4000,
// mtime at +0xBFF8.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { Cpu } from './cpu-state';

/** Host monotonic clock in 10 MHz ticks (imported from JavaScript). */
// @ts-ignore: decorator
@external("env", "now_ticks")
declare function nowTicks(): f64;

/** Guest physical base of the CLINT (VIRT_MEMMAP.clint; passed in by the wrapper at init). */
export let clintBase: u64 = 0x0200_0000;
/** Size of the CLINT window. */
export const CLINT_SIZE: u64 = 0x1_0000;

/** Sets the CLINT base address (from the board table). */
export function setClintBase(base: u64): void {
  clintBase = base;
}

/** The underlying clock: host ticks, or executed instructions / N in deterministic mode. */
function rawClock(): u64 {
  if (Cpu.instrPerTick != 0) return (Cpu.instretTotal + Cpu.inFlight) / Cpu.instrPerTick;
  const t = nowTicks();
  // Guard the float-to-int conversion: a bad host clock must never trap the module.
  if (!(t >= 0)) return 0;
  if (t >= 1.8e19) return 0xffff_ffff_ffff_0000;
  return <u64>t;
}

/** Current mtime (RISC-V privileged spec §3.2.1). */
export function mtimeNow(): u64 {
  return rawClock() + Cpu.mtimeOffset;
}

/**
 * Instructions the interrupt check between chunks lets pass after the host clock said the timer is not due
 * before it reads the clock again (about 25 us of guest time at today's speed; the timer tick is milliseconds).
 * Reading the host clock is a call out of WebAssembly, which cost about 2% of a Linux boot when done per chunk.
 */
const TIMER_POLL_INSTRUCTIONS: u64 = 8192;

/** Makes the next mtipPolled() read the host clock. */
export function timerPollNow(): void {
  Cpu.pollFrom = Cpu.instretTotal - TIMER_POLL_INSTRUCTIONS;
}

/** Whether MTIP is asserted: mtime >= mtimecmp (reads the clock). */
export function mtipNow(): bool {
  const due = mtimeNow() >= Cpu.mtimecmp;
  // Whoever saw the timer due (WFI, a read of mip) gets the interrupt at the next check, not a poll later.
  if (due) timerPollNow();
  return due;
}

/**
 * mtipNow() for the interrupt check between chunks: false without reading the clock while the last read said
 * "not due" fewer than TIMER_POLL_INSTRUCTIONS instructions ago and neither mtimecmp nor mtime was written since
 * (a write can only make the timer due earlier). The deterministic clock is always read (it costs nothing and
 * tests rely on exact interrupt points).
 */
export function mtipPolled(): bool {
  if (
    Cpu.instrPerTick == 0 &&
    Cpu.instretTotal - Cpu.pollFrom < TIMER_POLL_INSTRUCTIONS &&
    Cpu.mtimecmp == Cpu.pollCmp &&
    Cpu.mtimeOffset == Cpu.pollOffset
  ) {
    return false;
  }
  if (mtipNow()) return true;
  Cpu.pollFrom = Cpu.instretTotal;
  Cpu.pollCmp = Cpu.mtimecmp;
  Cpu.pollOffset = Cpu.mtimeOffset;
  return false;
}

/** Reads `size` bytes at `off` inside the CLINT. Unimplemented registers read 0. */
export function clintRead(off: u32, size: u32): u64 {
  let v: u64 = 0;
  let base: u32 = off & ~7;
  if (off < 0x4000) {
    // msip of hart 0 only; other harts' words read 0.
    if ((off & ~3) == 0) return <u64>Cpu.msip;
    return 0;
  } else if (base == 0x4000) {
    v = Cpu.mtimecmp;
  } else if (base == 0xbff8) {
    v = mtimeNow();
  } else {
    return 0;
  }
  v = v >> ((<u64>(off & 7)) << 3);
  if (size < 8) v &= (<u64>1 << ((<u64>size) << 3)) - 1;
  return v;
}

/** Writes `size` bytes at `off` inside the CLINT. */
export function clintWrite(off: u32, size: u32, value: u64): void {
  if (off < 0x4000) {
    if ((off & ~3) == 0) Cpu.msip = <u32>value & 1;
    return;
  }
  const base: u32 = off & ~7;
  const shift: u64 = (<u64>(off & 7)) << 3;
  const mask: u64 = size >= 8 ? 0xffff_ffff_ffff_ffff : ((<u64>1 << ((<u64>size) << 3)) - 1) << shift;
  if (base == 0x4000) {
    Cpu.mtimecmp = (Cpu.mtimecmp & ~mask) | ((value << shift) & mask);
  } else if (base == 0xbff8) {
    const now = mtimeNow();
    const next = (now & ~mask) | ((value << shift) & mask);
    Cpu.mtimeOffset = next - rawClock();
  }
}
