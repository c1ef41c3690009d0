import { StrataError } from '../../base/errors.js';

/** Size of the RISC-V Linux `Image` header (Linux Documentation/arch/riscv/boot-image-header.rst). */
export const RISCV_IMAGE_HEADER_BYTES = 64;
/** "RISCV\0\0\0" at offset 0x30: the deprecated 64-bit magic, still written by current kernels. */
export const RISCV_IMAGE_MAGIC = 0x5643_5349_52n; // little-endian bytes 'R' 'I' 'S' 'C' 'V' 0 0 0
/** "RSC\x05" at offset 0x38: the current magic. */
export const RISCV_IMAGE_MAGIC2 = 0x0543_5352;

const OFFSET_TEXT_OFFSET = 0x08;
const OFFSET_IMAGE_SIZE = 0x10;
const OFFSET_FLAGS = 0x18;
const OFFSET_VERSION = 0x20;
const OFFSET_MAGIC = 0x30;
const OFFSET_MAGIC2 = 0x38;
/** flags bit 0: kernel endianness, 1 = big-endian. */
const FLAG_BIG_ENDIAN = 1n;

/** What the `Image` header says. */
export interface LinuxImageHeader {
  /** Offset from the start of RAM where the image wants to be loaded (0x200000 on rv64). */
  readonly textOffset: number;
  /** Memory the kernel occupies once running, bss included (the file length if the header says 0). */
  readonly imageSizeBytes: number;
  /** Header version as major.minor (0.2 for current kernels). */
  readonly versionMajor: number;
  readonly versionMinor: number;
}

/** True when `bytes` starts like a RISC-V Linux `Image` (either magic present). */
export function isRiscvLinuxImage(bytes: Uint8Array): boolean {
  if (bytes.length < RISCV_IMAGE_HEADER_BYTES) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (
    dv.getUint32(OFFSET_MAGIC2, true) === RISCV_IMAGE_MAGIC2 ||
    dv.getBigUint64(OFFSET_MAGIC, true) === RISCV_IMAGE_MAGIC
  );
}

/**
 * Parses the 64-byte header of a RISC-V Linux `Image` (an uncompressed kernel, with or without an EFI stub).
 * Throws INVALID_ARGUMENT naming `fileName` when the file is too short, is compressed (gzip, zstd, xz), has
 * neither magic, or declares a big-endian kernel or a size that does not fit in a number.
 */
export function parseLinuxImage(bytes: Uint8Array, fileName: string): LinuxImageHeader {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new StrataError('INVALID_ARGUMENT', `kernel '${fileName}' is gzip-compressed; give the uncompressed Image`);
  }
  if (bytes.length >= 4 && bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) {
    throw new StrataError('INVALID_ARGUMENT', `kernel '${fileName}' is zstd-compressed; give the uncompressed Image`);
  }
  if (bytes.length < RISCV_IMAGE_HEADER_BYTES) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `kernel '${fileName}' is ${bytes.length} bytes, too short for a RISC-V Linux Image header (${RISCV_IMAGE_HEADER_BYTES})`,
    );
  }
  if (!isRiscvLinuxImage(bytes)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `kernel '${fileName}' is not a RISC-V Linux Image: no "RSC\\x05" magic at 0x38 nor "RISCV" at 0x30`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if ((dv.getBigUint64(OFFSET_FLAGS, true) & FLAG_BIG_ENDIAN) !== 0n) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `kernel '${fileName}' is a big-endian RISC-V Image; this board is little-endian`,
    );
  }
  const textOffset = dv.getBigUint64(OFFSET_TEXT_OFFSET, true);
  const imageSize = dv.getBigUint64(OFFSET_IMAGE_SIZE, true);
  if (textOffset > BigInt(Number.MAX_SAFE_INTEGER) || imageSize > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `kernel '${fileName}' declares text_offset 0x${textOffset.toString(16)} / image_size 0x${imageSize.toString(16)}, too large`,
    );
  }
  const version = dv.getUint32(OFFSET_VERSION, true);
  return {
    textOffset: Number(textOffset),
    imageSizeBytes: imageSize === 0n ? bytes.length : Math.max(Number(imageSize), bytes.length),
    versionMajor: version >>> 16,
    versionMinor: version & 0xffff,
  };
}
