import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hartCsrSuite } from './hart-csr.suite.js';
import { hartIsaSuite } from './hart-isa.suite.js';
import { StopReason } from './hart-port.js';
import { hartPortSuite } from './hart-port.suite.js';
import { hartPrivSuite } from './hart-priv.suite.js';
import type { HartState } from './hart-state.js';
import { assemble, type HartFactory, RAM_BASE, TOHOST } from './hart-test-kit.suite.js';
import { WasmHart } from './wasm-hart.js';

const wasmModule = new WebAssembly.Module(readFileSync(new URL('../../../build/hart.wasm', import.meta.url)));
const factory: HartFactory = (opts) => WasmHart.create(wasmModule, opts);

hartIsaSuite(factory);
hartPrivSuite(factory);
hartCsrSuite(factory);
hartPortSuite(factory);

// The interpreter's speed is measured by bench/hart-mips.ts (`npm run bench`), not in the pass/fail suite.

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

test('saveState/restoreState: the PMP configuration is restored and enforced', () => {
  // Entry 0 = NAPOT over the first 64 KiB of RAM (code, tohost), RWX: the only memory S-mode may use. The S-mode
  // code at +0x200 loads from 0x8004_0000, which no entry covers: a load access fault (cause 5). A restored hart
  // that lost the configuration would fault on the fetch instead (cause 1).
  const program = assemble(`
    .option norvc
    la t0, after
    csrw mtvec, t0
    li t0, (0x80000000 >> 2) | 0x1fff
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, s_spin
    csrw mepc, t0
    mret
s_spin:
    j s_spin
after:
    csrr s4, mcause
    csrr s5, mtval
    EXIT
    .org 0x200
s_load:
    li t0, 0x80040000
    ld t1, 0(t0)
    li s3, 99
    j s_load
  `);
  const mmio = { read: () => 0, write: () => {} };
  const first = factory({ ramBytes: 1 << 20, mmio }) as WasmHart;
  first.ram.set(program, 0);
  first.reset(RAM_BASE);
  first.setHtif(TOHOST);
  assert.equal(first.run(100), StopReason.Budget);
  assert.equal(first.privilege(), 1, 'spinning in S-mode inside the open region');
  const state: HartState = JSON.parse(JSON.stringify(first.saveState()));
  assert.equal(BigInt(state.pmpcfg[0] ?? 0), 0x1fn);
  const h = factory({ ramBytes: 1 << 20, mmio }) as WasmHart;
  h.ram.set(first.ram.slice(), 0);
  h.restoreState(state);
  h.setPc(RAM_BASE + 0x200);
  assert.equal(h.run(1000), StopReason.Htif);
  assert.equal(h.htifToHost(), 1);
  assert.equal(h.getReg(20), 5, 'load access fault');
  assert.equal(h.getReg(21), 0x8004_0000);
  assert.equal(h.getReg(19), 0, 'the load did not complete');
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

test('host-clock timer: the interrupt check reads the clock about once per 8192 instructions, and a due timer is taken within that window', () => {
  // The host clock of this test is the hart's own instruction count, so a deadline is an instruction number.
  let reads = 0;
  let hart: WasmHart | undefined;
  const nowTicks = () => {
    reads++;
    return hart ? hart.instret() : 0;
  };
  hart = WasmHart.create(wasmModule, { ramBytes: 1 << 20, mmio: { read: () => 0, write: () => {} }, nowTicks });
  const deadline = 200_000;
  hart.ram.set(
    assemble(`
    .option norvc
    la t0, mtrap
    csrw mtvec, t0
    li t1, 0x02004000
    li t2, ${deadline}
    sd t2, 0(t1)
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
1:  addi a0, a0, 1
    j 1b
.balign 4
mtrap:
    csrr s1, minstret
    csrr s2, mcause
    EXIT
  `),
    0,
  );
  hart.reset(RAM_BASE);
  hart.setHtif(TOHOST);
  reads = 0;
  assert.equal(hart.run(1_000_000), StopReason.Htif);
  assert.equal(hart.getRegLo(18), 7, 'machine timer interrupt');
  const latency = hart.getReg(9) - deadline;
  assert.ok(latency >= 0 && latency <= 8192 + 1024, `timer taken ${latency} instructions after its deadline`);
  // One read per 1024-instruction chunk would be about 200; polling every 8192 instructions needs about 25.
  assert.ok(reads <= 40, `${reads} clock reads for ${deadline} instructions`);
});
