// Strata hart — WebAssembly entry point: the exports the JavaScript wrapper (wasm-hart.ts) calls. Only i32 and
// f64 cross the boundary (no BigInt on the JavaScript side): 64-bit values as lo/hi halves or exact f64.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { mtimeNow, setClintBase } from './clint';
import { Cpu, PRV_M } from './cpu-state';
import { csrIllegal, csrRead, csrReset } from './csr';
import { IRQ_LINES } from './layout';
import { tlbClear, tlbFlushAll, updateTlbContext } from './mmu';
import { buildRvcTable } from './rvc';
import { FREG_BASE, RAM_BASE, RAM_OFFSET, XREG_BASE } from './state';
import { MIP_MTIP } from './trap';

/** Runs up to about `budget` instructions (see interp.ts). */
export { run } from './interp';
/** Snapshot support (see snapshot.ts). */
export { loadState, pmpAddressBase, pmpConfigBase, saveState } from './snapshot';

import { SNAPSHOT_BASE, SNAPSHOT_SLOTS } from './snapshot';

// @ts-ignore: decorator
@inline function join(lo: u32, hi: u32): u64 {
  return ((<u64>hi) << 32) | <u64>lo;
}

/** Prepares the hart for `ramBytes` of RAM (a multiple of 4096) and a CLINT at `clintBase`. Call once. */
export function init(ramBytes: u32, clintBase: u32): void {
  Cpu.ramSize = <u64>ramBytes & ~(<u64>0xfff);
  setClintBase(<u64>clintBase);
  buildRvcTable();
  store<u32>(IRQ_LINES, 0);
  reset(<u32>RAM_BASE, 0);
}

/** Resets to M-mode at `pc` with all x and f registers zero and the CSRs at their reset values. */
export function reset(pcLo: u32, pcHi: u32): void {
  memory.fill(XREG_BASE, 0, 32 * 8);
  memory.fill(FREG_BASE, 0, 32 * 8);
  csrReset();
  tlbClear();
  Cpu.pc = join(pcLo, pcHi);
  Cpu.excFlag = false;
  Cpu.stop = -1;
  Cpu.msip = 0;
  Cpu.mtimecmp = 0xffff_ffff_ffff_ffff;
  updateTlbContext();
}

/** Linear-memory address of x0 (x registers are 32 x u64 little endian). */
export function xregAddress(): u32 {
  return <u32>XREG_BASE;
}

/** Linear-memory address of f0 (f registers are 32 x u64 raw bit patterns). */
export function fregAddress(): u32 {
  return <u32>FREG_BASE;
}

/** Linear-memory address of guest physical RAM_BASE. */
export function ramAddress(): u32 {
  return <u32>RAM_OFFSET;
}

/** Guest physical address of the first RAM byte (low half; RAM_BASE is below 2^32). */
export function ramBase(): u32 {
  return <u32>RAM_BASE;
}

/** Linear-memory address of the external interrupt line word (bit 0 MEIP, bit 1 SEIP). */
export function irqLinesAddress(): u32 {
  return <u32>IRQ_LINES;
}

/** Low half of the pc. */
export function pcLo(): u32 {
  return <u32>Cpu.pc;
}

/** High half of the pc. */
export function pcHi(): u32 {
  return <u32>(Cpu.pc >> 32);
}

/** Sets the pc (between runs). */
export function setPc(lo: u32, hi: u32): void {
  Cpu.pc = join(lo, hi);
}

/** Current privilege level: 0 U, 1 S, 3 M. */
export function privilege(): i32 {
  return Cpu.priv;
}

/** Sets mhartid. */
export function setHartId(id: u32): void {
  Cpu.hartId = <u64>id;
}

/** Sets (`level` != 0) or clears external interrupt line `mask` (1 = MEIP, 2 = SEIP). */
export function setExternal(mask: u32, level: u32): void {
  const v = load<u32>(IRQ_LINES);
  store<u32>(IRQ_LINES, level != 0 ? v | mask : v & ~mask);
}

/** mtime ticks until the timer interrupt can fire (0 if due), or +Infinity when mie.MTIE is off or mtimecmp is all ones. */
export function ticksUntilTimer(): f64 {
  if ((Cpu.mie & MIP_MTIP) == 0 || Cpu.mtimecmp == 0xffff_ffff_ffff_ffff) return Infinity;
  const now = mtimeNow();
  if (now >= Cpu.mtimecmp) return 0;
  return <f64>(Cpu.mtimecmp - now);
}

/** Current mtime as an f64 (exact below 2^53 ticks, about 28 years at 10 MHz). */
export function mtime(): f64 {
  return <f64>mtimeNow();
}

/** Instructions executed since init (exact below 2^53). */
export function instret(): f64 {
  return <f64>Cpu.instretTotal;
}

/** 0: mtime follows the host clock; N > 0: mtime advances one tick per N executed instructions. */
export function setInstructionClock(instrPerTick: u32): void {
  const now = mtimeNow();
  Cpu.instrPerTick = <u64>instrPerTick;
  Cpu.mtimeOffset = 0;
  Cpu.mtimeOffset = now - mtimeNow();
}

/** Enables HTIF: a non-zero store to physical `tohost` stops run() with STOP_HTIF. */
export function setHtif(lo: u32, hi: u32): void {
  Cpu.htifAddr = join(lo, hi);
  tlbFlushAll();
}

/** Low half of the last value written to tohost. */
export function htifLo(): u32 {
  return <u32>Cpu.htifValue;
}

/** High half of the last value written to tohost. */
export function htifHi(): u32 {
  return <u32>(Cpu.htifValue >> 32);
}

/** Reads a CSR as M-mode would, without side effects; returns the low half (high half: hiResult()), or 0 and
 * sets hiResult() to 0xffffffff... use csrPeekOk() to tell a missing CSR apart. */
export function csrPeek(csr: u32): u32 {
  const prv = Cpu.priv;
  Cpu.priv = PRV_M;
  const v = csrRead(csr);
  Cpu.priv = prv;
  peekOk = !csrIllegal;
  Cpu.hiResult = <u32>(v >> 32);
  return <u32>v;
}

let peekOk: bool = false;

/** Whether the last csrPeek named an existing CSR. */
export function csrPeekOk(): bool {
  return peekOk;
}

/** High half of the last 64-bit value returned through a lo/hi export. */
export function hiResult(): u32 {
  return Cpu.hiResult;
}

/** Cause of the trap that made run() return STOP_FAULT. */
export function faultCause(): u32 {
  return <u32>Cpu.faultCause;
}

/** Low half of the pc at which the hart faulted. */
export function faultPcLo(): u32 {
  return <u32>Cpu.faultPc;
}

/** High half of the pc at which the hart faulted. */
export function faultPcHi(): u32 {
  return <u32>(Cpu.faultPc >> 32);
}

/** Linear-memory address of the snapshot slots (see snapshot.ts). */
export function snapshotAddress(): u32 {
  return <u32>SNAPSHOT_BASE;
}

/** Number of snapshot slots. */
export function snapshotSlots(): u32 {
  return SNAPSHOT_SLOTS;
}
