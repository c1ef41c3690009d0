// Conformance suite for any HartPort implementation: the port contract itself (stop reasons, HTIF, faults,
// reset, registers, timer queries).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StopReason } from './hart-port.js';
import { assemble, type HartFactory, makeHart, RAM_BASE, TOHOST } from './hart-test-kit.suite.js';

/** Registers the HartPort contract tests for harts made by `factory`. */
export function hartPortSuite(factory: HartFactory): void {
  test('port: HTIF stops on a non-zero store to tohost of any width, also after other stores to its page', () => {
    const h = makeHart(factory);
    h.ram.set(
      assemble(`
      li t0, ${TOHOST}
      li t1, 0x55
      sd t1, 8(t0)
      sd t1, -8(t0)
      sd zero, 0(t0)
      li t1, 0x1235
      sw t1, 0(t0)
1:    j 1b
    `),
      0,
    );
    h.reset(RAM_BASE);
    h.setHtif(TOHOST);
    assert.equal(h.run(1000), StopReason.Htif);
    assert.equal(h.htifToHost(), 0x1235);
    assert.equal(h.run(1000), StopReason.Budget, 'runs on after the stop');
  });

  test('port: a non-exit HTIF command (even value) stops once, retires the store and the hart goes on', () => {
    // riscv-tests HTIF: only odd values are exits; the host acknowledges other commands by clearing tohost
    // (virt-machine.ts onHtif), and the program may wait for that.
    const h = makeHart(factory);
    h.ram.set(
      assemble(`
      li t0, ${TOHOST}
      li s0, 0
      li t1, 0x100
      sd t1, 0(t0)
      addi s0, s0, 1
2:    ld t2, 0(t0)
      bnez t2, 2b
      addi s0, s0, 1
      li t1, 1
      sd t1, 0(t0)
1:    j 1b
    `),
      0,
    );
    h.reset(RAM_BASE);
    h.setHtif(TOHOST);
    assert.equal(h.run(1000), StopReason.Htif);
    assert.equal(h.htifToHost(), 0x100);
    // Stopped right after the store: the store retired (5 instructions: li expands to lui+addiw for TOHOST).
    const storePc = h.getPc();
    assert.equal(h.getReg(8), 0, 'nothing after the store ran');
    const ramTohost = TOHOST - RAM_BASE;
    assert.deepEqual([...h.ram.subarray(ramTohost, ramTohost + 8)], [0, 1, 0, 0, 0, 0, 0, 0]);
    // Not cleared yet: the program keeps polling and no second stop comes.
    assert.equal(h.run(1000), StopReason.Budget);
    assert.equal(h.getReg(8), 1);
    assert.notEqual(h.getPc(), storePc);
    h.ram.fill(0, ramTohost, ramTohost + 8);
    assert.equal(h.run(1000), StopReason.Htif);
    assert.equal(h.htifToHost(), 1);
    assert.equal(h.getReg(8), 2);
  });

  test('port: a trap with no usable handler stops with Fault and explains it', () => {
    const h = makeHart(factory);
    h.ram.set(assemble('.word 0xffffffff'), 0);
    h.reset(RAM_BASE);
    assert.equal(h.run(1000), StopReason.Fault);
    assert.match(h.faultText(), /instruction access fault at pc 0x0/);
  });

  test('port: reset, registers, pc, instret and the timer queries', () => {
    let now = 5_000;
    const h = makeHart(factory, { nowTicks: () => now });
    h.ram.set(
      assemble(`
      addi a0, a0, 1
      li t0, 0x02004000
      li t1, 9000
      sd t1, 0(t0)
      li t0, 0x80
      csrs mie, t0
1:    j 1b
    `),
      0,
    );
    h.reset(RAM_BASE);
    h.setReg(10, -2);
    h.setReg(0, 7);
    assert.equal(h.getReg(0), 0);
    assert.equal(h.getPc(), RAM_BASE);
    assert.equal(h.ticksUntilTimer(), Number.POSITIVE_INFINITY, 'MTIE off');
    assert.equal(h.mtime(), 5_000);
    const before = h.instret();
    assert.equal(h.run(100), StopReason.Budget);
    assert.equal(h.instret() - before, 100);
    assert.equal(h.getReg(10), -1);
    assert.equal(h.ticksUntilTimer(), 4_000);
    now = 20_000;
    assert.equal(h.ticksUntilTimer(), 0);
    h.reset(RAM_BASE + 4);
    assert.equal(h.getReg(10), 0, 'reset clears registers');
    assert.equal(h.getPc(), RAM_BASE + 4);
    assert.equal(h.privilege(), 3);
  });
}
