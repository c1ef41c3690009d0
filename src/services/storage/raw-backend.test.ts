import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockBackendSuite } from './block-backend.suite.js';
import { openDisk } from './open-disk.js';

const SIZE = 4 << 20;

blockBackendSuite('raw file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-raw-'));
  const path = join(dir, 'disk.raw');
  const initial = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 4096) initial[i] = (i >> 12) & 0xff;
  writeFileSync(path, initial);
  return {
    backend: await openDisk(path, { format: 'raw' }),
    initial,
    reopen: (readOnly) => openDisk(path, { readOnly }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
