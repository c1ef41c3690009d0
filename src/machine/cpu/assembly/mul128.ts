// Strata hart — 64 x 64 -> 128-bit unsigned multiplication, shared by the M extension (MULH, MULHSU, MULHU in
// interp.ts) and the FPU (significand products in fpu-round.ts). WebAssembly has no 128-bit multiply.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

/**
 * High 64 bits of the unsigned 128-bit product `a * b` (the low 64 bits are the wrapping `a * b`). Schoolbook
 * multiplication on 32-bit halves: no partial product or carry sum overflows 64 bits.
 */
// @ts-ignore: decorator
@inline export function mulHiU64(a: u64, b: u64): u64 {
  const a0 = a & 0xffff_ffff;
  const a1 = a >> 32;
  const b0 = b & 0xffff_ffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >> 32) + (p01 & 0xffff_ffff) + (p10 & 0xffff_ffff);
  return a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}
