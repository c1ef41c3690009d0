import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bus } from './bus.js';
import type { MmioDevice } from './devices/mmio-device.js';

class Recorder implements MmioDevice {
  log: string[] = [];
  read(offset: number, size: number): number {
    this.log.push(`r ${offset.toString(16)}/${size}`);
    return 0xdead_beef;
  }
  write(offset: number, size: number, value: number): void {
    this.log.push(`w ${offset.toString(16)}/${size}=${value.toString(16)}`);
  }
}

describe('Bus', () => {
  it('routes by window with offsets relative to the base, masking to the access size', () => {
    const bus = new Bus();
    const a = new Recorder();
    const b = new Recorder();
    bus.map('a', { base: 0x1000, sizeBytes: 0x100 }, a);
    bus.map('b', { base: 0x10_0000, sizeBytes: 0x1000 }, b);
    assert.equal(bus.read(0x1004, 4), 0xdead_beef);
    assert.equal(bus.read(0x1004, 1), 0xef);
    assert.equal(bus.read(0x1004, 2), 0xbeef);
    bus.write(0x10_0ffc, 2, 0x1_2345);
    assert.deepEqual(a.log, ['r 4/4', 'r 4/1', 'r 4/2']);
    assert.deepEqual(b.log, ['w ffc/2=2345']);
  });

  it('reads 0 and ignores writes where nothing is mapped', () => {
    const bus = new Bus();
    const a = new Recorder();
    bus.map('a', { base: 0x1000, sizeBytes: 0x100 }, a);
    assert.equal(bus.read(0x1100, 4), 0);
    assert.equal(bus.read(0xfff, 1), 0);
    bus.write(0x2000, 4, 1);
    assert.deepEqual(a.log, []);
  });

  it('refuses overlapping or duplicate windows, and replaces a device by name', () => {
    const bus = new Bus();
    bus.map('a', { base: 0x1000, sizeBytes: 0x100 }, new Recorder());
    assert.throws(() => bus.map('b', { base: 0x10f0, sizeBytes: 0x100 }, new Recorder()), { code: 'INTERNAL' });
    assert.throws(() => bus.map('a', { base: 0x9000, sizeBytes: 0x100 }, new Recorder()), { code: 'INTERNAL' });
    const c = new Recorder();
    bus.read(0x1000, 4);
    bus.replace('a', c);
    bus.read(0x1000, 4);
    assert.deepEqual(c.log, ['r 0/4']);
    assert.throws(() => bus.replace('zz', c), { code: 'NOT_FOUND' });
  });
});
