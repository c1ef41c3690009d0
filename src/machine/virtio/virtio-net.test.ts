import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VIRT_IRQ, VIRT_MEMMAP, virtioSlotBase } from '../board/virt-memmap.js';
import type { MmioHandler } from '../cpu/hart-port.js';
import type { NetBackend } from '../ports/net-backend.js';
import { FakeHart } from '../testing/fake-hart.js';
import { fakeLinuxImage } from '../testing/fake-linux-image.js';
import { VirtMachine } from '../virt-machine.js';
import { featureWords, hasFeatureBit, VIRTIO_F_VERSION_1 } from './virtio-device.js';
import { VIRTIO_MMIO, VirtioMmioTransport } from './virtio-mmio.js';
import {
  onesComplementSum,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_BYTES,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_RXQ,
  VIRTIO_NET_TXQ,
  VirtioNet,
  type VirtioNetOptions,
} from './virtio-net.js';
import { MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

/** A NetBackend for tests: records what the guest sends, lets the test push frames and switch congestion. */
class FakeBackend implements NetBackend {
  readonly mac = Uint8Array.of(0x02, 0, 0, 0, 0, 0x42);
  readonly maxFrameBytes = 1514;
  linkUp = true;
  sent: Uint8Array[] = [];
  writable = true;
  held: Uint8Array[] = [];
  resumes = 0;
  private receiver: ((f: Uint8Array) => boolean) | null = null;
  private writableCb: (() => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  canSend(): boolean {
    return this.writable;
  }
  onWritable(cb: (() => void) | null): void {
    this.writableCb = cb;
  }
  setWritable(): void {
    this.writable = true;
    this.writableCb?.();
  }
  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void {
    this.receiver = cb;
  }
  /** Delivers like a provider: frames wait in `held` while the NIC refuses them. */
  deliver(frame: Uint8Array): void {
    if (this.held.length > 0 || !this.receiver?.(frame)) this.held.push(frame);
  }
  resume(): void {
    this.resumes++;
    while (this.held.length > 0 && this.receiver?.(this.held[0]!)) this.held.shift();
  }
  async close(): Promise<void> {}
}

function setup(opts: VirtioNetOptions & { driverFeatures?: [number, number] } = {}) {
  const gram = new MockGuestRam(1024 * 1024);
  const levels: boolean[] = [];
  let wakes = 0;
  const backend = new FakeBackend();
  const net = new VirtioNet(backend, opts);
  const t = new VirtioMmioTransport(
    {
      irq: { setLevel: (l) => levels.push(l) },
      ram: gram.ram,
      ramBase: gram.ramBase,
      wake: () => {
        wakes++;
      },
    },
    net,
  );
  const driver = new VirtioMmioDriverMock(t, gram);
  driver.init(opts.driverFeatures ? { features: opts.driverFeatures } : {});
  const rx = driver.queue(VIRTIO_NET_RXQ);
  const tx = driver.queue(VIRTIO_NET_TXQ);
  /** Sends `frame` with a header (flags, csum_start, csum_offset) as one or two descriptors. */
  const send = (frame: Uint8Array, h: { flags?: number; start?: number; offset?: number; gso?: number } = {}) => {
    const hdr = new Uint8Array(VIRTIO_NET_HDR_BYTES);
    hdr[0] = h.flags ?? 0;
    hdr[1] = h.gso ?? 0;
    hdr[6] = (h.start ?? 0) & 0xff;
    hdr[7] = (h.start ?? 0) >> 8;
    hdr[8] = h.offset ?? 0;
    return tx.submit([
      { addr: gram.put(hdr), len: hdr.length, write: false },
      { addr: gram.put(frame), len: frame.length, write: false },
    ]);
  };
  /** Posts one receive buffer of `len` bytes. */
  const post = (len: number) => {
    const addr = gram.alloc(len);
    const head = rx.submit([{ addr, len, write: true }]);
    return { addr, head };
  };
  return { gram, backend, net, t, driver, rx, tx, send, post, levels, wakes: () => wakes };
}

function frame(len: number, seed = 1): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  f[6] = 0x02; // unicast source
  return f;
}

test('virtio-net offers MAC, STATUS, MRG_RXBUF, CSUM and VERSION_1 and shows the MAC and link in its config', () => {
  const s = setup();
  assert.equal(s.driver.reg(VIRTIO_MMIO.DeviceID), 1);
  const f = s.driver.deviceFeatures();
  for (const bit of [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CSUM]) {
    assert.ok(hasFeatureBit(f, bit), `feature ${bit}`);
  }
  assert.ok(hasFeatureBit(f, VIRTIO_F_VERSION_1));
  const mac = [0, 1, 2, 3, 4, 5].map((i) => s.driver.dev.read(VIRTIO_MMIO.Config + i, 1));
  assert.deepEqual(mac, [0x02, 0, 0, 0, 0, 0x42]);
  assert.equal(s.driver.dev.read(VIRTIO_MMIO.Config + 6, 2), 1, 'LINK_UP');
  s.backend.linkUp = false;
  assert.equal(s.driver.dev.read(VIRTIO_MMIO.Config + 6, 2), 0);
  const own = setup({ mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) });
  assert.equal(own.driver.dev.read(VIRTIO_MMIO.Config, 4), 0x12005452);
});

