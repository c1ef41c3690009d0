import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Plic } from './plic.js';

const PRIORITY = (id: number) => 4 * id;
const PENDING = 0x1000;
const ENABLE = (ctx: number) => 0x2000 + 0x80 * ctx;
const THRESHOLD = (ctx: number) => 0x20_0000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x20_0004 + 0x1000 * ctx;

function setup() {
  const outputs = [false, false];
  const log: string[] = [];
  const plic = new Plic(96, 2, (ctx, asserted) => {
    outputs[ctx] = asserted;
    log.push(`${ctx}=${asserted ? 1 : 0}`);
  });
  const r = (off: number) => plic.read(off, 4);
  const w = (off: number, v: number) => plic.write(off, 4, v);
  return { plic, outputs, log, r, w };
}

describe('PLIC', () => {
  it('priority registers are 3-bit WARL, source 0 is hard-wired to 0', () => {
    const { r, w } = setup();
    w(PRIORITY(10), 0xff);
    assert.equal(r(PRIORITY(10)), 7);
    w(PRIORITY(0), 5);
    assert.equal(r(PRIORITY(0)), 0);
    w(ENABLE(1), 0xffff_ffff);
    assert.equal(r(ENABLE(1)), 0xffff_fffe);
    w(ENABLE(1) + 8, 0xffff_ffff);
    assert.equal(r(ENABLE(1) + 8), 0xffff_ffff, 'sources 64..95 exist');
  });

  it('claims the highest priority first, lowest id on ties, and completes', () => {
    const { plic, outputs, r, w } = setup();
    w(PRIORITY(10), 1);
    w(PRIORITY(11), 3);
    w(PRIORITY(1), 3);
    w(ENABLE(1), (1 << 10) | (1 << 11) | (1 << 1));
    plic.setLevel(10, true);
    assert.equal(outputs[1], true, 'S-mode context sees the UART');
    assert.equal(outputs[0], false, 'M-mode context has nothing enabled');
    plic.setLevel(11, true);
    plic.setLevel(1, true);
    assert.equal(r(PENDING), (1 << 10) | (1 << 11) | (1 << 1));
    assert.equal(r(CLAIM(1)), 1);
    assert.equal(r(CLAIM(1)), 11);
    assert.equal(r(CLAIM(1)), 10);
    assert.equal(r(CLAIM(1)), 0);
    assert.equal(outputs[1], false, 'everything is in service');
    // Completing with the line still high makes the source pending again (level-triggered gateway).
    w(CLAIM(1), 10);
    assert.equal(outputs[1], true);
    plic.setLevel(10, false);
    assert.equal(outputs[1], false, 'a line that drops before the claim withdraws the request');
    assert.equal(r(CLAIM(1)), 0);
  });

  it('an in-service source is not pending again until completed', () => {
    const { plic, outputs, r, w } = setup();
    w(PRIORITY(5), 1);
    w(ENABLE(1), 1 << 5);
    plic.setLevel(5, true);
    assert.equal(r(CLAIM(1)), 5);
    plic.setLevel(5, false);
    plic.setLevel(5, true);
    assert.equal(outputs[1], false);
    assert.equal(r(PENDING) & (1 << 5), 0);
    // A completion for a source this context does not enable is ignored.
    w(ENABLE(1), 0);
    w(CLAIM(1), 5);
    assert.equal(r(PENDING) & (1 << 5), 0);
    w(ENABLE(1), 1 << 5);
    w(CLAIM(1), 5);
    assert.equal(outputs[1], true);
  });

  it('the threshold masks priorities at or below it; priority 0 never interrupts', () => {
    const { plic, outputs, r, w } = setup();
    w(ENABLE(0), 1 << 3);
    plic.setLevel(3, true);
    assert.equal(outputs[0], false, 'priority 0');
    w(PRIORITY(3), 2);
    assert.equal(outputs[0], true);
    w(THRESHOLD(0), 2);
    assert.equal(r(THRESHOLD(0)), 2);
    assert.equal(outputs[0], false);
    assert.equal(r(CLAIM(0)), 0);
    w(THRESHOLD(0), 1);
    assert.equal(outputs[0], true);
    assert.equal(r(CLAIM(0)), 3);
  });

  it('ignores sub-word accesses, unknown contexts and bad source ids', () => {
    const { plic, log, r } = setup();
    plic.write(PRIORITY(1), 1, 7);
    assert.equal(r(PRIORITY(1)), 0);
    assert.equal(r(CLAIM(5)), 0);
    plic.setLevel(0, true);
    plic.setLevel(96, true);
    plic.setLevel(-1, true);
    assert.deepEqual(log, []);
  });
});
