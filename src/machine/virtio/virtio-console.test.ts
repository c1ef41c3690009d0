import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CharBackend, CharInputListener } from '../devices/ports.js';
import {
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_RECEIVEQ,
  VIRTIO_CONSOLE_TRANSMITQ,
  VirtioConsole,
} from './virtio-console.js';
import { hasFeatureBit } from './virtio-device.js';
import { VIRTIO_MMIO, VirtioMmioTransport } from './virtio-mmio.js';
import { MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

function setup(maxInputBytes?: number) {
  const gram = new MockGuestRam(256 * 1024);
  const out: number[] = [];
  let listener: CharInputListener | null = null;
  const backend: CharBackend = {
    write: (bytes) => out.push(...bytes),
    setInputListener: (l) => {
      listener = l;
    },
  };
  const levels: boolean[] = [];
  let wakes = 0;
  const console = new VirtioConsole(backend, maxInputBytes);
  const t = new VirtioMmioTransport(
    {
      irq: { setLevel: (l) => levels.push(l) },
      ram: gram.ram,
      ramBase: gram.ramBase,
      wake: () => {
        wakes++;
      },
    },
    console,
  );
  const driver = new VirtioMmioDriverMock(t, gram);
  const type = (s: string) => (listener as CharInputListener | null)?.(new TextEncoder().encode(s));
  return { gram, driver, console, out, type, levels, wakes: () => wakes, listening: () => listener !== null };
}

test('virtio-console sends what the guest transmits to the backend', () => {
  const s = setup();
  assert.equal(s.driver.reg(VIRTIO_MMIO.DeviceID), 3);
  assert.equal(hasFeatureBit(s.driver.deviceFeatures(), VIRTIO_CONSOLE_F_EMERG_WRITE), true);
  s.driver.init();
  const tx = s.driver.queue(VIRTIO_CONSOLE_TRANSMITQ);
  const a = s.gram.put(new TextEncoder().encode('hello, '));
  const b = s.gram.put(new TextEncoder().encode('hvc0\n'));
  const h = tx.submit([
    { addr: a, len: 7, write: false },
    { addr: b, len: 5, write: false },
  ]);
  s.driver.kick(VIRTIO_CONSOLE_TRANSMITQ);
  assert.equal(new TextDecoder().decode(Uint8Array.from(s.out)), 'hello, hvc0\n');
  assert.deepEqual(tx.takeUsed(), [{ id: h, len: 0 }]);
});

test('virtio-console holds host input until the guest posts receive buffers, then fills them', () => {
  const s = setup();
  s.type('early ');
  s.driver.init();
  const rx = s.driver.queue(VIRTIO_CONSOLE_RECEIVEQ);
  s.type('input');
  assert.equal(s.console.pendingInputBytes, 11);
  const b1 = s.gram.alloc(8);
  const b2 = s.gram.alloc(8);
  const h1 = rx.submit([{ addr: b1, len: 8, write: true }]);
  const h2 = rx.submit([{ addr: b2, len: 8, write: true }]);
  s.driver.kick(VIRTIO_CONSOLE_RECEIVEQ);
  assert.deepEqual(rx.takeUsed(), [
    { id: h1, len: 8 },
    { id: h2, len: 3 },
  ]);
  assert.equal(new TextDecoder().decode(s.gram.view(b1, 8)), 'early in');
  assert.equal(new TextDecoder().decode(s.gram.view(b2, 3)), 'put');
  assert.equal(s.console.pendingInputBytes, 0);
  // Input arriving while a buffer waits is delivered at once, with an interrupt and a wake.
  const b3 = s.gram.alloc(8);
  const h3 = rx.submit([{ addr: b3, len: 8, write: true }]);
  s.driver.kick(VIRTIO_CONSOLE_RECEIVEQ);
  assert.deepEqual(rx.takeUsed(), []);
  s.driver.ackInterrupt();
  rx.setUsedEvent(2); // VIRTIO_F_EVENT_IDX is on: ask for an interrupt at the next used buffer
  const wakes = s.wakes();
  s.type('x');
  assert.deepEqual(rx.takeUsed(), [{ id: h3, len: 1 }]);
  assert.equal(s.levels.at(-1), true);
  assert.equal(s.wakes(), wakes + 1);
});

test('virtio-console bounds held input, writes emerg_wr, and detaches on dispose', () => {
  const s = setup(4);
  s.type('abcdef');
  assert.equal(s.console.pendingInputBytes, 4);
  assert.deepEqual(s.console.save(), { version: 1, input: [97, 98, 99, 100] });
  s.driver.dev.write(VIRTIO_MMIO.Config + 8, 4, 0x21);
  assert.deepEqual(s.out, [0x21]);
  s.console.dispose();
  assert.equal(s.listening(), false);
});
