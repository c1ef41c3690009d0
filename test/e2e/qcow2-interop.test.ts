// Interop with Debian's qemu-img both ways. Images written by Strata (seeded random write / discard /
// write-zeroes / snapshot workloads) must pass `qemu-img check` with no errors or leaks and compare equal to a
// raw model; images made by qemu-img (plain, zlib- and zstd-compressed, extended L2, backing chains, internal
// snapshots, dirty with lazy refcounts, other refcount widths) must read back in Strata exactly as
// `qemu-img convert -O raw` renders them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { seeded } from '../../src/services/storage/block-backend.suite.js';
import { createQcow2 } from '../../src/services/storage/image-create.js';
import { openDisk } from '../../src/services/storage/open-disk.js';
import { checkImage } from '../../src/services/storage/qcow2/check.js';
import { exportQcow2 } from '../../src/services/storage/qcow2/export.js';
import { Qcow2Image } from '../../src/services/storage/qcow2/qcow2-image.js';
import {
  applySnapshot,
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
} from '../../src/services/storage/qcow2/snapshots.js';
import { haveQemuImg, qemuCheck, run } from '../helpers/qemu-img.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-interop-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const skip = haveQemuImg() ? false : 'qemu-img is not installed (apt-get install qemu-utils)';

function assertClean(path: string): void {
  const c = qemuCheck(path);
  if (c.status !== 0) c.raw += run('qemu-img', ['check', path], [0, 2, 3]).stdout;
  assert.equal(c.corruptions, 0, `${path}: qemu-img check corruptions\n${c.raw}`);
  assert.equal(c.leaks, 0, `${path}: qemu-img check leaks\n${c.raw}`);
  assert.equal(c.status, 0, c.raw);
}

function assertSameAsModel(path: string, model: Uint8Array, name: string): void {
  const raw = join(dir, `${name}.model.raw`);
  writeFileSync(raw, model);
  const r = run('qemu-img', ['compare', '-F', 'raw', path, raw], [0, 1]);
  assert.equal(r.status, 0, `${path}: qemu-img compare differs from the model: ${r.stdout}`);
}

/** What qemu renders for an image: the reference for our reads. */
function qemuRaw(path: string, name: string): Uint8Array {
  const out = join(dir, `${name}.qemu.raw`);
  run('qemu-img', ['convert', '-O', 'raw', path, out]);
  return new Uint8Array(readFileSync(out));
}

async function strataRead(path: string): Promise<Uint8Array> {
  const d = await openDisk(path, { readOnly: true });
  try {
    const all = new Uint8Array(d.sizeBytes);
    for (let off = 0; off < all.length; off += 1 << 20) {
      await d.read(off, all.subarray(off, Math.min(all.length, off + (1 << 20))));
    }
    return all;
  } finally {
    await d.close();
  }
}

function pattern(size: number, seed: number): Uint8Array {
  const rnd = seeded(seed);
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) {
    const kind = rnd() % 4;
    if (kind === 0) continue; // zeros
    if (kind === 1) b.fill(rnd() & 0xff, i, i + 4096);
    else {
      for (let k = i; k < i + 4096; k += 4) {
        b[k] = rnd() & 0xff;
        b[k + 1] = k & 0xff;
      }
    }
  }
  return b;
}

type Op = 'write' | 'discard' | 'zeroes' | 'snapshot' | 'apply' | 'delete' | 'flush';

/** A seeded workload over a Strata qcow2 image, mirrored on a model (snapshots keep model copies). */
async function workload(
  img: Qcow2Image,
  model: Uint8Array,
  seed: number,
  steps: number,
  snapshots: boolean,
): Promise<void> {
  const rnd = seeded(seed);
  const sectors = img.sizeBytes / 512;
  const snaps = new Map<string, Uint8Array>();
  let serial = 0;
  for (let i = 0; i < steps; i++) {
    const r = rnd() % 100;
    const op: Op =
      r < 60
        ? 'write'
        : r < 72
          ? 'discard'
          : r < 80
            ? 'zeroes'
            : r < 85
              ? 'flush'
              : !snapshots
                ? 'write'
                : r < 91
                  ? 'snapshot'
                  : r < 96
                    ? 'apply'
                    : 'delete';
    const len = (1 + (rnd() % 384)) * 512;
    const off = (rnd() % (sectors - len / 512)) * 512;
    switch (op) {
      case 'write': {
        const data = new Uint8Array(len);
        for (let k = 0; k < len; k += 512) data.fill((rnd() & 0xff) | 1, k, k + 512);
        await img.write(off, data);
        model.set(data, off);
        break;
      }
      case 'discard':
        await img.discard(off, len);
        model.fill(0, off, off + len);
        break;
      case 'zeroes':
        await img.writeZeroes(off, len, rnd() % 2 === 0);
        model.fill(0, off, off + len);
        break;
      case 'flush':
        await img.flush();
        break;
      case 'snapshot': {
        const name = `s${serial++}`;
        await createSnapshot(img, name);
        snaps.set(name, model.slice());
        break;
      }
      case 'apply':
      case 'delete': {
        const names = [...snaps.keys()];
        if (names.length === 0) break;
        const name = names[rnd() % names.length]!;
        if (op === 'apply') {
          await applySnapshot(img, name);
          model.set(snaps.get(name)!);
        } else {
          await deleteSnapshot(img, name);
          snaps.delete(name);
        }
        break;
      }
    }
  }
}

