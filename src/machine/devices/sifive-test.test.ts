import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PowerEvent, SifiveTest } from './sifive-test.js';
import { VirtioMmioEmptySlot } from './virtio-mmio-empty.js';

describe('SiFive test device', () => {
  it('reports pass, reset and fail with code; ignores everything else', () => {
    const events: PowerEvent[] = [];
    const dev = new SifiveTest((e) => events.push(e));
    dev.write(0, 4, 0x5555);
    dev.write(0, 4, 0x7777);
    dev.write(0, 4, 0x3333 | (42 << 16));
    dev.write(0, 4, 0x1234);
    dev.write(4, 4, 0x5555);
    dev.write(0, 1, 0x55);
    dev.write(0, 2, 0x5555); // OpenSBI's sifive_test driver writes 16 bits
    assert.deepEqual(events, [
      { kind: 'poweroff' },
      { kind: 'reset' },
      { kind: 'fail', code: 42 },
      { kind: 'poweroff' },
    ]);
    assert.equal(dev.read(0, 4), 0);
  });
});

describe('empty virtio-mmio slot', () => {
  it('reads magic "virt", version 2 and device id 0 (virtio 1.2 §4.2.2)', () => {
    const slot = new VirtioMmioEmptySlot();
    assert.equal(slot.read(0, 4), 0x74726976);
    assert.equal(slot.read(4, 4), 2);
    assert.equal(slot.read(8, 4), 0);
    assert.equal(slot.read(0xc, 4), 0);
    slot.write(0x70, 4, 0xf);
    assert.equal(slot.read(0x70, 4), 0);
  });
});
