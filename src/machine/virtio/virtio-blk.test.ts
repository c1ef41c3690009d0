import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryBlockBackend } from '../ports/memory-block-backend.js';
import {
  SECTOR_BYTES,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_MAX_REQUEST_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlk,
  type VirtioBlkOptions,
} from './virtio-blk.js';
import { hasFeatureBit } from './virtio-device.js';
import { VIRTIO_MMIO, VIRTIO_STATUS, VirtioMmioTransport } from './virtio-mmio.js';
import { type MockBuffer, MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

const DISK_BYTES = 1024 * 1024;

function setup(opts: { readOnly?: boolean; device?: VirtioBlkOptions; ramBytes?: number } = {}) {
  const gram = new MockGuestRam(opts.ramBytes ?? 4 * 1024 * 1024);
  const backend = new MemoryBlockBackend(DISK_BYTES, { readOnly: opts.readOnly ?? false, serial: 'serial-0123' });
  const levels: boolean[] = [];
  let wakes = 0;
  const blk = new VirtioBlk(backend, opts.device);
  const transport = new VirtioMmioTransport(
    {
      irq: { setLevel: (l) => levels.push(l) },
      ram: gram.ram,
      ramBase: gram.ramBase,
      wake: () => {
        wakes++;
      },
    },
    blk,
  );
  const driver = new VirtioMmioDriverMock(transport, gram);
  const status = driver.init();
  assert.equal(status & VIRTIO_STATUS.DRIVER_OK, VIRTIO_STATUS.DRIVER_OK);
  const q = driver.queue(0);

  /** Builds a request (header, data buffers, status byte) and submits it; returns addresses to inspect. */
  const request = (
    type: number,
    sector: number,
    data: { bytes?: Uint8Array; writeLen?: number; split?: number } = {},
    how: { indirect?: boolean; noStatus?: boolean; headerLen?: number } = {},
  ) => {
    const header = new Uint8Array(16);
    const v = new DataView(header.buffer);
    v.setUint32(0, type, true);
    v.setUint32(8, sector >>> 0, true);
    v.setUint32(12, Math.floor(sector / 0x1_0000_0000), true);
    const buffers: MockBuffer[] = [{ addr: gram.put(header), len: how.headerLen ?? 16, write: false }];
    let dataAddr = 0;
    const split = data.split ?? 1;
    if (data.bytes) {
      dataAddr = gram.put(data.bytes);
      const part = data.bytes.length / split;
      for (let i = 0; i < split; i++) buffers.push({ addr: dataAddr + i * part, len: part, write: false });
    } else if (data.writeLen !== undefined) {
      dataAddr = gram.alloc(data.writeLen);
      const part = data.writeLen / split;
      for (let i = 0; i < split; i++) buffers.push({ addr: dataAddr + i * part, len: part, write: true });
    }
    const statusAddr = gram.alloc(1);
    gram.ram[statusAddr - gram.ramBase] = 0xff;
    if (!how.noStatus) buffers.push({ addr: statusAddr, len: 1, write: true });
    const head = how.indirect ? q.submitIndirect(buffers) : q.submit(buffers);
    return { head, dataAddr, status: () => gram.ram[statusAddr - gram.ramBase] };
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { gram, backend, blk, transport, driver, q, request, settle, levels, wakes: () => wakes };
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function segment(sector: number, sectors: number, flags: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, sector, true);
  v.setUint32(8, sectors, true);
  v.setUint32(12, flags, true);
  return b;
}

describe('VirtioBlk', () => {
  test('announces the capacity and limits in its configuration space', () => {
    const { driver } = setup();
    const cfg = (off: number, size = 4) => driver.dev.read(VIRTIO_MMIO.Config + off, size);
    assert.equal(driver.reg(VIRTIO_MMIO.DeviceID), 2);
    assert.equal(cfg(0), DISK_BYTES / SECTOR_BYTES);
    assert.equal(cfg(4), 0);
    assert.equal(cfg(8), 128 * 1024, 'size_max');
    assert.equal(cfg(12), 126, 'seg_max');
    assert.equal(cfg(20), 512, 'blk_size');
    assert.equal(cfg(40), 32, 'max_discard_seg');
    assert.equal(cfg(52), 1, 'max_write_zeroes_seg');
    assert.equal(cfg(56, 1), 1, 'write_zeroes_may_unmap');
    const f = driver.deviceFeatures();
    assert.equal(hasFeatureBit(f, VIRTIO_BLK_F_FLUSH), true);
    assert.equal(hasFeatureBit(f, VIRTIO_BLK_F_DISCARD), true);
    assert.equal(hasFeatureBit(f, VIRTIO_BLK_F_RO), false);
    assert.equal(hasFeatureBit(setup({ readOnly: true }).driver.deviceFeatures(), VIRTIO_BLK_F_RO), true);
  });

  test('writes then reads back across several buffers, direct and indirect', async () => {
    const s = setup();
    const data = pattern(8 * SECTOR_BYTES, 5);
    const w = s.request(VIRTIO_BLK_T_OUT, 10, { bytes: data, split: 4 });
    s.driver.kick(0);
    await s.settle();
    assert.deepEqual(s.q.takeUsed(), [{ id: w.head, len: 1 }]);
    assert.equal(w.status(), VIRTIO_BLK_S_OK);
    assert.deepEqual(s.backend.bytes.subarray(10 * SECTOR_BYTES, 18 * SECTOR_BYTES), data);

    const r = s.request(VIRTIO_BLK_T_IN, 10, { writeLen: data.length, split: 2 }, { indirect: true });
    s.driver.kick(0);
    await s.settle();
    assert.deepEqual(s.q.takeUsed(), [{ id: r.head, len: data.length + 1 }]);
    assert.equal(r.status(), VIRTIO_BLK_S_OK);
    assert.deepEqual(s.gram.view(r.dataAddr, data.length), data);
  });

  test('completes asynchronously: no used buffer or interrupt until the backend settles, then both and a wake', async () => {
    const s = setup();
    s.backend.hold();
    const r = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: SECTOR_BYTES });
    s.driver.kick(0);
    await s.settle();
    assert.deepEqual(s.q.takeUsed(), []);
    assert.equal(s.levels.at(-1) ?? false, false);
    assert.equal(s.blk.requestsInFlight, 1);
    let settled = false;
    const idle = s.blk.settled().then(() => {
      settled = true;
    });
    s.backend.release();
    await idle;
    assert.equal(settled, true);
    assert.deepEqual(s.q.takeUsed(), [{ id: r.head, len: SECTOR_BYTES + 1 }]);
    assert.equal(s.levels.at(-1), true);
    assert.equal(s.wakes(), 1);
    assert.equal(s.driver.ackInterrupt(), 1);
    assert.equal(s.levels.at(-1), false);
  });

  test('flush reaches the backend', async () => {
    const s = setup();
    const f = s.request(VIRTIO_BLK_T_FLUSH, 0);
    s.driver.kick(0);
    await s.settle();
    assert.equal(f.status(), VIRTIO_BLK_S_OK);
    assert.equal(s.backend.flushes, 1);
  });

  test('get-id returns the serial, zero-padded to 20 bytes', async () => {
    const s = setup();
    const g = s.request(VIRTIO_BLK_T_GET_ID, 0, { writeLen: 20 });
    s.driver.kick(0);
    await s.settle();
    assert.equal(g.status(), VIRTIO_BLK_S_OK);
    assert.deepEqual(s.q.takeUsed(), [{ id: g.head, len: 21 }]);
    const id = s.gram.view(g.dataAddr, 20);
    assert.equal(new TextDecoder().decode(id.subarray(0, 11)), 'serial-0123');
    assert.deepEqual([...id.subarray(11)], new Array(9).fill(0));
  });

  test('discard and write-zeroes zero the ranges and pass the unmap flag', async () => {
    const s = setup();
    s.backend.bytes.fill(0xaa);
    const d = s.request(VIRTIO_BLK_T_DISCARD, 0, { bytes: new Uint8Array([...segment(0, 2, 0), ...segment(8, 1, 0)]) });
    const z = s.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, { bytes: segment(100, 4, 1) });
    s.driver.kick(0);
    await s.settle();
    assert.equal(d.status(), VIRTIO_BLK_S_OK);
    assert.equal(z.status(), VIRTIO_BLK_S_OK);
    assert.deepEqual(
      [...s.backend.trims].sort((a, b) => a.offsetBytes - b.offsetBytes),
      [
        { kind: 'discard', offsetBytes: 0, lengthBytes: 1024 },
        { kind: 'discard', offsetBytes: 8 * 512, lengthBytes: 512 },
        { kind: 'writeZeroes', offsetBytes: 100 * 512, lengthBytes: 4 * 512, mayUnmap: true },
      ],
    );
    assert.equal(s.backend.bytes[100 * 512], 0);
    assert.equal(s.backend.bytes[1024], 0xaa);
  });

  test('discard with the unmap flag and unknown types are unsupported', async () => {
    const s = setup();
    const d = s.request(VIRTIO_BLK_T_DISCARD, 0, { bytes: segment(0, 1, 1) });
    const u = s.request(99, 0, { writeLen: 512 });
    s.driver.kick(0);
    await s.settle();
    assert.equal(d.status(), VIRTIO_BLK_S_UNSUPP);
    assert.equal(u.status(), VIRTIO_BLK_S_UNSUPP);
    assert.deepEqual(
      [...s.backend.trims].sort((a, b) => a.offsetBytes - b.offsetBytes),
      [],
    );
  });

  test('requests beyond the capacity fail with IOERR and never reach the backend', async () => {
    const s = setup();
    const last = DISK_BYTES / SECTOR_BYTES;
    const ok = s.request(VIRTIO_BLK_T_IN, last - 1, { writeLen: 512 });
    const r = s.request(VIRTIO_BLK_T_IN, last - 1, { writeLen: 1024 });
    const w = s.request(VIRTIO_BLK_T_OUT, last, { bytes: pattern(512, 1) });
    const huge = s.request(VIRTIO_BLK_T_IN, 2 ** 40, { writeLen: 512 });
    const d = s.request(VIRTIO_BLK_T_DISCARD, 0, { bytes: segment(last - 1, 2, 0) });
    const z = s.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, { bytes: segment(0, 0xffff_ffff, 0) });
    s.driver.kick(0);
    await s.settle();
    assert.equal(ok.status(), VIRTIO_BLK_S_OK);
    for (const x of [r, w, huge, d, z]) assert.equal(x.status(), VIRTIO_BLK_S_IOERR);
    assert.equal(s.q.takeUsed().length, 6);
    assert.deepEqual(
      [...s.backend.trims].sort((a, b) => a.offsetBytes - b.offsetBytes),
      [],
    );
    assert.equal(s.driver.reg(VIRTIO_MMIO.Status) & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0, 'the device goes on');
  });

  test('misshapen requests fail with IOERR: partial sectors, short header, too large', async () => {
    const s = setup({ ramBytes: 24 * 1024 * 1024 });
    const partial = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 100 });
    const short = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 512 }, { headerLen: 8 });
    const big = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: VIRTIO_BLK_MAX_REQUEST_BYTES + 512 });
    const noStatus = s.request(VIRTIO_BLK_T_FLUSH, 0, {}, { noStatus: true });
    s.driver.kick(0);
    await s.settle();
    for (const x of [partial, short, big]) assert.equal(x.status(), VIRTIO_BLK_S_IOERR);
    const used = s.q.takeUsed();
    assert.deepEqual(used.at(-1), { id: noStatus.head, len: 0 }, 'no status byte: returned unused');
    assert.equal(s.backend.flushes, 0);
  });

  test('a read-only disk reads and flushes but refuses writes, discards and write-zeroes', async () => {
    const s = setup({ readOnly: true });
    s.backend.bytes.fill(7, 0, 512);
    const r = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 512 });
    const w = s.request(VIRTIO_BLK_T_OUT, 0, { bytes: pattern(512, 3) });
    const d = s.request(VIRTIO_BLK_T_DISCARD, 0, { bytes: segment(0, 1, 0) });
    const z = s.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, { bytes: segment(0, 1, 0) });
    const f = s.request(VIRTIO_BLK_T_FLUSH, 0);
    s.driver.kick(0);
    await s.settle();
    assert.equal(r.status(), VIRTIO_BLK_S_OK);
    assert.equal(s.gram.view(r.dataAddr, 512)[0], 7);
    for (const x of [w, d, z]) assert.equal(x.status(), VIRTIO_BLK_S_IOERR);
    assert.equal(f.status(), VIRTIO_BLK_S_OK);
    assert.equal(s.backend.bytes[0], 7, 'nothing written');
  });

  test('a backend failure is IOERR to the guest', async () => {
    const s = setup();
    s.backend.failNext = 1;
    const r = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 512 });
    const again = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 512 });
    s.driver.kick(0);
    await s.settle();
    assert.equal(r.status(), VIRTIO_BLK_S_IOERR);
    assert.equal(again.status(), VIRTIO_BLK_S_OK);
  });

  test('a reset while I/O is in flight drops the completion: guest memory is not touched', async () => {
    const s = setup();
    s.backend.bytes.fill(9, 0, 512);
    s.backend.hold();
    const r = s.request(VIRTIO_BLK_T_IN, 0, { writeLen: 512 });
    s.driver.kick(0);
    s.driver.setReg(VIRTIO_MMIO.Status, 0);
    s.backend.release();
    await s.blk.settled();
    await s.settle();
    assert.equal(r.status(), 0xff);
    assert.equal(s.gram.view(r.dataAddr, 1)[0], 0);
    assert.deepEqual(s.q.takeUsed(), []);
  });

  test('bounds the bytes held in flight; the rest waits in the ring and is taken as room frees', async () => {
    const s = setup({ device: { maxInFlightBytes: 1024 } });
    s.backend.hold();
    const reqs = [0, 1, 2].map((i) => s.request(VIRTIO_BLK_T_IN, i * 2, { writeLen: 1024 }));
    s.driver.kick(0);
    assert.equal(s.backend.heldCount, 1);
    s.backend.release();
    await s.blk.settled();
    await s.settle();
    for (const r of reqs) assert.equal(r.status(), VIRTIO_BLK_S_OK);
    assert.equal(s.q.takeUsed().length, 3);
  });

  test('saves what the guest was told about the disk', () => {
    const s = setup();
    const state = s.blk.save();
    assert.deepEqual(state, { version: 1, capacitySectors: DISK_BYTES / 512, readOnly: false });
    s.blk.restore(state);
    assert.throws(() => s.blk.restore({ ...state, capacitySectors: 1 }), /does not fit/);
  });
});