describe('images written by Strata pass qemu-img check and compare', { skip }, () => {
  const cases: { name: string; clusterSize: number; size: number; snapshots: boolean; seed: number }[] = [
    { name: 'plain-64k', clusterSize: 65536, size: 24 << 20, snapshots: false, seed: 11 },
    { name: 'snapshots-64k', clusterSize: 65536, size: 16 << 20, snapshots: true, seed: 12 },
    { name: 'snapshots-4k', clusterSize: 4096, size: 8 << 20, snapshots: true, seed: 13 },
    // 512-byte clusters: the refcount table (64 entries of 256 clusters) must grow and move while in use
    { name: 'table-growth-512', clusterSize: 512, size: 12 << 20, snapshots: true, seed: 14 },
  ];
  for (const c of cases) {
    test(`${c.name}: seeded workload (seed ${c.seed})`, async () => {
      const path = join(dir, `${c.name}.qcow2`);
      await createQcow2(path, { sizeBytes: c.size, clusterSize: c.clusterSize });
      const img = await Qcow2Image.open(path);
      const model = new Uint8Array(c.size);
      await workload(img, model, c.seed, 600, c.snapshots);
      await img.flush();
      const own = await checkImage(img);
      assert.deepEqual([own.corruptions, own.leaks], [0, 0], own.problems.join('\n'));
      await img.close();
      assertClean(path);
      assertSameAsModel(path, model, c.name);
      if (c.snapshots) run('qemu-img', ['snapshot', '-l', path]);
    });
  }

  test('overlay over a qemu-made qcow2 base: check clean, compare equal, base untouched', async () => {
    const base = join(dir, 'ov-base.qcow2');
    const baseData = pattern(8 << 20, 21);
    writeFileSync(join(dir, 'ov-base.raw'), baseData);
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(dir, 'ov-base.raw'), base]);
    const top = join(dir, 'ov-top.qcow2');
    await createQcow2(top, { backingFile: 'ov-base.qcow2', backingFormat: 'qcow2' });
    const img = (await openDisk(top)) as Qcow2Image;
    const model = baseData.slice();
    await workload(img, model, 22, 400, true);
    await img.close();
    assertClean(top);
    assertSameAsModel(top, model, 'ov-top');
    assertClean(base);
    assertSameAsModel(base, baseData, 'ov-base');
  });

  test('compressed export: qemu-img check clean and compare equal', async () => {
    const src = join(dir, 'exp-src.raw');
    const data = pattern(6 << 20, 31);
    writeFileSync(src, data);
    const from = await openDisk(src, { readOnly: true });
    const dest = join(dir, 'exp.qcow2');
    await exportQcow2(from, dest, { compress: true });
    await from.close();
    assertClean(dest);
    assertSameAsModel(dest, data, 'exp');
    const map = run('qemu-img', ['check', dest]).stdout;
    const pct = Number(/([\d.]+)% compressed clusters/.exec(map)?.[1] ?? '0');
    assert.ok(pct > 50, `only ${pct}% of the clusters are compressed`);
    // and Strata writes over its own compressed clusters
    const img = await Qcow2Image.open(dest);
    const model = data.slice();
    await workload(img, model, 32, 200, false);
    await img.close();
    assertClean(dest);
    assertSameAsModel(dest, model, 'exp2');
  });

  for (const bits of [8, 64]) {
    test(`refcount_bits=${bits} images made by qemu-img take Strata writes`, async () => {
      const path = join(dir, `rc${bits}.qcow2`);
      run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `refcount_bits=${bits},cluster_size=4096`, path, '8M']);
      const img = await Qcow2Image.open(path);
      const model = new Uint8Array(8 << 20);
      await workload(img, model, 40 + bits, 300, true);
      await img.close();
      assertClean(path);
      assertSameAsModel(path, model, `rc${bits}`);
    });
  }
});

