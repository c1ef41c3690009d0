import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StopReason } from '../../src/machine/cpu/hart-port.js';
import { WasmHart } from '../../src/machine/cpu/wasm-hart.js';
import type { CharBackend } from '../../src/machine/devices/ports.js';
import { VirtMachine } from '../../src/machine/virt-machine.js';
import { REPO_ROOT } from '../helpers/strata-cli.js';
import { buildIsaPrograms } from '../isa/build.js';

// Whatever a guest does (garbage instructions, wild MMIO, page-table garbage) must end in guest traps or a
// reported guest state, never a host exception or a host hang. These runs feed the real hart and board seeded
// random memory images and check that every step returns within its budget.

const hartModule = new WebAssembly.Module(readFileSync(join(REPO_ROOT, 'build', 'hart.wasm')));
const [program] = buildIsaPrograms(['selftest-pass']);

/** xorshift32: a small deterministic generator, so a failing seed can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function machine(): VirtMachine {
  assert.ok(program);
  const console: CharBackend = { write: () => {}, setInputListener: () => {} };
  return VirtMachine.create(
    {
      memoryBytes: 16 * 1024 * 1024,
      kernel: new Uint8Array(readFileSync(program.elf)),
      cmdline: '',
      console,
      clock: { monotonicNs: () => performance.now() * 1e6, wallClockNs: () => Date.now() * 1e6 },
    },
    (mmio, ramBytes) => WasmHart.create(hartModule, { ramBytes, mmio }),
  );
}

/** Runs `steps` slices; every slice must return a StopReason, and the machine must stay usable. */
function runChaos(m: VirtMachine, steps: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < steps && m.powerState === 'running'; i++) {
    const r = m.step(20_000);
    assert.ok(r >= StopReason.Budget && r <= StopReason.Fault, `step returned ${r}`);
    seen[StopReason[r] ?? r] = (seen[StopReason[r] ?? r] ?? 0) + 1;
    if (r === StopReason.Wfi) m.hart.setExternalInterrupt('machine', true);
    if (r === StopReason.Fault) break;
  }
  return seen;
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`random instruction words (seed ${seed}) trap inside the guest, never in the host`, () => {
    const m = machine();
    const next = rng(seed);
    const ram = m.hart.ram;
    // 32-bit words whose low two bits say "32-bit instruction" half the time, compressed encodings otherwise.
    for (let i = 0; i + 4 <= 256 * 1024; i += 4) {
      const w = next();
      const word = i % 8 === 0 ? (w | 3) >>> 0 : w;
      ram[i] = word & 0xff;
      ram[i + 1] = (word >>> 8) & 0xff;
      ram[i + 2] = (word >>> 16) & 0xff;
      ram[i + 3] = word >>> 24;
    }
    m.hart.reset(0x8000_0000);
    // mtvec and stvec point back into the random code; registers hold wild addresses (MMIO, holes, RAM).
    for (let r = 1; r < 32; r++) m.hart.setReg(r, (next() % 4 === 0 ? 0x8000_0000 : 0) + (next() % 0x1100_0000));
    const seen = runChaos(m, 200);
    assert.ok(Object.keys(seen).length > 0);
  });
}

test('wild MMIO: loads and stores of every width across the whole device window', () => {
  const m = machine();
  const next = rng(99);
  const ram = m.hart.ram;
  const view = new DataView(ram.buffer, ram.byteOffset);
  const enc = {
    lui: (rd: number, imm20: number) => ((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37,
    auipc: (rd: number, imm20: number) => ((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17,
    addi: (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13,
    store: (f3: number, rs1: number, rs2: number) => (rs2 << 20) | (rs1 << 15) | (f3 << 12) | 0x23,
    load: (f3: number, rd: number, rs1: number) => (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x03,
  };
  // The trap handler, 8 MiB into RAM, skips the faulting instruction:
  // csrr t3, mepc; addi t3, t3, 4; csrw mepc, t3; mret.
  const handlerOffset = 8 * 1024 * 1024;
  for (const [i, w] of [0x34102e73, 0x004e0e13, 0x341e1073, 0x30200073].entries()) {
    view.setUint32(handlerOffset + i * 4, w, true);
  }
  // auipc a0, handler; csrw mtvec, a0; then groups of: a random device-window address into t0, a random value into
  // t1, a store and two loads of random widths; finally a spin (j .).
  const words: number[] = [enc.auipc(10, handlerOffset >>> 12), 0x30551073];
  for (let i = 0; i < 4000; i++) {
    const addr = next() % 0x1100_0000;
    words.push(enc.lui(5, (addr + 0x800) >>> 12), enc.addi(5, 5, addr & 0xfff));
    words.push(enc.lui(6, next() >>> 12), enc.addi(6, 6, next() & 0xfff));
    const f3 = next() % 4;
    words.push(enc.store(f3, 5, 6), enc.load(f3, 7, 5), enc.load(4 + (next() % 3), 7, 5));
  }
  words.push(0x0000006f);
  for (const [i, w] of words.entries()) view.setUint32(i * 4, w >>> 0, true);
  m.hart.reset(0x8000_0000);
  runChaos(m, 400);
  // Every access was done or trapped and skipped, and the program reached its final spin.
  assert.equal(m.powerState, 'running');
  assert.equal(m.hart.getPc(), 0x8000_0000 + (words.length - 1) * 4);
});

test('page-table garbage: satp pointing at random memory in S-mode traps inside the guest', () => {
  const m = machine();
  const next = rng(7);
  const ram = m.hart.ram;
  for (let i = 0; i < ram.length; i += 4) new DataView(ram.buffer, ram.byteOffset).setUint32(i, next(), true);
  // Program at the base: satp = Sv39 (mode 8, RISC-V privileged spec §10.1.11) with the root table in the random
  // RAM, mstatus.MPP = S, mepc = a random address, mret: every fetch and access then walks garbage PTEs.
  const I = (imm: number, rs1: number, f3: number, rd: number, op: number) =>
    (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
  const T0 = 5;
  const T1 = 6;
  const T2 = 7;
  const code = [
    ((0x80 << 12) | (T0 << 7) | 0x37) >>> 0, // lui t0, 0x80: root PPN 0x80000 (RAM base)
    I(next() & 0x7ff, T0, 0, T0, 0x13), // addi t0, t0, random: somewhere in the random pages
    I(8, 0, 0, T1, 0x13), // addi t1, zero, 8
    I(60, T1, 1, T1, 0x13), // slli t1, t1, 60
    ((T1 << 20) | (T0 << 15) | (6 << 12) | (T0 << 7) | 0x33) >>> 0, // or t0, t0, t1
    I(0x180, T0, 1, 0, 0x73), // csrw satp, t0
    ((1 << 12) | (T2 << 7) | 0x37) >>> 0, // lui t2, 1
    I(-2048, T2, 0, T2, 0x1b), // addiw t2, t2, -2048: 0x800 = MPP bit 11 (S-mode)
    I(0x300, T2, 2, 0, 0x73), // csrs mstatus, t2
    (((next() >>> 12) << 12) | (T0 << 7) | 0x37) >>> 0, // lui t0, random: a random virtual address
    I(0x341, T0, 1, 0, 0x73), // csrw mepc, t0
    0x30200073, // mret
  ];
  for (const [i, w] of code.entries()) new DataView(ram.buffer, ram.byteOffset).setUint32(i * 4, w >>> 0, true);
  m.hart.reset(0x8000_0000);
  const seen = runChaos(m, 200);
  assert.ok(Object.keys(seen).length > 0);
});