test('transmit strips the header, completes a partial checksum and interrupts', () => {
  const s = setup();
  const f = frame(60);
  const h = s.send(f);
  // A UDP-like checksum request: sum from byte 34, stored at 34 + 6.
  const g = frame(80, 9);
  g[40] = 0x12;
  g[41] = 0x34;
  const h2 = s.send(g, { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, start: 34, offset: 6 });
  s.driver.kick(VIRTIO_NET_TXQ);
  assert.deepEqual(s.tx.takeUsed(), [
    { id: h, len: 0 },
    { id: h2, len: 0 },
  ]);
  assert.equal(s.backend.sent.length, 2);
  assert.deepEqual(s.backend.sent[0], f);
  const out = s.backend.sent[1]!;
  // The receiver's check: the sum over the segment plus the pseudo-header sum the driver had put in the field.
  let check = onesComplementSum(out, 34, out.length) + 0x1234;
  check = (check & 0xffff) + (check >>> 16);
  assert.equal(check, 0xffff, 'the completed checksum verifies');
  assert.deepEqual(out.subarray(0, 34), g.subarray(0, 34));
  assert.equal(s.levels.at(-1), true);
  assert.ok(s.wakes() > 0);
  assert.equal(s.net.stats.txPackets, 2);
});

test('runt, oversized and malformed frames from the guest are counted and dropped, the device goes on', () => {
  const s = setup();
  const heads = [
    s.send(frame(10)),
    s.send(frame(1600)),
    s.send(frame(60), { gso: 1 }),
    s.send(frame(60), { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, start: 58, offset: 6 }),
    s.tx.submit([{ addr: s.gram.alloc(4), len: 4, write: false }]),
    s.send(frame(1514)),
  ];
  s.driver.kick(VIRTIO_NET_TXQ);
  assert.deepEqual(
    s.tx.takeUsed().map((u) => u.id),
    heads,
  );
  assert.equal(s.backend.sent.length, 1);
  assert.equal(s.backend.sent[0]!.length, 1514);
  assert.equal(s.net.stats.txErrors, 5);
  assert.equal(s.net.stats.txRunts, 2);
  assert.equal(s.net.stats.txOversize, 1);
});

test('a congested backend leaves frames in the ring until it is writable again', () => {
  const s = setup();
  s.backend.writable = false;
  const h = s.send(frame(60));
  s.driver.kick(VIRTIO_NET_TXQ);
  assert.deepEqual(s.tx.takeUsed(), []);
  assert.equal(s.backend.sent.length, 0);
  s.backend.setWritable();
  assert.deepEqual(s.tx.takeUsed(), [{ id: h, len: 0 }]);
  assert.equal(s.backend.sent.length, 1);
});

test('receive merges buffers with num_buffers, holds frames while there are none, resumes on notify', () => {
  const s = setup();
  const a = s.post(1000);
  const b = s.post(1000);
  const big = frame(1514, 3);
  s.backend.deliver(big);
  const used = s.rx.takeUsed();
  assert.deepEqual(used, [
    { id: a.head, len: 1000 },
    { id: b.head, len: 1514 + VIRTIO_NET_HDR_BYTES - 1000 },
  ]);
  const hdr = s.gram.view(a.addr, VIRTIO_NET_HDR_BYTES);
  assert.equal(hdr[10]! | (hdr[11]! << 8), 2, 'num_buffers');
  const got = new Uint8Array(1514);
  got.set(s.gram.view(a.addr + VIRTIO_NET_HDR_BYTES, 1000 - VIRTIO_NET_HDR_BYTES), 0);
  got.set(s.gram.view(b.addr, 1514 + VIRTIO_NET_HDR_BYTES - 1000), 1000 - VIRTIO_NET_HDR_BYTES);
  assert.deepEqual(got, big);

  // No buffers: the frame is refused (held by the backend) until the guest posts one and notifies.
  const small = frame(60, 5);
  s.backend.deliver(small);
  assert.equal(s.backend.held.length, 1);
  assert.equal(s.net.stats.rxStalls, 1);
  const c = s.post(2048);
  s.driver.kick(VIRTIO_NET_RXQ);
  assert.equal(s.backend.held.length, 0);
  assert.deepEqual(s.rx.takeUsed(), [{ id: c.head, len: 72 }]);
  assert.deepEqual(s.gram.view(c.addr + VIRTIO_NET_HDR_BYTES, 60), small);
  assert.equal(s.net.stats.rxPackets, 2);
});

