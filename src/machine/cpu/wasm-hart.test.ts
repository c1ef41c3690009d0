import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hartCsrSuite } from './hart-csr.suite.js';
import { hartIsaSuite } from './hart-isa.suite.js';
import { StopReason } from './hart-port.js';
import { hartPortSuite } from './hart-port.suite.js';
import { hartPrivSuite } from './hart-priv.suite.js';
import type { HartState } from './hart-state.js';
import { assemble, type HartFactory, makeHart, RAM_BASE, TOHOST } from './hart-test-kit.suite.js';
import { WasmHart } from './wasm-hart.js';

const wasmModule = new WebAssembly.Module(readFileSync(new URL('../../../build/hart.wasm', import.meta.url)));
const factory: HartFactory = (opts) => WasmHart.create(wasmModule, opts);

hartIsaSuite(factory);
hartPrivSuite(factory);
hartCsrSuite(factory);
hartPortSuite(factory);

test('benchmark: integer loop MIPS (printed, not asserted)', () => {
  const iterations = 20_000_000;
  const hart = makeHart(factory);
  hart.ram.set(
    assemble(`
    li a0, 0
    li a1, ${iterations}
    li s0, 0x80020000
1:  addi a0, a0, 1
    add a2, a2, a0
    xor a3, a3, a2
    slli a4, a3, 1
    sd a4, 0(s0)
    ld a5, 0(s0)
    bne a0, a1, 1b
    EXIT
  `),
    0,
  );
  hart.reset(RAM_BASE);
  hart.setHtif(TOHOST);
  const t0 = performance.now();
  let stop = StopReason.Budget;
  while (stop === StopReason.Budget) stop = hart.run(10_000_000);
  const ms = performance.now() - t0;
  assert.equal(stop, StopReason.Htif);
  const mips = hart.instret() / ms / 1000;
  process.stdout.write(
    `# hart benchmark: ${hart.instret()} instructions in ${ms.toFixed(1)} ms = ${mips.toFixed(0)} MIPS\n`,
  );
});

test('saveState/restoreState: a run split across two harts ends like an uninterrupted run', () => {
  const program = assemble(
    `
    .option norvc
    la t0, mtrap
    csrw mtvec, t0
    li t0, 1 << 13
    csrs mstatus, t0
    li t1, 0x0200bff8
    ld t2, 0(t1)
    addi t2, t2, 300
    li t3, 0x02004000
    sd t2, 0(t3)
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
    li s0, 0
    li s1, 20000
1:  addi s0, s0, 1
    fcvt.d.l f1, s0
    bne s0, s1, 1b
    EXIT
.balign 4
mtrap:
    addi s2, s2, 1
    li t2, -1
    li t3, 0x02004000
    sd t2, 0(t3)
    mret
  `,
    'rv64imafdc_zicsr_zifencei',
  );
  const runAll = (split: boolean): WasmHart => {
    let h = factory({
      ramBytes: 1 << 20,
      mmio: { read: () => 0, write: () => {} },
      instructionsPerTick: 1,
    }) as WasmHart;
    h.ram.set(program, 0);
    h.reset(RAM_BASE);
    h.setHtif(TOHOST);
    let stop = h.run(7_000);
    assert.equal(stop, StopReason.Budget);
    if (split) {
      const state: HartState = JSON.parse(JSON.stringify(h.saveState()));
      const ram = h.ram.slice();
      h = factory({ ramBytes: 1 << 20, mmio: { read: () => 0, write: () => {} } }) as WasmHart;
      h.ram.set(ram, 0);
      h.restoreState(state);
    }
    for (let i = 0; i < 100 && stop !== StopReason.Htif; i++) stop = h.run(10_000);
    assert.equal(stop, StopReason.Htif);
    return h;
  };
  const a = runAll(false);
  const b = runAll(true);
  assert.equal(a.getReg(8), 20000);
  assert.equal(a.getReg(18), 1, 'one timer interrupt');
  assert.deepEqual(b.saveState().x, a.saveState().x);
  assert.deepEqual(b.saveState().f, a.saveState().f);
  assert.equal(b.instret(), a.instret());
  const bad = { ...a.saveState(), x: ['0x1'] };
  assert.throws(() => b.restoreState(bad as HartState), /x must list 32 values/);
});

test('random instruction streams in random privilege and translation states never trap the host', () => {
  let seed = 0x1234_5678;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const h = factory({
    ramBytes: 1 << 20,
    mmio: { read: (a) => a, write: () => {} },
    instructionsPerTick: 3,
  }) as WasmHart;
  const words = new Uint32Array(h.ram.buffer, h.ram.byteOffset, h.ram.length / 4);
  const ops = [0x03, 0x13, 0x23, 0x33, 0x63, 0x67, 0x6f, 0x73, 0x2f, 0x1b, 0x3b, 0x37, 0x17, 0x07, 0x27, 0x53, 0x0f];
  const csrw = (csr: number, rs: number): number => ((csr << 20) | (rs << 15) | (1 << 12) | 0x73) >>> 0;
  for (let iter = 0; iter < 60; iter++) {
    for (let i = 0; i < words.length; i++) {
      const r = rnd();
      words[i] = (rnd() & 3) === 0 ? r : (r & ~0x7f) | ops[r % ops.length]!;
    }
    for (let r = 1; r < 32; r++) h.setRegHalves(r, rnd(), rnd() & 1 ? 0 : rnd() & 3 ? 0xffff_ffff : rnd());
    // Random trap vectors, delegation, satp (page tables made of random RAM), mstatus and mie, then MRET.
    const prologue = [0x305, 0x105, 0x302, 0x303, 0x180, 0x300, 0x341, 0x304].map((csr, i) => csrw(csr, 5 + i));
    const at = rnd() % 4000;
    [...prologue, 0x30200073].forEach((w, i) => {
      words[at + i] = w;
    });
    const ramAddress = (): number => RAM_BASE + ((rnd() % (1 << 20)) & ~3);
    h.setRegHalves(5, ramAddress(), 0);
    h.setRegHalves(6, ramAddress(), 0);
    h.setRegHalves(9, 0x80000 + (rnd() % 256), rnd() & 1 ? 0x8000_0000 : 0);
    h.setRegHalves(11, ramAddress(), 0);
    h.setRegHalves(12, rnd() & 0xaaa, 0);
    h.reset(RAM_BASE + at * 4);
    for (let k = 0; k < 10; k++) {
      const stop = h.run(2_000);
      assert.ok(stop >= StopReason.Budget && stop <= StopReason.Fault);
      if (stop !== StopReason.Budget) break;
    }
  }
});

test('a hart can run in a memory made elsewhere (VMM thread) whose RAM view aliases the hart RAM', () => {
  const memory = WasmHart.createMemory(1 << 20);
  const outside = WasmHart.ramView(memory, 1 << 20);
  const h = WasmHart.create(wasmModule, { ramBytes: 1 << 20, mmio: { read: () => 0, write: () => {} }, memory });
  outside.set(assemble('li a0, 42\n1: j 1b'), 0);
  h.reset(RAM_BASE);
  h.run(10);
  assert.equal(h.getReg(10), 42);
  assert.throws(
    () => WasmHart.create(wasmModule, { ramBytes: 2 << 20, mmio: { read: () => 0, write: () => {} }, memory }),
    /does not match/,
  );
  assert.throws(() => WasmHart.createMemory(1000), /not a positive multiple of 64 KiB/);
});
