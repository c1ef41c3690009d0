// Internal snapshots without external tools: create, list, apply, delete, with our own consistency check after
// each step and the data of every snapshot verified.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isStrataError } from '../../../base/errors.js';
import { seeded } from '../block-backend.suite.js';
import { createQcow2 } from '../image-create.js';
import { checkImage } from './check.js';
import { Qcow2Image } from './qcow2-image.js';
import { applySnapshot, createSnapshot, deleteSnapshot, listSnapshots } from './snapshots.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-snap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SIZE = 4 << 20;

async function clean(img: Qcow2Image): Promise<void> {
  await img.flush();
  const r = await img.exclusive(() => checkImage(img));
  assert.deepEqual([r.corruptions, r.leaks], [0, 0], r.problems.join('; '));
}

async function contents(img: Qcow2Image): Promise<Buffer> {
  const all = new Uint8Array(img.sizeBytes);
  await img.read(0, all);
  return Buffer.from(all);
}

test('create, list, apply and delete snapshots; refcounts stay exact', async () => {
  const path = join(dir, 'snap.qcow2');
  await createQcow2(path, { sizeBytes: SIZE, clusterSize: 4096 });
  let img = await Qcow2Image.open(path);
  const rnd = seeded(8);
  const model = new Uint8Array(SIZE);
  const scribble = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const len = (1 + (rnd() % 64)) * 512;
      const off = (rnd() % (SIZE / 512 - 64)) * 512;
      if (rnd() % 5 === 0) {
        await img.discard(off, len);
        model.fill(0, off, off + len);
      } else {
        const d = new Uint8Array(len).fill((rnd() % 255) + 1);
        await img.write(off, d);
        model.set(d, off);
      }
    }
  };
  const states: Buffer[] = [];
  for (let s = 0; s < 4; s++) {
    await scribble(80);
    await createSnapshot(img, `snap${s}`);
    states.push(Buffer.from(model));
    await clean(img);
  }
  await scribble(80);
  await clean(img);
  assert.deepEqual(
    (await listSnapshots(img)).map((s) => [s.id, s.name, s.diskSize]),
    [0, 1, 2, 3].map((i) => [String(i + 1), `snap${i}`, SIZE]),
  );
  await assert.rejects(createSnapshot(img, 'snap1'), (e: unknown) => isStrataError(e) && e.code === 'ALREADY_EXISTS');
  await assert.rejects(applySnapshot(img, 'nope'), (e: unknown) => isStrataError(e) && e.code === 'NOT_FOUND');
  for (const i of [1, 3, 0]) {
    await applySnapshot(img, `snap${i}`);
    assert.ok((await contents(img)).equals(states[i]!), `content of snap${i}`);
    model.set(states[i]!);
    await clean(img);
  }
  await scribble(40);
  await deleteSnapshot(img, '2'); // by id: snap1
  await deleteSnapshot(img, 'snap3');
  await clean(img);
  await img.close();
  img = await Qcow2Image.open(path);
  assert.ok((await contents(img)).equals(Buffer.from(model)));
  await deleteSnapshot(img, 'snap0');
  await deleteSnapshot(img, 'snap2');
  assert.deepEqual(await listSnapshots(img), []);
  await clean(img);
  await img.close();
});
