// Growing qcow2 images: the L1 table moves when the new size needs more entries, data stays, the new range reads
// as zeros (also over a longer backing file), shrinking is refused, and a snapshot revert restores the size the
// disk had when the snapshot was taken. Every image is checked by our own check and by Debian's `qemu-img check`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isStrataError } from '../../src/base/errors.js';
import { seeded } from '../../src/services/storage/block-backend.suite.js';
import { createQcow2 } from '../../src/services/storage/image-create.js';
import { checkImage } from '../../src/services/storage/qcow2/check.js';
import { Qcow2Image } from '../../src/services/storage/qcow2/qcow2-image.js';
import { resizeQcow2 } from '../../src/services/storage/qcow2/resize.js';
import { applySnapshot, createSnapshot } from '../../src/services/storage/qcow2/snapshots.js';
import { haveQemuImg, qemuCheck, run } from '../helpers/qemu-img.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-resize-'));
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  assert.ok(haveQemuImg(), 'qemu-img is not installed: apt-get install qemu-utils');
});

async function assertClean(img: Qcow2Image): Promise<void> {
  await img.flush();
  const r = await img.exclusive(() => checkImage(img));
  assert.deepEqual([r.corruptions, r.leaks], [0, 0], r.problems.join('; '));
}

function assertQemuClean(path: string, virtualSize: number): void {
  const c = qemuCheck(path);
  assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);
  const info = JSON.parse(run('qemu-img', ['info', '--output=json', path]).stdout) as { 'virtual-size': number };
  assert.equal(info['virtual-size'], virtualSize);
}

async function readAll(img: Qcow2Image): Promise<Uint8Array> {
  const all = new Uint8Array(img.sizeBytes);
  await img.read(0, all);
  return all;
}

test('growing moves the L1 table when needed, keeps the data and passes qemu-img check', async () => {
  const path = join(dir, 'grow.qcow2');
  // 512-byte clusters: one L1 entry maps 32 KiB, one L1 cluster holds 64 entries (2 MiB)
  await createQcow2(path, { sizeBytes: 1 << 20, clusterSize: 512 });
  let img = await Qcow2Image.open(path);
  const rnd = seeded(21);
  const model = new Uint8Array(16 << 20);
  for (let i = 0; i < 200; i++) {
    const off = (rnd() % 2000) * 512;
    const d = new Uint8Array(512).fill((rnd() % 255) + 1);
    await img.write(off, d);
    model.set(d, off);
  }
  const l1Before = img.header.l1TableOffset;
  await resizeQcow2(img, 1536 << 10); // still inside the first L1 cluster: the table stays
  assert.equal(img.header.l1TableOffset, l1Before);
  await resizeQcow2(img, 16 << 20); // 512 entries: 8 clusters, the table moves
  assert.notEqual(img.header.l1TableOffset, l1Before);
  assert.equal(img.sizeBytes, 16 << 20);
  const tail = new Uint8Array(4096).fill(0x5a);
  await img.write((16 << 20) - 4096, tail);
  model.set(tail, (16 << 20) - 4096);
  assert.deepEqual(await readAll(img), model);
  await assertClean(img);
  await img.close();
  assertQemuClean(path, 16 << 20);
  img = await Qcow2Image.open(path);
  assert.deepEqual(await readAll(img), model);
  await assert.rejects(
    resizeQcow2(img, 8 << 20),
    (e: unknown) => isStrataError(e) && e.code === 'CONFLICT' && /shrinking/.test(e.message),
  );
  await assert.rejects(resizeQcow2(img, (16 << 20) + 100), (e: unknown) => isStrataError(e));
  await img.close();
  assertQemuClean(path, 16 << 20);
});

test('a grown overlay reads zeros where its longer backing file has data', async () => {
  const base = join(dir, 'base.raw');
  writeFileSync(base, new Uint8Array(4 << 20).fill(0xbb));
  const top = join(dir, 'top.qcow2');
  await createQcow2(top, { sizeBytes: 1 << 20, backingFile: 'base.raw', backingFormat: 'raw' });
  const img = await Qcow2Image.open(top, {
    openBacking: async () => (await import('../../src/services/storage/raw-backend.js')).RawBackend.open(base),
  });
  await resizeQcow2(img, (3 << 20) + 512);
  const all = await readAll(img);
  assert.ok(
    all.subarray(0, 1 << 20).every((b) => b === 0xbb),
    'the old range still reads through',
  );
  assert.ok(
    all.subarray(1 << 20).every((b) => b === 0),
    'the new range reads as zeros',
  );
  await assertClean(img);
  await img.close();
  assertQemuClean(top, (3 << 20) + 512);
});

test('reverting a snapshot taken before a resize restores the old size', async () => {
  const path = join(dir, 'snap-resize.qcow2');
  await createQcow2(path, { sizeBytes: 1 << 20, clusterSize: 512 });
  const img = await Qcow2Image.open(path);
  await img.write(0, new Uint8Array(512).fill(1));
  await createSnapshot(img, 'small');
  await resizeQcow2(img, 8 << 20);
  await img.write((8 << 20) - 512, new Uint8Array(512).fill(2));
  await assertClean(img);
  await img.close();
  assertQemuClean(path, 8 << 20);
  const again = await Qcow2Image.open(path);
  await applySnapshot(again, 'small');
  assert.equal(again.sizeBytes, 1 << 20);
  const all = await readAll(again);
  assert.equal(all[0], 1);
  await assertClean(again);
  await again.close();
  assertQemuClean(path, 1 << 20);
});