test('without MRG_RXBUF each frame takes one whole buffer with num_buffers 1; a frame too big is dropped', () => {
  const s = setup({ driverFeatures: featureWords(VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_F_VERSION_1) });
  const a = s.post(200);
  s.backend.deliver(frame(300));
  assert.equal(s.net.stats.rxDropped, 1);
  assert.deepEqual(s.rx.takeUsed(), []);
  s.backend.deliver(frame(100, 4));
  assert.deepEqual(s.rx.takeUsed(), [{ id: a.head, len: 112 }]);
  const hdr = s.gram.view(a.addr, VIRTIO_NET_HDR_BYTES);
  assert.equal(hdr[10], 1);
  assert.deepEqual(s.gram.view(a.addr + VIRTIO_NET_HDR_BYTES, 100), frame(100, 4));
});

test('frames before the driver is up are dropped, and a reset forgets taken buffers', () => {
  const backend = new FakeBackend();
  const net = new VirtioNet(backend);
  backend.deliver(frame(60));
  assert.equal(backend.held.length, 0);
  assert.equal(net.stats.rxDropped, 1);
  const s = setup();
  s.post(100);
  s.backend.deliver(frame(200));
  assert.equal(s.backend.held.length, 1, 'waits for more buffers');
  s.driver.setReg(VIRTIO_MMIO.Status, 0);
  s.driver.init();
  const rx = s.driver.queue(VIRTIO_NET_RXQ);
  const head = rx.submit([{ addr: s.gram.alloc(4096), len: 4096, write: true }]);
  s.driver.kick(VIRTIO_NET_RXQ);
  assert.equal(s.backend.held.length, 0);
  assert.deepEqual(rx.takeUsed(), [{ id: head, len: 212 }]);
});

// A NIC in a slot of the real `virt` board: a frame arriving from the host (outside any guest instruction) lands
// in the guest's buffer, raises the slot's PLIC line and wakes the VMM's run loop.
test('virtio-net in a virt slot: a frame from the network raises the PLIC line and wakes the VMM', () => {
  const MiB = 1024 * 1024;
  let wakes = 0;
  let hart: FakeHart | undefined;
  const m = VirtMachine.create(
    {
      memoryBytes: 64 * MiB,
      firmware: new Uint8Array(0x4_0000).fill(0x13),
      kernel: fakeLinuxImage({ imageSize: 4 * MiB }),
      cmdline: 'console=ttyS0',
      console: { write: () => {}, setInputListener: () => {} },
      clock: { monotonicNs: () => 0, wallClockNs: () => 0 },
      onDeviceWake: () => {
        wakes++;
      },
    },
    (mmio: MmioHandler, ramBytes: number) => {
      hart = new FakeHart(mmio, ramBytes);
      return hart;
    },
  );
  assert.ok(hart);
  const backend = new FakeBackend();
  m.attachVirtioDevice(5, (ctx) => new VirtioMmioTransport(ctx, new VirtioNet(backend)));
  const base = virtioSlotBase(5);
  const bus = hart.mmio;
  const gram = new MockGuestRam(hart.ram, VIRT_MEMMAP.dram.base, 32 * MiB);
  const driver = new VirtioMmioDriverMock(
    {
      read: (o: number, s: number) => bus.read(base + o, s),
      write: (o: number, s: number, v: number) => bus.write(base + o, s, v),
    },
    gram,
  );
  driver.init();
  const buf = gram.alloc(2048);
  driver.queue(VIRTIO_NET_RXQ).submit([{ addr: buf, len: 2048, write: true }]);
  driver.kick(VIRTIO_NET_RXQ);
  const pending = () => (bus.read(VIRT_MEMMAP.plic.base + 0x1000, 4) >>> (VIRT_IRQ.virtio0 + 5)) & 1;
  assert.equal(pending(), 0);
  backend.deliver(frame(98, 7));
  assert.equal(pending(), 1);
  assert.ok(wakes >= 1);
  assert.deepEqual(gram.view(buf + VIRTIO_NET_HDR_BYTES, 98), frame(98, 7));
  m.dispose();
});
