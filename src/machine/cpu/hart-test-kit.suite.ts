// Test kit shared by the hart conformance suites: assembles programs with Debian's RISC-V binutils, loads them
// into any HartPort implementation (the interpreter now, a JIT later) and runs them to the HTIF stop.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HartPort, type MmioHandler, StopReason } from './hart-port.js';

/** What the suites need from a hart beyond HartPort: exact register halves, the privilege and CSR peeks. */
export interface SuiteHart extends HartPort {
  getRegLo(index: number): number;
  getRegHi(index: number): number;
  privilege(): number;
  readCsr(csr: number): number | undefined;
}

/** Options a suite passes to the hart factory. */
export interface SuiteHartOptions {
  ramBytes: number;
  mmio: MmioHandler;
  nowTicks?: () => number;
  instructionsPerTick?: number;
}

/** Makes a fresh hart for one test. */
export type HartFactory = (opts: SuiteHartOptions) => SuiteHart;

/** Guest physical RAM base of the `virt` board. */
export const RAM_BASE = 0x8000_0000;
/** Where the test programs' tohost lives. */
export const TOHOST = 0x8001_0000;

/**
 * Assembler prelude: EXIT writes 1 to tohost; FAIL writes (n << 1) | 1 for n >= 1. PMP_OPEN (clobbers t6) makes
 * PMP entry 0 a NAPOT region over all memory with R/W/X, which a program needs before it runs in S or U: with
 * PMP implemented and no entry matching, S/U accesses fail (privileged spec §3.7.1), as on hardware after reset.
 */
export const PRELUDE = `
.macro EXIT
  li t6, ${TOHOST}
  li t5, 1
  sd t5, 0(t6)
1: j 1b
.endm
.macro FAIL n
  li t6, ${TOHOST}
  li t5, (\\n << 1) | 1
  sd t5, 0(t6)
1: j 1b
.endm
.macro PMP_OPEN
  li t6, -1
  csrw pmpaddr0, t6
  li t6, 0x1f
  csrw pmpcfg0, t6
.endm
.section .text
.globl _start
_start:
`;

/** Assembles and links `src` at RAM_BASE with Debian's cross binutils; returns the flat binary. */
export function assemble(src: string, march = 'rv64imac_zicsr_zifencei'): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'strata-hart-'));
  try {
    writeFileSync(join(dir, 'a.s'), PRELUDE + src + '\n');
    execFileSync('riscv64-linux-gnu-as', [`-march=${march}`, '-mabi=lp64', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('riscv64-linux-gnu-ld', [
      '-Ttext=0x80000000',
      '--no-relax',
      '-o',
      join(dir, 'a.elf'),
      join(dir, 'a.o'),
    ]);
    execFileSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', join(dir, 'a.elf'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Accesses seen by a mock MMIO handler. */
export interface MmioLog {
  reads: Array<[number, number]>;
  writes: Array<[number, number, number]>;
}

/** A hart with 4 MiB of RAM (unless told otherwise) and an MMIO bus that reads 0. */
export function makeHart(
  factory: HartFactory,
  opts: { ramBytes?: number; mmio?: MmioHandler; instructionsPerTick?: number; nowTicks?: () => number } = {},
): SuiteHart {
  const o: SuiteHartOptions = {
    ramBytes: opts.ramBytes ?? 4 * 1024 * 1024,
    mmio: opts.mmio ?? { read: () => 0, write: () => {} },
    instructionsPerTick: opts.instructionsPerTick ?? 0,
  };
  if (opts.nowTicks) o.nowTicks = opts.nowTicks;
  return factory(o);
}

/** Loads a program at RAM_BASE, runs it to the HTIF stop, asserts it passed, returns the hart. */
export function runProgram(
  factory: HartFactory,
  src: string,
  opts: {
    march?: string;
    mmio?: MmioHandler;
    ramBytes?: number;
    instructionsPerTick?: number;
    budget?: number;
    setup?: (h: SuiteHart) => void;
  } = {},
): SuiteHart {
  const hart = makeHart(factory, opts);
  hart.ram.set(assemble(src, opts.march), 0);
  hart.reset(RAM_BASE);
  hart.setHtif(TOHOST);
  opts.setup?.(hart);
  let stop = StopReason.Budget;
  const budget = opts.budget ?? 1_000_000;
  for (let i = 0; i < 100 && stop === StopReason.Budget; i++) stop = hart.run(budget / 100);
  assert.equal(stop, StopReason.Htif, `program did not reach tohost (stop ${stop}, pc 0x${hart.getPc().toString(16)})`);
  assert.equal(hart.htifToHost(), 1, `program failed with code ${hart.htifToHost() >>> 1}`);
  return hart;
}

/** x`r` as [lo, hi] unsigned halves. */
export function reg64(h: SuiteHart, r: number): [number, number] {
  return [h.getRegLo(r), h.getRegHi(r)];
}

/** Register numbers of s0..s11. */
export const S = [8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]; // s0..s11

/** Reads a little-endian u64 of RAM as [lo, hi]. */
export function ramU64(h: SuiteHart, pa: number): [number, number] {
  const dv = new DataView(h.ram.buffer, h.ram.byteOffset);
  const off = pa - RAM_BASE;
  return [dv.getUint32(off, true), dv.getUint32(off + 4, true)];
}

/** Writes a little-endian u64 into RAM. */
export function writeRamU64(h: SuiteHart, pa: number, lo: number, hi = 0): void {
  const dv = new DataView(h.ram.buffer, h.ram.byteOffset);
  const off = pa - RAM_BASE;
  dv.setUint32(off, lo >>> 0, true);
  dv.setUint32(off + 4, hi >>> 0, true);
}

/** Trap log written by the M-mode handler of the privilege tests: (cause lo, cause hi, tval lo, tval hi) x n. */
export const LOG = 0x8030_0000;

/** An M-mode handler that logs mcause/mtval, stops on any ECALL, and otherwise skips the instruction. */
export const M_LOGGING_HANDLER = `
.balign 4
mtrap:
    li t3, ${LOG}
    slli t4, a7, 4
    add t3, t3, t4
    csrr t4, mcause
    sd t4, 0(t3)
    csrr t4, mtval
    sd t4, 8(t3)
    addi a7, a7, 1
    csrr t4, mcause
    li t5, 8
    beq t4, t5, 8f
    li t5, 9
    beq t4, t5, 8f
    li t5, 11
    bne t4, t5, 9f
8:  EXIT
9:  csrr t4, mepc
    addi t4, t4, 4
    csrw mepc, t4
    mret
`;

/** Entry `i` of the trap log. */
export function logEntry(h: SuiteHart, i: number): { cause: [number, number]; tval: [number, number] } {
  return { cause: ramU64(h, LOG + i * 16), tval: ramU64(h, LOG + i * 16 + 8) };
}
