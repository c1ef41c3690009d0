import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VIRT_IRQ, VIRT_MEMMAP, virtioSlotBase } from '../board/virt-memmap.js';
import type { MmioHandler } from '../cpu/hart-port.js';
import type { CharBackend } from '../devices/ports.js';
import { MemoryBlockBackend } from '../ports/memory-block-backend.js';
import { FakeHart } from '../testing/fake-hart.js';
import { fakeLinuxImage } from '../testing/fake-linux-image.js';
import { VirtMachine } from '../virt-machine.js';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VirtioBlk } from './virtio-blk.js';
import { VirtioMmioTransport } from './virtio-mmio.js';
import { MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

const MiB = 1024 * 1024;

// A virtio-blk device plugged into the real `virt` board: its registers answer on the bus at the slot's address,
// it finds its rings in the machine's RAM, and a completion raises the slot's PLIC line and wakes the VMM.
test('a virtio-blk device in a virt slot completes through the PLIC and wakes the VMM', async () => {
  let wakes = 0;
  let hart: FakeHart | undefined;
  const console: CharBackend = { write: () => {}, setInputListener: () => {} };
  const m = VirtMachine.create(
    {
      memoryBytes: 64 * MiB,
      firmware: new Uint8Array(0x4_0000).fill(0x13),
      kernel: fakeLinuxImage({ imageSize: 4 * MiB }),
      cmdline: 'console=ttyS0',
      console,
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
  const disk = new MemoryBlockBackend(MiB);
  disk.bytes.fill(0x42, 512, 1024);
  m.attachVirtioDevice(3, (ctx) => new VirtioMmioTransport(ctx, new VirtioBlk(disk)));

  const base = virtioSlotBase(3);
  const bus = hart.mmio;
  const slot = {
    read: (o: number, s: number) => bus.read(base + o, s),
    write: (o: number, s: number, v: number) => bus.write(base + o, s, v),
  };
  const gram = new MockGuestRam(hart.ram, VIRT_MEMMAP.dram.base, 32 * MiB);
  const driver = new VirtioMmioDriverMock(slot, gram);
  driver.init();
  const header = new Uint8Array(16);
  new DataView(header.buffer).setUint32(0, VIRTIO_BLK_T_IN, true);
  header[8] = 1;
  const data = gram.alloc(512);
  const status = gram.alloc(1);
  driver.queue(0).submit([
    { addr: gram.put(header), len: 16, write: false },
    { addr: data, len: 512, write: true },
    { addr: status, len: 1, write: true },
  ]);
  driver.kick(0);
  const pending = () => (bus.read(VIRT_MEMMAP.plic.base + 0x1000, 4) >>> (VIRT_IRQ.virtio0 + 3)) & 1;
  assert.equal(pending(), 0, 'nothing before the backend settles');
  await new Promise((r) => setImmediate(r));
  assert.equal(pending(), 1);
  assert.equal(wakes, 1);
  assert.equal(gram.view(status, 1)[0], VIRTIO_BLK_S_OK);
  assert.equal(gram.view(data, 512)[0], 0x42);
  // A machine reset resets the device too: its queues are gone.
  m.reset();
  assert.equal(driver.reg(0x070), 0);
  assert.equal(pending(), 0);
});
