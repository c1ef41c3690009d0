// Interpreter speed of the WebAssembly hart on a tight integer loop (ALU ops, a store and a load through the TLB
// fast path, a taken branch), in millions of guest instructions per second. No device, no firmware: just the loop.
// Run alone: `node --import tsx bench/hart-mips.ts [path/to/hart.wasm ...]` (compares builds side by side).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StopReason } from '../src/machine/cpu/hart-port.js';
import { assemble, makeHart, RAM_BASE, TOHOST } from '../src/machine/cpu/hart-test-kit.suite.js';
import { WasmHart } from '../src/machine/cpu/wasm-hart.js';

/** The compiled hart this repository builds (`node scripts/build.mjs`). */
export const HART_WASM = new URL('../build/hart.wasm', import.meta.url);

/** Guest iterations of the integer loop (7 instructions each). */
const ITERATIONS = 20_000_000;

/** The integer loop: 7 instructions per iteration, one of them a load and one a store to the same RAM word. */
const LOOP = `
    li a0, 0
    li a1, ${ITERATIONS}
    li s0, 0x80020000
1:  addi a0, a0, 1
    add a2, a2, a0
    xor a3, a3, a2
    slli a4, a3, 1
    sd a4, 0(s0)
    ld a5, 0(s0)
    bne a0, a1, 1b
    EXIT
`;

/** Guest iterations of the SHA-256-like loop (18 instructions each). */
const ITERATIONS_32 = 8_000_000;

/**
 * A SHA-256-like round: 32-bit rotates built from SRLIW/SLLIW/OR (RV64GC has no rotate), ADDW, XOR/AND, a word
 * load and store through a 256-byte table, assembled with compressed instructions where they exist, as Debian's
 * busybox sha256sum is.
 */
const LOOP_32 = `
    li a0, 0
    li a1, ${ITERATIONS_32}
    li s0, 0x80020000
1:  andi t0, a0, 63
    slli t0, t0, 2
    add t0, t0, s0
    lw t1, 0(t0)
    srliw t2, a2, 6
    slliw t3, a2, 26
    or t2, t2, t3
    srliw t4, a2, 11
    slliw t5, a2, 21
    or t4, t4, t5
    xor t2, t2, t4
    addw a2, a2, t1
    addw a2, a2, t2
    and t6, a2, a3
    xor a3, a3, t6
    sw a2, 0(t0)
    addi a0, a0, 1
    bne a0, a1, 1b
    EXIT
`;

/** Best-of-`repeats` speed of one program, in MIPS, by wall time and by this process's CPU time. */
async function bestMips(
  module: WebAssembly.Module,
  program: Uint8Array,
  repeats: number,
): Promise<{ wall: number; cpu: number }> {
  let wall = 0;
  let cpu = 0;
  for (let i = 0; i < repeats; i++) {
    const hart = makeHart((opts) => WasmHart.create(module, opts));
    hart.ram.set(program, 0);
    hart.reset(RAM_BASE);
    hart.setHtif(TOHOST);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let stop = StopReason.Budget;
    while (stop === StopReason.Budget) stop = hart.run(10_000_000);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (stop !== StopReason.Htif) throw new Error(`hart-mips: the loop stopped with ${StopReason[stop]}`);
    wall = Math.max(wall, hart.instret() / ms / 1000);
    cpu = Math.max(cpu, hart.instret() / (c.user + c.system));
    // Let other work (and the event loop) breathe between runs.
    await new Promise((r) => setImmediate(r));
  }
  return { wall, cpu };
}

/**
 * Runs each loop `repeats` times on a fresh hart and reports the best run (the machine running the benchmark is
 * usually shared, so the fastest run is the least disturbed one): `mips` for the integer loop, `mips32` for the
 * SHA-256-like one, by wall time; the `Cpu` figures divide by the CPU time of this process instead, which is
 * steadier on a busy machine.
 */
export async function measureHartMips(
  wasm: URL | string = HART_WASM,
  repeats = 3,
): Promise<{ mips: number; mips32: number; mipsCpu: number; mips32Cpu: number }> {
  const module = new WebAssembly.Module(readFileSync(wasm));
  const a = await bestMips(module, assemble(LOOP), repeats);
  const b = await bestMips(module, assemble(LOOP_32), repeats);
  return { mips: a.wall, mips32: b.wall, mipsCpu: a.cpu, mips32Cpu: b.cpu };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const builds = process.argv.length > 2 ? process.argv.slice(2) : [fileURLToPath(HART_WASM)];
  for (const b of builds) {
    const r = await measureHartMips(b, 5);
    process.stdout.write(
      `${b}: integer loop ${r.mips.toFixed(0)} MIPS (${r.mipsCpu.toFixed(0)} per CPU second), ` +
        `sha256-like ${r.mips32.toFixed(0)} MIPS (${r.mips32Cpu.toFixed(0)} per CPU second)\n`,
    );
  }
}
