import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { blockBackendSuite } from '../block-backend.suite.js';
import { createQcow2 } from '../image-create.js';
import { openDisk } from '../open-disk.js';
import { checkImage } from './check.js';
import { Qcow2Image } from './qcow2-image.js';

/** Our own check (refcounts against references, COPIED flags) and, when installed, qemu-img check. */
async function verify(path: string): Promise<void> {
  const img = await Qcow2Image.open(path, {
    readOnly: true,
    openBacking: (name) => openDisk(join(dirname(path), name), { readOnly: true }),
  });
  try {
    const r = await checkImage(img);
    assert.deepEqual([r.corruptions, r.leaks], [0, 0], r.problems.join('; '));
  } finally {
    await img.close();
  }
  if (spawnSync('qemu-img', ['--version']).status === 0) {
    const q = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
    assert.equal(q.status, 0, q.stdout + q.stderr);
  }
}

const SIZE = 6 << 20;

for (const clusterSize of [65536, 4096]) {
  blockBackendSuite(`qcow2 (${clusterSize}-byte clusters)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-qcow2-'));
    const path = join(dir, 'disk.qcow2');
    await createQcow2(path, { sizeBytes: SIZE, clusterSize });
    return {
      backend: await openDisk(path),
      initial: new Uint8Array(SIZE),
      reopen: (readOnly) => openDisk(path, { readOnly }),
      verifyClosed: () => verify(path),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  });
}

blockBackendSuite('qcow2 with a virtual size that is not a whole number of clusters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-qcow2-'));
  const path = join(dir, 'odd.qcow2');
  const size = SIZE + 3 * 512;
  await createQcow2(path, { sizeBytes: size });
  return {
    backend: await openDisk(path),
    initial: new Uint8Array(size),
    reopen: (readOnly) => openDisk(path, { readOnly }),
    verifyClosed: () => verify(path),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

blockBackendSuite('qcow2 over a qcow2 over a raw backing file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-qcow2-'));
  const initial = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 1024) initial.fill((i >> 10) & 0xff, i, i + 512);
  writeFileSync(join(dir, 'base.raw'), initial.subarray(0, SIZE - 65536)); // shorter: the tail reads as zeros
  initial.fill(0, SIZE - 65536);
  await createQcow2(join(dir, 'mid.qcow2'), { sizeBytes: SIZE, backingFile: 'base.raw', backingFormat: 'raw' });
  const mid = await openDisk(join(dir, 'mid.qcow2'));
  const patch = new Uint8Array(70000 - (70000 % 512)).fill(0xee);
  await mid.write(3 * 65536 + 512, patch);
  initial.set(patch, 3 * 65536 + 512);
  await mid.close();
  const path = join(dir, 'top.qcow2');
  await createQcow2(path, { backingFile: 'mid.qcow2' });
  return {
    backend: await openDisk(path),
    initial,
    reopen: (readOnly) => openDisk(path, { readOnly }),
    verifyClosed: () => verify(path),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

test('zeroing the end of a last cluster that lies partly past the disk keeps the bytes before the range', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-qcow2-'));
  try {
    const cs = 65536;
    const size = 4 * cs + 8192; // the fifth cluster holds only 8 KiB of the disk
    const path = join(dir, 'tail.qcow2');
    await createQcow2(path, { sizeBytes: size, clusterSize: cs });
    const disk = await openDisk(path);
    await disk.write(4 * cs, new Uint8Array(8192).fill(0xab));
    await disk.writeZeroes(4 * cs + 4096, 4096, true);
    await disk.discard(4 * cs + 6144, 2048);
    const back = new Uint8Array(8192);
    await disk.read(4 * cs, back);
    assert.deepEqual(back.subarray(0, 4096), new Uint8Array(4096).fill(0xab));
    assert.deepEqual(back.subarray(4096), new Uint8Array(4096));
    // The whole in-disk part zeroed at once may drop the cluster; it then reads as zeros.
    await disk.writeZeroes(4 * cs, 8192, true);
    await disk.read(4 * cs, back);
    assert.deepEqual(back, new Uint8Array(8192));
    await disk.close();
    await verify(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
