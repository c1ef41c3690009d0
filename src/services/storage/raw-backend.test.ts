import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeFormat } from './backing-chain.js';
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

test('a probed raw disk refuses a guest write that would turn it into qcow2; format=raw allows it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-raw-guard-'));
  try {
    const path = join(dir, 'disk.img');
    writeFileSync(path, new Uint8Array(65536));
    const header = new Uint8Array(512);
    header.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    const probed = await openDisk(path);
    await assert.rejects(
      probed.write(0, header),
      /refused a write that would make this probed raw image look like qcow2/,
    );
    await probed.write(512, header); // the magic elsewhere is just data
    await probed.close();
    assert.equal(await probeFormat(path), 'raw');
    const explicit = await openDisk(path, { format: 'raw' });
    await explicit.write(0, header);
    await explicit.close();
    assert.equal(await probeFormat(path), 'qcow2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
