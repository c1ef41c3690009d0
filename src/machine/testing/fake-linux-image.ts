/**
 * Builds a stand-in RISC-V Linux `Image` for tests: an EFI-stub style "MZ" start, the 64-byte header
 * (Linux Documentation/arch/riscv/boot-image-header.rst) with both magics, and zeros after it.
 */
export function fakeLinuxImage(
  opts: { textOffset?: number; imageSize?: number; length?: number; flags?: number } = {},
): Uint8Array {
  const b = new Uint8Array(opts.length ?? 4096);
  const dv = new DataView(b.buffer);
  b.set([0x4d, 0x5a], 0);
  dv.setBigUint64(0x08, BigInt(opts.textOffset ?? 0x20_0000), true);
  dv.setBigUint64(0x10, BigInt(opts.imageSize ?? 0x10_0000), true);
  dv.setBigUint64(0x18, BigInt(opts.flags ?? 0), true);
  dv.setUint32(0x20, 2, true); // header version 0.2
  b.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  b.set(new TextEncoder().encode('RSC\x05'), 0x38);
  return b;
}
