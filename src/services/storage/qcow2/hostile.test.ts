// Truncated, corrupt and hostile qcow2 files: each must fail with a StrataError naming the image and the problem,
// never with a crash (a non-Strata exception), a hang, or an allocation sized by a number in the file.
import assert from 'node:assert/strict';
import { linkSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isStrataError } from '../../../base/errors.js';
import { seeded } from '../block-backend.suite.js';
import { createQcow2 } from '../image-create.js';
import { openDisk } from '../open-disk.js';
import { exportQcow2 } from './export.js';
import { Qcow2Image } from './qcow2-image.js';
import { createSnapshot } from './snapshots.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function fresh(opts: { size?: number; clusterSize?: number } = {}): Promise<string> {
  const p = join(dir, `img-${n++}.qcow2`);
  await createQcow2(p, { sizeBytes: opts.size ?? 4 << 20, clusterSize: opts.clusterSize ?? 65536 });
  return p;
}

function patch(path: string, offset: number, bytes: number[] | Uint8Array): void {
  const b = readFileSync(path);
  b.set(bytes, offset);
  writeFileSync(path, b);
}

function be64(v: number | bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v));
  return [...b];
}

function be32(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return [...b];
}

/** Opens and reads the whole disk; returns the error (asserting it is a StrataError naming the path). */
async function failure(path: string, opts: { readOnly?: boolean } = { readOnly: true }): Promise<string> {
  try {
    const d = await openDisk(path, opts);
    try {
      const all = new Uint8Array(d.sizeBytes);
      await d.read(0, all);
    } finally {
      await d.close();
    }
  } catch (err) {
    assert.ok(isStrataError(err), `not a StrataError: ${err instanceof Error ? err.stack : String(err)}`);
    assert.ok((err as Error).message.includes(path), `message does not name the image: ${(err as Error).message}`);
    assert.ok(!(err as Error).message.includes('\n'));
    return (err as Error).message;
  }
  assert.fail(`${path} opened and read without error`);
}