describe('images made by qemu-img read back identically in Strata', { skip }, () => {
  const size = 8 << 20;
  const data = pattern(size, 51);
  const rawPath = join(dir, 'src.raw');
  writeFileSync(rawPath, data);

  const convert = (name: string, opts: string[]): string => {
    const p = join(dir, `${name}.qcow2`);
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...opts, rawPath, p]);
    return p;
  };

  for (const [name, opts] of [
    ['plain', []],
    ['plain-4k', ['-o', 'cluster_size=4096']],
    ['zlib', ['-c']],
    ['zstd', ['-c', '-o', 'compression_type=zstd']],
    ['zstd-2m', ['-c', '-o', 'compression_type=zstd,cluster_size=2M']],
    ['extl2', ['-o', 'extended_l2=on,cluster_size=128k']],
    ['refcount1', ['-o', 'refcount_bits=1']],
    ['v2', ['-o', 'compat=0.10']],
  ] as [string, string[]][]) {
    test(`${name}`, async () => {
      const p = convert(name, opts);
      const got = await strataRead(p);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), `${name}: Strata reads differ from the source`);
    });
  }

  test('extended L2 overlay with subcluster writes and zeroes over a raw backing file', async () => {
    const base = join(dir, 'x-base.raw');
    writeFileSync(base, pattern(size, 52));
    const top = join(dir, 'x-top.qcow2');
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'raw',
      '-b',
      'x-base.raw',
      '-o',
      'extended_l2=on,cluster_size=64k',
      top,
    ]);
    const cmds = [
      'write -P 0x11 4k 4k',
      'write -P 0x22 70k 10k',
      'write -z 200k 8k',
      'write -P 0x33 1M 300k',
      'discard 1100k 64k',
      'write -z 2M 128k',
    ];
    run('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), top]);
    const got = await strataRead(top);
    assert.ok(Buffer.from(got).equals(Buffer.from(qemuRaw(top, 'x-top'))));
    // writes to extended-L2 images are refused with a clear error
    await assert.rejects(openDisk(top), /extended L2/);
  });

  test('backing chain raw <- qcow2 <- qcow2 <- qcow2 with relative names', async () => {
    const base = join(dir, 'c0.raw');
    writeFileSync(base, pattern(size, 53));
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', 'c0.raw', join(dir, 'c1.qcow2')]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', 'c1.qcow2', join(dir, 'c2.qcow2')]);
    run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      'c2.qcow2',
      '-o',
      'cluster_size=4k',
      join(dir, 'c3.qcow2'),
    ]);
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xa1 0 1M', '-c', 'write -z 3M 64k', join(dir, 'c1.qcow2')]);
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xa2 512k 1M', '-c', 'discard 0 64k', join(dir, 'c2.qcow2')]);
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xa3 6000k 3k', join(dir, 'c3.qcow2')]);
    const top = join(dir, 'c3.qcow2');
    assert.ok(Buffer.from(await strataRead(top)).equals(Buffer.from(qemuRaw(top, 'c3'))));
  });

  test('internal snapshots: list, read current state, apply each, then qemu-img check', async () => {
    const p = convert('snaps', []);
    const states: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      run('qemu-img', ['snapshot', '-c', `q${i}`, p]);
      states.push(qemuRaw(p, `snaps${i}`));
      run('qemu-io', [
        '-f',
        'qcow2',
        '-c',
        `write -P 0x${(0x40 + i).toString(16)} ${i * 1000}k 700k`,
        '-c',
        `write -z ${i + 4}M 256k`,
        p,
      ]);
    }
    const current = qemuRaw(p, 'snaps-cur');
    assert.ok(Buffer.from(await strataRead(p)).equals(Buffer.from(current)));
    const img = await Qcow2Image.open(p);
    assert.deepEqual(
      (await listSnapshots(img)).map((s) => s.name),
      ['q0', 'q1', 'q2'],
    );
    for (const i of [2, 0, 1]) {
      await applySnapshot(img, `q${i}`);
      const all = new Uint8Array(img.sizeBytes);
      await img.read(0, all);
      assert.ok(Buffer.from(all).equals(Buffer.from(states[i]!)), `after applying q${i}`);
    }
    await deleteSnapshot(img, 'q0');
    await img.close();
    assertClean(p);
    assert.ok(Buffer.from(qemuRaw(p, 'snaps-after')).equals(Buffer.from(states[1]!)));
  });

  test('a dirty image (lazy refcounts, writer killed) is repaired on open', async () => {
    const p = join(dir, 'dirty.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', p, '8M']);
    // qemu-io raises SIGKILL on itself after the writes: the image stays dirty with stale refcounts
    run(
      'qemu-io',
      ['-f', 'qcow2', '-c', 'write -P 0x77 0 2M', '-c', 'write -P 0x78 5M 1M', '-c', 'sigraise 9', p],
      [137, -1, 0, 1],
    );
    const before = qemuCheck(p);
    assert.ok(before.status !== 0 || before.corruptions > 0 || before.leaks >= 0);
    const repairs: string[] = [];
    const img = await Qcow2Image.open(p, { onRepair: (w) => repairs.push(w) });
    assert.equal(repairs.length, 1);
    await img.write(3 << 20, new Uint8Array(65536).fill(0x79));
    await img.close();
    assertClean(p);
    const got = await strataRead(p);
    assert.ok(got.subarray(0, 2 << 20).every((v) => v === 0x77));
    assert.ok(got.subarray(5 << 20, 6 << 20).every((v) => v === 0x78));
    assert.ok(got.subarray(3 << 20, (3 << 20) + 65536).every((v) => v === 0x79));
  });
});
