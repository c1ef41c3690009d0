import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VIRTIO_MMIO, VirtioMmioTransport } from './virtio-mmio.js';
import { VIRTIO_RNG_MAX_BYTES_PER_REQUEST, VirtioRng, webCryptoRandomBytes } from './virtio-rng.js';
import { MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

function setup(random = webCryptoRandomBytes) {
  const gram = new MockGuestRam(256 * 1024);
  const levels: boolean[] = [];
  const t = new VirtioMmioTransport(
    { irq: { setLevel: (l) => levels.push(l) }, ram: gram.ram, ramBase: gram.ramBase },
    new VirtioRng(random),
  );
  const driver = new VirtioMmioDriverMock(t, gram);
  driver.init();
  return { gram, driver, q: driver.queue(0), levels };
}

test('virtio-rng fills each writable buffer from its source and interrupts', () => {
  let calls = 0;
  const s = setup((dest) => {
    calls++;
    dest.fill(0x5a);
  });
  assert.equal(s.driver.reg(VIRTIO_MMIO.DeviceID), 4);
  const a = s.gram.alloc(16);
  const b = s.gram.alloc(8);
  const h1 = s.q.submit([{ addr: a, len: 16, write: true }]);
  const h2 = s.q.submit([
    { addr: b, len: 4, write: true },
    { addr: b + 4, len: 4, write: true },
  ]);
  s.driver.kick(0);
  assert.deepEqual(s.q.takeUsed(), [
    { id: h1, len: 16 },
    { id: h2, len: 8 },
  ]);
  assert.deepEqual([...s.gram.view(a, 16)], new Array(16).fill(0x5a));
  assert.deepEqual([...s.gram.view(b, 8)], new Array(8).fill(0x5a));
  assert.equal(calls, 2);
  assert.equal(s.levels.at(-1), true);
});

test('virtio-rng caps one request and gives real entropy by default', () => {
  const s = setup();
  const big = s.gram.alloc(3 * VIRTIO_RNG_MAX_BYTES_PER_REQUEST);
  const h = s.q.submit([{ addr: big, len: 3 * VIRTIO_RNG_MAX_BYTES_PER_REQUEST, write: true }]);
  s.driver.kick(0);
  assert.deepEqual(s.q.takeUsed(), [{ id: h, len: VIRTIO_RNG_MAX_BYTES_PER_REQUEST }]);
  const got = s.gram.view(big, VIRTIO_RNG_MAX_BYTES_PER_REQUEST);
  assert.ok(new Set(got).size > 200, 'looks random');
  assert.equal(s.gram.view(big + VIRTIO_RNG_MAX_BYTES_PER_REQUEST, 1)[0], 0, 'nothing beyond the cap');
});

test('virtio-rng gives nothing for a buffer it may only read', () => {
  const s = setup();
  const h = s.q.submit([{ addr: s.gram.alloc(8), len: 8, write: false }]);
  s.driver.kick(0);
  assert.deepEqual(s.q.takeUsed(), [{ id: h, len: 0 }]);
});
