// Strata hart — shared architectural state (AssemblyScript, compiled to WebAssembly).
//
// HOT-LOOP EXCEPTION (docs/architecture.md): this folder is the CPU interpreter. Speed outranks the usual style
// rules here: no allocation, no closures, state at fixed addresses of linear memory, traps as return codes.
//
// Linear memory layout (the memory is imported from JavaScript and shared):
//   [0, STATE_BASE)               AssemblyScript static data and stack
//   [STATE_BASE, RAM_OFFSET)      hart state: registers, TLBs, per-hart tables
//   [RAM_OFFSET, +ramSize)        guest RAM; guest physical address RAM_BASE maps here

/** Start of the hart-state region in linear memory. */
export const STATE_BASE: usize = 0x0080_0000;
/** Where guest RAM starts in linear memory. */
export const RAM_OFFSET: usize = 0x0100_0000;
/** Guest physical address of the first byte of RAM (QEMU `virt`: 0x8000_0000). */
export const RAM_BASE: u64 = 0x8000_0000;

/** x0..x31, 8 bytes each. x0 is kept at zero by the interpreter. */
export const XREG_BASE: usize = STATE_BASE;
/** f0..f31 as raw 64-bit patterns (single precision values NaN-boxed, RISC-V unprivileged spec §12.2). */
export const FREG_BASE: usize = STATE_BASE + 0x100;

/** Rounding mode field of fcsr (RISC-V unprivileged spec §11.2). */
export let frm: u32 = 0;
/** Accrued exception flags of fcsr: NV=16 DZ=8 OF=4 UF=2 NX=1. */
export let fflags: u32 = 0;
/** Set by the FPU whenever it writes an f register or fflags; the hart turns it into mstatus.FS = Dirty. */
export let fsDirty: bool = false;

/** Reads integer register x`i` (0..31; x0 always reads zero because nothing ever stores a nonzero value there). */
// @ts-expect-error: decorator
@inline export function getX(i: u32): u64 {
  return load<u64>(XREG_BASE + ((<usize>i) << 3));
}

/** Writes integer register x`i`; writes to x0 are discarded (RISC-V unprivileged spec §2.1). */
// @ts-expect-error: decorator
@inline export function setX(i: u32, v: u64): void {
  if (i != 0) store<u64>(XREG_BASE + ((<usize>i) << 3), v);
}

/** Reads f`i` as its raw 64-bit pattern (single precision values are NaN-boxed). */
// @ts-expect-error: decorator
@inline export function getF(i: u32): u64 {
  return load<u64>(FREG_BASE + ((<usize>i) << 3));
}

/**
 * Writes the raw 64-bit pattern of f`i` (callers NaN-box single precision results) and marks the FP state dirty
 * for mstatus.FS (privileged spec §3.1.6.6).
 */
// @ts-expect-error: decorator
@inline export function setF(i: u32, v: u64): void {
  store<u64>(FREG_BASE + ((<usize>i) << 3), v);
  fsDirty = true;
}

/** Raises accrued FP exception flags. */
// @ts-expect-error: decorator
@inline export function raiseFflags(bits: u32): void {
  fflags |= bits;
  fsDirty = true;
}

/** Sets frm (CSR writes). */
export function setFrm(v: u32): void {
  frm = v & 7;
}

/** Sets fflags (CSR writes). */
export function setFflags(v: u32): void {
  fflags = v & 0x1f;
}

/** Clears the dirty marker after the hart has folded it into mstatus.FS. */
export function clearFsDirty(): void {
  fsDirty = false;
}
