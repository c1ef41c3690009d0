import { StrataError } from '../../base/errors.js';

// ELF-64 object file format and the RISC-V ELF psABI.
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const ELF64_EHDR_BYTES = 64;
const ELF64_PHDR_BYTES = 56;
const ELF64_SHDR_BYTES = 64;
const ELF64_SYM_BYTES = 24;

/** One PT_LOAD segment: `fileBytes` go at physical `paddr`, followed by zeros up to `memSizeBytes`. */
export interface ElfSegment {
  readonly paddr: number;
  readonly fileBytes: Uint8Array;
  readonly memSizeBytes: number;
}

/** A parsed RISC-V ELF64 executable. */
export interface ElfImage {
  /** Physical entry point (the virtual entry translated through the segment that holds it). */
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
  /** Physical address of the `tohost` symbol, when the symbol table has it (HTIF). */
  readonly tohost?: number;
  /** Physical address of the `fromhost` symbol, when present. */
  readonly fromhost?: number;
}

/** True when `bytes` starts with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

function bad(fileName: string, reason: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `ELF file '${fileName}': ${reason}`);
}

/**
 * Parses a little-endian ELF64 RISC-V executable (e_machine 243, ET_EXEC): its PT_LOAD segments (placed at their
 * physical addresses), the entry point and the `tohost`/`fromhost` symbols. Throws INVALID_ARGUMENT naming
 * `fileName` for a wrong class, endianness, machine or type, truncated headers or segments, or an entry point
 * outside every segment. Whether segments fit in RAM is checked by `checkElfFits`.
 */
