import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkQcow2File } from './image-check.js';
import { createQcow2 } from './image-create.js';
import { openDisk } from './open-disk.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a clean image checks clean; a leaked and an under-counted cluster are found and repaired', async () => {
  const path = join(dir, 'c.qcow2');
  await createQcow2(path, { sizeBytes: 2 << 20, clusterSize: 4096 });
  const d = await openDisk(path);
  await d.write(0, new Uint8Array(16384).fill(3));
  await d.close();
  assert.deepEqual(await checkQcow2File(path), { corruptions: 0, leaks: 0, problems: [], repaired: false });
  // refcount block at cluster 2: give cluster 40 (unused) a refcount (leak) and cluster 4 (in use) a zero
  const b = readFileSync(path);
  b.writeUInt16BE(1, 2 * 4096 + 40 * 2);
  b.writeUInt16BE(0, 2 * 4096 + 4 * 2);
  writeFileSync(path, b);
  const bad = await checkQcow2File(path);
  assert.equal(bad.leaks, 1);
  assert.ok(bad.corruptions >= 1);
  const fixed = await checkQcow2File(path, { repair: true });
  assert.deepEqual([fixed.corruptions, fixed.leaks, fixed.repaired], [0, 0, true]);
  assert.deepEqual(await checkQcow2File(path), { corruptions: 0, leaks: 0, problems: [], repaired: false });
  const r = await openDisk(path, { readOnly: true });
  const got = new Uint8Array(16384);
  await r.read(0, got);
  assert.ok(got.every((v) => v === 3));
  await r.close();
});
