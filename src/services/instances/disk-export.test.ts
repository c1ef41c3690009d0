import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentProgress } from '../../base/progress.js';
import { exportRawDisk } from './disk-export.js';

test('an export is an exact, sparse copy, and a cancelled one leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'exp-'));
  const src = join(dir, 'disk.raw');
  const f = await open(src, 'w');
  await f.truncate(64 * 1024 * 1024);
  await f.write(Buffer.from('hello'), 0, 5, 3 * 1024 * 1024 + 7);
  await f.close();
  let last = 0;
  const size = await exportRawDisk(
    src,
    join(dir, 'out.raw'),
    { ...silentProgress, update: (n) => (last = n) },
    new AbortController().signal,
  );
  assert.equal(size, 64 * 1024 * 1024);
  assert.equal(last, size);
  assert.deepEqual(readFileSync(join(dir, 'out.raw')), readFileSync(src));
  assert.ok(statSync(join(dir, 'out.raw')).blocks * 512 < 4 * 1024 * 1024, 'holes stay holes');
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(exportRawDisk(src, join(dir, 'gone.raw'), silentProgress, ac.signal), /cancelled/);
  assert.equal(existsSync(join(dir, 'gone.raw')), false);
  writeFileSync(join(dir, 'taken.raw'), 'x');
  await assert.rejects(
    exportRawDisk(src, join(dir, 'taken.raw'), silentProgress, new AbortController().signal),
    /cannot export/,
  );
  assert.equal(readFileSync(join(dir, 'taken.raw'), 'utf8'), 'x', 'an existing file is never overwritten');
});