export function parseElf(bytes: Uint8Array, fileName: string): ElfImage {
  if (!isElf(bytes)) throw bad(fileName, 'no ELF magic (\\x7fELF) at offset 0');
  if (bytes.length < ELF64_EHDR_BYTES) throw bad(fileName, `${bytes.length} bytes, too short for an ELF64 header`);
  if (bytes[4] !== ELFCLASS64)
    throw bad(fileName, `class ${bytes[4]} is not ELFCLASS64 (2): a 64-bit RISC-V program is needed`);
  if (bytes[5] !== ELFDATA2LSB) throw bad(fileName, `data encoding ${bytes[5]} is not little-endian (ELFDATA2LSB)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number): bigint => dv.getBigUint64(at, true);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw bad(fileName, `e_machine ${machine} is not RISC-V (243)`);
  const type = dv.getUint16(16, true);
  if (type !== ET_EXEC)
    throw bad(fileName, `e_type ${type} is not an executable (ET_EXEC); link it with -static -no-pie`);

  const entryV = u64(24);
  const phoff = Number(u64(32));
  const shoff = Number(u64(40));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (phentsize < ELF64_PHDR_BYTES || phoff + phnum * phentsize > bytes.length) {
    throw bad(fileName, 'program header table is truncated or malformed');
  }

  const segments: ElfSegment[] = [];
  const map: { vaddr: bigint; paddr: bigint; memsz: bigint }[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const offset = u64(ph + 8);
    const vaddr = u64(ph + 16);
    const paddr = u64(ph + 24);
    const filesz = u64(ph + 32);
    const memsz = u64(ph + 40);
    if (filesz > memsz)
      throw bad(fileName, `segment ${i} has p_filesz 0x${filesz.toString(16)} > p_memsz 0x${memsz.toString(16)}`);
    if (offset + filesz > BigInt(bytes.length)) throw bad(fileName, `segment ${i} extends past the end of the file`);
    if (paddr + memsz > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw bad(fileName, `segment ${i} at physical 0x${paddr.toString(16)} is beyond any RAM`);
    }
    if (memsz === 0n) continue;
    segments.push({
      paddr: Number(paddr),
      fileBytes: bytes.subarray(Number(offset), Number(offset + filesz)),
      memSizeBytes: Number(memsz),
    });
    map.push({ vaddr, paddr, memsz });
  }
  if (segments.length === 0) throw bad(fileName, 'no PT_LOAD segment');

  const toPhys = (v: bigint): number | undefined => {
    for (const m of map) if (v >= m.vaddr && v < m.vaddr + m.memsz) return Number(v - m.vaddr + m.paddr);
    return undefined;
  };
  const entry = toPhys(entryV);
  if (entry === undefined) throw bad(fileName, `entry point 0x${entryV.toString(16)} is outside every loaded segment`);

  const symbols = readSymbols(bytes, dv, shoff, shentsize, shnum, ['tohost', 'fromhost']);
  const tohostV = symbols.get('tohost');
  const fromhostV = symbols.get('fromhost');
  const tohost = tohostV === undefined ? undefined : toPhys(tohostV);
  const fromhost = fromhostV === undefined ? undefined : toPhys(fromhostV);
  return {
    entry,
    segments,
    ...(tohost === undefined ? {} : { tohost }),
    ...(fromhost === undefined ? {} : { fromhost }),
  };
}

/** Values of the named symbols in the first SHT_SYMTAB (absent names, or a missing or malformed table, give none). */
function readSymbols(
  bytes: Uint8Array,
  dv: DataView,
  shoff: number,
  shentsize: number,
  shnum: number,
  names: readonly string[],
): Map<string, bigint> {
  const found = new Map<string, bigint>();
  if (shoff === 0 || shentsize < ELF64_SHDR_BYTES || shoff + shnum * shentsize > bytes.length) return found;
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: dv.getUint32(at + 4, true),
      offset: Number(dv.getBigUint64(at + 24, true)),
      size: Number(dv.getBigUint64(at + 32, true)),
      link: dv.getUint32(at + 40, true),
    };
  };
  const wanted = new Set(names);
  const decoder = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB || symtab.link >= shnum) continue;
    const strtab = section(symtab.link);
    if (symtab.offset + symtab.size > bytes.length || strtab.offset + strtab.size > bytes.length) return found;
    for (let at = symtab.offset; at + ELF64_SYM_BYTES <= symtab.offset + symtab.size; at += ELF64_SYM_BYTES) {
      const nameOff = dv.getUint32(at, true);
      if (nameOff === 0 || nameOff >= strtab.size) continue;
      const start = strtab.offset + nameOff;
      let end = start;
      while (end < strtab.offset + strtab.size && bytes[end] !== 0) end++;
      const name = decoder.decode(bytes.subarray(start, end));
      if (wanted.has(name) && !found.has(name)) found.set(name, dv.getBigUint64(at + 8, true));
    }
    return found;
  }
  return found;
}

/** The physical range [start, end) the program occupies. */
export function elfExtent(elf: ElfImage): { start: number; end: number } {
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const s of elf.segments) {
    start = Math.min(start, s.paddr);
    end = Math.max(end, s.paddr + s.memSizeBytes);
  }
  return { start, end };
}

/** Throws INVALID_ARGUMENT naming `fileName` when a segment lies outside RAM [ramBase, ramBase + ramBytes). */
export function checkElfFits(elf: ElfImage, ramBase: number, ramBytes: number, fileName: string): void {
  for (const s of elf.segments) {
    if (s.paddr < ramBase || s.paddr + s.memSizeBytes > ramBase + ramBytes) {
      throw bad(
        fileName,
        `segment at 0x${s.paddr.toString(16)}..0x${(s.paddr + s.memSizeBytes).toString(16)} lies outside RAM ` +
          `0x${ramBase.toString(16)}..0x${(ramBase + ramBytes).toString(16)}`,
      );
    }
  }
}

/** Copies the segments into `ram` (physical `ramBase` at index 0) and zeroes their bss; call `checkElfFits` first. */
export function loadElf(elf: ElfImage, ram: Uint8Array, ramBase: number): void {
  for (const s of elf.segments) {
    const at = s.paddr - ramBase;
    ram.set(s.fileBytes, at);
    ram.fill(0, at + s.fileBytes.length, at + s.memSizeBytes);
  }
}