describe('hostile qcow2 headers', () => {
  test('truncated file', async () => {
    const p = join(dir, 'trunc.qcow2');
    writeFileSync(p, Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
    assert.match(await failure(p), /truncated/);
  });
  test('truncated after the header: the L1 table is missing', async () => {
    const p = await fresh();
    writeFileSync(p, readFileSync(p).subarray(0, 65536));
    assert.match(await failure(p), /past the end of the file/);
  });
  test('version 4', async () => {
    const p = await fresh();
    patch(p, 4, be32(4));
    assert.match(await failure(p), /version 4/);
  });
  test('unknown incompatible feature bit', async () => {
    const p = await fresh();
    patch(p, 72, be64(1n << 7n));
    assert.match(await failure(p), /incompatible feature bit\(s\) 7/);
  });
  test('external data file bit is refused', async () => {
    const p = await fresh();
    patch(p, 72, be64(1n << 2n));
    assert.match(await failure(p), /incompatible feature bit\(s\) 2/);
  });
  test('cluster_bits 31', async () => {
    const p = await fresh();
    patch(p, 20, be32(31));
    assert.match(await failure(p), /cluster_bits 31/);
  });
  test('huge l1_size is refused before any allocation', async () => {
    const p = await fresh();
    patch(p, 36, be32(0xffffffff));
    assert.match(await failure(p), /L1 table of \d+ bytes is larger than the limit/);
  });
  test('L1 table offset past the end', async () => {
    const p = await fresh();
    patch(p, 40, be64(2 ** 40));
    assert.match(await failure(p), /L1 table .* past the end of the file/);
  });
  test('huge refcount table', async () => {
    const p = await fresh();
    patch(p, 56, be32(0x7fffffff));
    assert.match(await failure(p), /refcount table of \d+ bytes is larger than the limit/);
  });
  test('refcount block past the end', async () => {
    const p = await fresh();
    patch(p, 65536, be64(1 << 30));
    assert.match(await failure(p), /refcount block 0 .* past the end/);
  });
  test('too many snapshots', async () => {
    const p = await fresh();
    patch(p, 60, be32(1 << 20));
    assert.match(await failure(p), /nb_snapshots/);
  });
  test('header_length beyond the cluster', async () => {
    const p = await fresh();
    patch(p, 100, be32(1 << 20));
    assert.match(await failure(p), /header_length/);
  });
  test('virtual size too large for the L1 table', async () => {
    const p = await fresh();
    patch(p, 24, be64(2 ** 50));
    assert.match(await failure(p), /l1_size \d+ is too small/);
  });
  test('encrypted image', async () => {
    const p = await fresh();
    patch(p, 32, be32(1));
    assert.match(await failure(p), /encryption/);
  });
  test('a corrupt-marked image opens read-only only', async () => {
    const p = await fresh();
    patch(p, 72, be64(2));
    assert.match(await failure(p, {}), /marked corrupt/);
    const d = await openDisk(p, { readOnly: true });
    await d.close();
  });
});

describe('hostile qcow2 tables', () => {
  test('L2 table past the end of the file', async () => {
    const p = await fresh();
    patch(p, 3 * 65536, be64((1n << 63n) | (1n << 40n)));
    assert.match(await failure(p), /L2 table .* past the end of the file/);
  });
  test('data cluster past the end of the file', async () => {
    const p = await fresh();
    const d = await Qcow2Image.open(p);
    await d.write(0, new Uint8Array(512).fill(1));
    await d.close();
    const l2 = Number(new DataView(readFileSync(p).buffer).getBigUint64(3 * 65536) & 0xffffffffffffn) & ~511;
    patch(p, l2, be64((1n << 63n) | (1n << 44n)));
    assert.match(await failure(p), /past the end of the file/);
  });
  test('unaligned data cluster', async () => {
    const p = await fresh();
    const d = await Qcow2Image.open(p);
    await d.write(0, new Uint8Array(512).fill(1));
    await d.close();
    const l2 = Number(new DataView(readFileSync(p).buffer).getBigUint64(3 * 65536) & 0xffffffffffffn) & ~511;
    patch(p, l2, be64((1n << 63n) | 0x10200n));
    assert.match(await failure(p), /unaligned/);
  });
  test('a data entry pointing at the refcount block is refused on write', async () => {
    const p = await fresh();
    const d = await Qcow2Image.open(p);
    await d.write(0, new Uint8Array(512).fill(1));
    await d.close();
    const l2 = Number(new DataView(readFileSync(p).buffer).getBigUint64(3 * 65536) & 0xffffffffffffn) & ~511;
    patch(p, l2, be64((1n << 63n) | BigInt(2 * 65536))); // cluster 2: the refcount block (refcount 1)
    const w = await openDisk(p);
    await assert.rejects(w.write(0, new Uint8Array(512)), (e: unknown) => {
      assert.ok(isStrataError(e));
      assert.match((e as Error).message, /points at metadata \(cluster 2\)/);
      return true;
    });
    await w.close();
    assert.equal(readFileSync(p).readUInt16BE(2 * 65536), 1); // the refcount block is intact
  });
  test('an L1 entry pointing at the refcount table is refused on write', async () => {
    const p = await fresh();
    patch(p, 3 * 65536, be64((1n << 63n) | BigInt(65536)));
    const w = await openDisk(p);
    await assert.rejects(w.write(0, new Uint8Array(512)), /points at metadata \(cluster 1\)/);
    await w.close();
  });
  test('garbage compressed cluster', async () => {
    const src = join(dir, 'comp-src.raw');
    writeFileSync(src, Buffer.alloc(1 << 20, 'compressible text '));
    const from = await openDisk(src, { readOnly: true });
    const p = join(dir, 'comp.qcow2');
    await exportQcow2(from, p, { compress: true });
    await from.close();
    const b = readFileSync(p);
    // the compressed data starts in cluster 4 (the L2 table follows it): scramble it
    const rnd = seeded(5);
    for (let i = 4 * 65536; i < 4 * 65536 + 4096; i++) b[i] = rnd() & 0xff;
    writeFileSync(p, b);
    assert.match(await failure(p), /corrupt compressed cluster/);
  });
});

describe('hostile backing chains', () => {
  test('two images that name each other', async () => {
    const a = join(dir, 'loop-a.qcow2');
    const b = join(dir, 'loop-b.qcow2');
    writeFileSync(join(dir, 'loop-base.raw'), Buffer.alloc(1 << 20));
    await createQcow2(b, { backingFile: 'loop-base.raw', backingFormat: 'raw' });
    await createQcow2(a, { backingFile: 'loop-b.qcow2', backingFormat: 'qcow2' });
    // rewrite b's backing name to point at a (same length: "loop-a.qcow2" vs "loop-base.raw" differ, so rebuild)
    rmSync(b);
    await createQcow2(b, { sizeBytes: 1 << 20, backingFile: 'loop-a.qcow2', backingFormat: 'qcow2' }).catch(() => {});
    assert.match(await failure(a), /backing chain loop/);
  });
  test('an image whose backing file is itself under another name (hard link)', async () => {
    const a = join(dir, 'self.qcow2');
    writeFileSync(join(dir, 'self-base.raw'), Buffer.alloc(1 << 20));
    await createQcow2(a, { sizeBytes: 1 << 20, backingFile: 'selflink.qcow2', backingFormat: 'qcow2' }).catch(() => {});
    linkSync(a, join(dir, 'selflink.qcow2'));
    assert.match(await failure(a), /backing chain loop/);
  });
  test('a chain deeper than the limit', async () => {
    writeFileSync(join(dir, 'deep-0.raw'), Buffer.alloc(65536));
    let prev = 'deep-0.raw';
    for (let i = 1; i <= 70; i++) {
      const name = `deep-${i}.qcow2`;
      await createQcow2(join(dir, name), {
        sizeBytes: 65536,
        backingFile: prev,
        backingFormat: i === 1 ? 'raw' : 'qcow2',
      });
      prev = name;
    }
    assert.match(await failure(join(dir, prev)), /longer than 64/);
  });
  test('a missing backing file', async () => {
    const a = join(dir, 'orphan.qcow2');
    writeFileSync(join(dir, 'gone.raw'), Buffer.alloc(65536));
    await createQcow2(a, { backingFile: 'gone.raw', backingFormat: 'raw' });
    rmSync(join(dir, 'gone.raw'));
    assert.match(await failure(a), /gone\.raw.*no such file|backing file/);
  });
  test('an unsupported backing format', async () => {
    const a = join(dir, 'vmdk-backed.qcow2');
    writeFileSync(join(dir, 'x.raw'), Buffer.alloc(65536));
    await createQcow2(a, { backingFile: 'x.raw', backingFormat: 'raw' });
    const b = readFileSync(a);
    const at = b.indexOf('raw', 112);
    b.set(Buffer.from('vmd'), at);
    writeFileSync(a, b);
    assert.match(await failure(a), /backing format vmd/);
  });
});

test('seeded metadata fuzzing: every outcome is data or a StrataError', { timeout: 60_000 }, async () => {
  const base = join(dir, 'fuzz-base.qcow2');
  await createQcow2(base, { sizeBytes: 2 << 20, clusterSize: 4096 });
  const img = await Qcow2Image.open(base);
  const rnd = seeded(99);
  for (let i = 0; i < 40; i++) await img.write((rnd() % 4000) * 512, new Uint8Array(4096).fill(i + 1));
  await createSnapshot(img, 'a');
  for (let i = 0; i < 20; i++) await img.write((rnd() % 4000) * 512, new Uint8Array(1024).fill(i + 100));
  await img.close();
  const pristine = readFileSync(base);
  const meta = 12 * 4096; // header, refcount table and block, L1, first L2 tables and snapshot metadata
  let failures = 0;
  for (let round = 0; round < 150; round++) {
    const b = Buffer.from(pristine);
    const flips = 1 + (rnd() % 8);
    for (let k = 0; k < flips; k++) b[rnd() % Math.min(meta, b.length)] = rnd() & 0xff;
    const p = join(dir, 'fuzz.qcow2');
    writeFileSync(p, b);
    for (const readOnly of [true, false]) {
      try {
        const d = await openDisk(p, { readOnly });
        const all = new Uint8Array(d.sizeBytes);
        await d.read(0, all);
        if (!readOnly) await d.write(0, new Uint8Array(8192).fill(7));
        await d.close();
      } catch (err) {
        assert.ok(isStrataError(err), `round ${round}: ${err instanceof Error ? err.stack : String(err)}`);
        failures++;
      }
    }
  }
  assert.ok(failures > 0);
});
