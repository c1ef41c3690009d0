import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeFormat } from './backing-chain.js';
import { blockBackendSuite } from './block-backend.suite.js';
import { openDisk } from './open-disk.js';
import { RawBackend } from './raw-backend.js';

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

test('raw: a regular file keeps its size; a character device is refused with a one-line error naming it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-raw-kind-'));
  try {
    const path = join(dir, 'odd.img');
    writeFileSync(path, new Uint8Array(1000));
    const disk = await RawBackend.open(path, { readOnly: true });
    assert.equal(disk.sizeBytes, 1024, 'file size rounded up to 512');
    await disk.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(RawBackend.open('/dev/null', { readOnly: true }), (err: Error) => {
    assert.match(err.message, /^\/dev\/null: not a regular file$/);
    return true;
  });
});

const blockDev = (() => {
  try {
    const name = readdirSync('/dev').find((n) => /^loop\d+$/.test(n) && statSync(`/dev/${n}`).isBlockDevice());
    return name === undefined ? undefined : `/dev/${name}`;
  } catch {
    return undefined;
  }
})();

test('raw: a block device is refused (its stat size is 0) rather than shown to the guest as an empty disk', {
  skip: blockDev === undefined && 'no /dev/loopN block device',
}, async (t) => {
  const dev = blockDev!;
  const res = await RawBackend.open(dev, { readOnly: true }).then(
    async (d) => {
      await d.close();
      return new Error('opened');
    },
    (err: Error) => err,
  );
  if (/cannot open the image/.test(res.message)) {
    t.skip(`${dev} cannot be opened here`);
    return;
  }
  assert.equal(res.message.includes('\n'), false, 'one line');
  assert.match(res.message, new RegExp(`^${dev}: is a block device; .*not supported`));
});
