import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFromChain, writeToChain } from './chain-io.js';
import {
  SplitVirtqueue,
  type SplitVirtqueueLayout,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from './split-virtqueue.js';
import { MockGuestRam, VirtqueueDriverMock } from './virtqueue-driver-mock.js';

function setup(opts: { size?: number; indirect?: boolean; eventIdx?: boolean } = {}) {
  const gram = new MockGuestRam(256 * 1024);
  const drv = new VirtqueueDriverMock(gram, opts.size ?? 8);
  const layout: SplitVirtqueueLayout = {
    size: drv.size,
    descAddr: drv.descAddr,
    driverAddr: drv.driverAddr,
    deviceAddr: drv.deviceAddr,
    indirect: opts.indirect ?? true,
    eventIdx: opts.eventIdx ?? false,
  };
  const malformed: string[] = [];
  assert.equal(SplitVirtqueue.check(gram.mem, layout), undefined);
  const q = new SplitVirtqueue(gram.mem, layout, (r) => malformed.push(r));
  return { gram, drv, q, malformed };
}

describe('SplitVirtqueue', () => {
  test('pops a chain of readable then writable buffers and returns it through the used ring', () => {
    const { gram, drv, q } = setup();
    const a = gram.put(Uint8Array.of(1, 2, 3));
    const b = gram.put(Uint8Array.of(4, 5));
    const c = gram.alloc(4);
    const head = drv.submit([
      { addr: a, len: 3, write: false },
      { addr: b, len: 2, write: false },
      { addr: c, len: 4, write: true },
    ]);
    assert.equal(q.hasAvailable(), true);
    const chain = q.pop();
    assert.ok(chain);
    assert.equal(chain.head, head);
    assert.equal(chain.readableBytes, 5);
    assert.equal(chain.writableBytes, 4);
    const got = new Uint8Array(5);
    assert.equal(readFromChain(gram.ram, chain, 0, got), 5);
    assert.deepEqual([...got], [1, 2, 3, 4, 5]);
    const part = new Uint8Array(3);
    assert.equal(readFromChain(gram.ram, chain, 2, part), 3);
    assert.deepEqual([...part], [3, 4, 5]);
    assert.equal(writeToChain(gram.ram, chain, 1, Uint8Array.of(9, 9, 9, 9, 9)), 3);
    assert.deepEqual([...gram.view(c, 4)], [0, 9, 9, 9]);
    assert.equal(q.pop(), undefined);
    q.pushUsed(chain.head, 4);
    assert.deepEqual(drv.takeUsed(), [{ id: head, len: 4 }]);
    assert.equal(q.shouldInterrupt(), true);
    assert.equal(q.shouldInterrupt(), false, 'nothing new since the last decision');
  });

  test('follows an indirect table', () => {
    const { gram, drv, q } = setup();
    const a = gram.put(Uint8Array.of(7));
    const c = gram.alloc(2);
    drv.submitIndirect([
      { addr: a, len: 1, write: false },
      { addr: c, len: 2, write: true },
    ]);
    const chain = q.pop();
    assert.ok(chain);
    assert.equal(chain.readableBytes, 1);
    assert.equal(chain.writableBytes, 2);
  });

  test('takes direct descriptors followed by one indirect table (virtio 1.2 §2.7.5.3)', () => {
    const { gram, drv, q } = setup();
    const hdr = gram.put(Uint8Array.of(1, 2));
    const table = gram.alloc(32);
    const data = gram.put(Uint8Array.of(3));
    const out = gram.alloc(4);
    drv.setDescriptor(0, data, 1, VIRTQ_DESC_F_NEXT, 1, table);
    drv.setDescriptor(1, out, 4, VIRTQ_DESC_F_WRITE, 0, table);
    drv.setDescriptor(0, hdr, 2, VIRTQ_DESC_F_NEXT, 1);
    drv.setDescriptor(1, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    drv.publish(0);
    const chain = q.pop();
    assert.ok(chain);
    assert.equal(chain.readableBytes, 3);
    assert.equal(chain.writableBytes, 4);
    const got = new Uint8Array(3);
    readFromChain(gram.ram, chain, 0, got);
    assert.deepEqual([...got], [1, 2, 3]);
  });

  test('wraps the 16-bit ring indices', () => {
    const { gram, drv, q } = setup({ size: 4 });
    const buf = gram.alloc(8);
    for (let i = 0; i < 70_000; i += 1) {
      drv.submit([{ addr: buf, len: 8, write: true }]);
      const chain = q.pop();
      assert.ok(chain, `round ${i}`);
      q.pushUsed(chain.head, 1);
      assert.equal(drv.takeUsed().length, 1);
    }
  });

  test('respects VIRTQ_AVAIL_F_NO_INTERRUPT', () => {
    const { gram, drv, q } = setup();
    drv.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    drv.submit([{ addr: gram.alloc(1), len: 1, write: true }]);
    q.pushUsed(q.pop()?.head ?? -1, 1);
    assert.equal(q.shouldInterrupt(), false);
  });

  test('with VIRTIO_F_EVENT_IDX interrupts only when used_event is passed and publishes avail_event', () => {
    const { gram, drv, q } = setup({ eventIdx: true });
    const buf = gram.alloc(1);
    drv.setUsedEvent(1); // interrupt once the second buffer is used
    drv.submit([{ addr: buf, len: 1, write: true }]);
    drv.submit([{ addr: buf, len: 1, write: true }]);
    const c1 = q.pop();
    assert.equal(drv.availEvent(), 1);
    assert.ok(c1);
    q.pushUsed(c1.head, 1);
    assert.equal(q.shouldInterrupt(), false);
    const c2 = q.pop();
    assert.equal(drv.availEvent(), 2);
    assert.ok(c2);
    q.pushUsed(c2.head, 1);
    assert.equal(q.shouldInterrupt(), true);
  });

  test('a descriptor loop breaks the queue once instead of hanging', () => {
    const { gram, drv, q, malformed } = setup();
    const buf = gram.alloc(4);
    drv.setDescriptor(0, buf, 4, VIRTQ_DESC_F_NEXT, 1);
    drv.setDescriptor(1, buf, 4, VIRTQ_DESC_F_NEXT, 0);
    drv.publish(0);
    assert.equal(q.pop(), undefined);
    assert.match(malformed[0] ?? '', /loops/);
    assert.equal(q.pop(), undefined);
    assert.equal(malformed.length, 1);
    assert.ok(q.broken);
  });

  const malformedCases: [string, (m: { gram: MockGuestRam; drv: VirtqueueDriverMock }) => void, RegExp][] = [
    [
      'next index beyond the table',
      ({ gram, drv }) => {
        drv.setDescriptor(0, gram.alloc(1), 1, VIRTQ_DESC_F_NEXT, 99);
        drv.publish(0);
      },
      /beyond its table/,
    ],
    [
      'head index beyond the table',
      ({ drv }) => {
        drv.publish(40);
      },
      /beyond its table/,
    ],
    [
      'buffer outside RAM',
      ({ drv }) => {
        drv.setDescriptor(0, 0x1000, 16, 0, 0);
        drv.publish(0);
      },
      /outside RAM/,
    ],
    [
      'huge buffer running past the end of RAM',
      ({ gram, drv }) => {
        drv.setDescriptor(0, gram.alloc(1), 0xffff_ffff, VIRTQ_DESC_F_WRITE, 0);
        drv.publish(0);
      },
      /outside RAM/,
    ],
    [
      'readable buffer after a writable one',
      ({ gram, drv }) => {
        const b = gram.alloc(2);
        drv.setDescriptor(0, b, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        drv.setDescriptor(1, b, 1, 0, 0);
        drv.publish(0);
      },
      /readable buffer after/,
    ],
    [
      'nested indirect table',
      ({ gram, drv }) => {
        const inner = gram.alloc(16);
        const outer = gram.alloc(16);
        drv.setDescriptor(0, inner, 16, VIRTQ_DESC_F_INDIRECT, 0, outer);
        drv.setDescriptor(0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
      },
      /nested/,
    ],
    [
      'indirect with NEXT',
      ({ gram, drv }) => {
        drv.setDescriptor(0, gram.alloc(16), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        drv.publish(0);
      },
      /VIRTQ_DESC_F_NEXT/,
    ],
    [
      'indirect table of odd length',
      ({ gram, drv }) => {
        drv.setDescriptor(0, gram.alloc(32), 20, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
      },
      /indirect table of 20 bytes/,
    ],
    [
      'loop inside an indirect table',
      ({ gram, drv }) => {
        const t = gram.alloc(32);
        const b = gram.alloc(1);
        drv.setDescriptor(0, b, 1, VIRTQ_DESC_F_NEXT, 1, t);
        drv.setDescriptor(1, b, 1, VIRTQ_DESC_F_NEXT, 0, t);
        drv.setDescriptor(0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
      },
      /loops/,
    ],
    [
      'available index too far ahead',
      ({ drv }) => {
        drv.setAvailIdx(1000);
      },
      /ahead of the device/,
    ],
  ];
  for (const [name, build, re] of malformedCases) {
    test(`malformed: ${name}`, () => {
      const { gram, drv, q, malformed } = setup();
      build({ gram, drv });
      assert.equal(q.pop(), undefined);
      assert.equal(malformed.length, 1);
      assert.match(malformed[0] ?? '', re);
    });
  }

  test('indirect descriptors without the feature are malformed', () => {
    const { gram, drv, q, malformed } = setup({ indirect: false });
    drv.submitIndirect([{ addr: gram.alloc(1), len: 1, write: true }]);
    assert.equal(q.pop(), undefined);
    assert.match(malformed[0] ?? '', /without VIRTIO_F_INDIRECT_DESC/);
  });

  test('check refuses sizes that are not powers of 2 and rings outside RAM or misaligned', () => {
    const gram = new MockGuestRam(64 * 1024);
    const ok = { size: 8, descAddr: gram.ramBase, driverAddr: gram.ramBase + 256, deviceAddr: gram.ramBase + 512 };
    const base = { ...ok, indirect: false, eventIdx: false };
    assert.equal(SplitVirtqueue.check(gram.mem, base), undefined);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, size: 6 }) ?? '', /power of 2/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, size: 0 }) ?? '', /power of 2/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, descAddr: 0x1000 }) ?? '', /descriptor table/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, descAddr: gram.ramBase + 8 }) ?? '', /misaligned/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, driverAddr: gram.ramBase + 1 }) ?? '', /driver area/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, deviceAddr: gram.ramBase + 2 }) ?? '', /device area/);
    assert.match(SplitVirtqueue.check(gram.mem, { ...base, deviceAddr: -1 }) ?? '', /device area/);
  });
});
