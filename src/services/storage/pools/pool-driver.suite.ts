// The conformance suite every PoolDriver runs (pool-driver.ts): each driver's test calls `poolDriverSuite` with a
// factory. It covers every volume verb, the refusals (unknown names, bad sizes, duplicates, in use, backing of a
// clone, shrinking) and that failed operations leave nothing behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isStrataError, type StrataErrorCode } from '../../../base/errors.js';
import { seeded } from '../block-backend.suite.js';
import { createQcow2 } from '../image-create.js';
import { openDisk } from '../open-disk.js';
import type { PoolDriver, VolumeAttachment } from './pool-driver.js';

/** What a factory hands the suite. */
export interface PoolSubject {
  /** A fresh, empty pool. */
  pool: PoolDriver;
  /** A host folder for files to import and export. */
  scratch: string;
  /** Names of leftover temporary files in the pool's storage (none may remain after any operation). */
  leftovers: () => Promise<string[]>;
  /** Removes everything the subject made. */
  cleanup: () => Promise<void>;
}

const MiB = 1 << 20;

async function rejectsWith(p: Promise<unknown>, code: StrataErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStrataError(err), `expected a StrataError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Reads (or writes) a volume's bytes through a read-only (read-write) attachment. */
async function withDisk<T>(
  pool: PoolDriver,
  name: string,
  readOnly: boolean,
  job: (d: Awaited<ReturnType<typeof openDisk>>) => Promise<T>,
): Promise<T> {
  const a: VolumeAttachment = await pool.attachVolume(name, { readOnly });
  try {
    const d = await openDisk(a.path, { format: a.format, readOnly });
    try {
      return await job(d);
    } finally {
      await d.close();
    }
  } finally {
    await a.release();
  }
}

async function contents(pool: PoolDriver, name: string): Promise<Buffer> {
  return withDisk(pool, name, true, async (d) => {
    const all = new Uint8Array(d.sizeBytes);
    await d.read(0, all);
    return Buffer.from(all);
  });
}

async function fill(pool: PoolDriver, name: string, offset: number, byte: number, length = 64 * 1024): Promise<void> {
  await withDisk(pool, name, false, (d) => d.write(offset, new Uint8Array(length).fill(byte)));
}

/** A pid that no process has: a child that already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Registers the conformance tests for one pool driver. */
export function poolDriverSuite(name: string, make: () => Promise<PoolSubject>): void {
  const run = (title: string, body: (s: PoolSubject) => Promise<void>) =>
    test(title, async () => {
      const s = await make();
      try {
        await body(s);
        assert.deepEqual(await s.leftovers(), [], 'temporary files left behind');
      } finally {
        await s.cleanup();
      }
    });

  describe(`PoolDriver conformance: ${name}`, () => {
    run('create, list, show; duplicates, bad names, bad sizes and unknown volumes are refused', async ({ pool }) => {
      assert.deepEqual(await pool.listVolumes(), []);
      assert.equal(await pool.isEmpty(), true);
      const q = await pool.createVolume('disk1', { sizeBytes: 8 * MiB });
      assert.deepEqual(
        [q.name, q.format, q.capacityBytes, q.backing, q.snapshotCount],
        ['disk1', 'qcow2', 8 * MiB, null, 0],
      );
      const r = await pool.createVolume('a-raw', { sizeBytes: 4 * MiB, format: 'raw' });
      assert.deepEqual([r.format, r.capacityBytes], ['raw', 4 * MiB]);
      assert.deepEqual(
        (await pool.listVolumes()).map((v) => v.name),
        ['a-raw', 'disk1'],
      );
      assert.equal((await pool.getVolume('disk1')).pool, pool.name);
      await rejectsWith(pool.createVolume('disk1', { sizeBytes: MiB }), 'ALREADY_EXISTS', /disk1/);
      for (const bad of ['../x', '.hidden', 'a/b', '', 'x'.repeat(65), 'a b', '..']) {
        await rejectsWith(pool.createVolume(bad, { sizeBytes: MiB }), 'INVALID_ARGUMENT', /invalid volume name/);
      }
      for (const size of [0, -512, 1000, 1.5, 2 ** 56]) {
        await rejectsWith(pool.createVolume('sized', { sizeBytes: size }), 'INVALID_ARGUMENT', /size/);
      }
      await rejectsWith(pool.getVolume('nope'), 'NOT_FOUND', /nope/);
      await rejectsWith(pool.deleteVolume('nope'), 'NOT_FOUND');
      await rejectsWith(pool.resizeVolume('nope', MiB), 'NOT_FOUND');
      await rejectsWith(pool.cloneVolume('c', 'nope'), 'NOT_FOUND');
      await rejectsWith(pool.createSnapshot('nope', 's'), 'NOT_FOUND');
      await rejectsWith(pool.listSnapshots('nope'), 'NOT_FOUND');
      await rejectsWith(pool.attachVolume('nope', { readOnly: true }), 'NOT_FOUND');
      assert.deepEqual(
        (await pool.listVolumes()).map((v) => v.name),
        ['a-raw', 'disk1'],
      );
      await pool.deleteVolume('a-raw');
      await pool.deleteVolume('disk1');
      assert.equal(await pool.isEmpty(), true);
    });

    run('snapshots: create, list, revert to earlier content, delete; raw volumes have none', async ({ pool }) => {
      await pool.createVolume('v', { sizeBytes: 4 * MiB });
      await fill(pool, 'v', 0, 0xaa);
      const s1 = await pool.createSnapshot('v', 'first');
      assert.deepEqual([s1.name, s1.diskSizeBytes], ['first', 4 * MiB]);
      const atFirst = await contents(pool, 'v');
      await fill(pool, 'v', 0, 0xbb);
      await fill(pool, 'v', 2 * MiB, 0xcc);
      await pool.createSnapshot('v', 'second');
      await rejectsWith(pool.createSnapshot('v', 'second'), 'ALREADY_EXISTS');
      await rejectsWith(pool.createSnapshot('v', '../evil'), 'INVALID_ARGUMENT');
      assert.deepEqual(
        (await pool.listSnapshots('v')).map((s) => s.name),
        ['first', 'second'],
      );
      assert.equal((await pool.getVolume('v')).snapshotCount, 2);
      await pool.revertSnapshot('v', 'first');
      assert.ok((await contents(pool, 'v')).equals(atFirst), 'content after revert');
      await rejectsWith(pool.revertSnapshot('v', 'third'), 'NOT_FOUND');
      await pool.deleteSnapshot('v', 'second');
      await rejectsWith(pool.deleteSnapshot('v', 'second'), 'NOT_FOUND');
      assert.deepEqual(
        (await pool.listSnapshots('v')).map((s) => s.name),
        ['first'],
      );
      await pool.createVolume('r', { sizeBytes: MiB, format: 'raw' });
      await rejectsWith(pool.createSnapshot('r', 's'), 'INVALID_ARGUMENT', /raw/);
      assert.deepEqual(await pool.listSnapshots('r'), []);
    });

    run(
      'clones read through to their base; the base cannot be deleted, reverted, resized or written',
      async ({ pool }) => {
        await pool.createVolume('base', { sizeBytes: 4 * MiB });
        await fill(pool, 'base', MiB, 0x11);
        await pool.createSnapshot('base', 'snap');
        const c = await pool.cloneVolume('clone', 'base');
        assert.deepEqual([c.backing, c.format, c.capacityBytes], ['base', 'qcow2', 4 * MiB]);
        assert.ok(c.allocationBytes < MiB, 'a clone is thin');
        const baseBytes = await contents(pool, 'base');
        assert.ok((await contents(pool, 'clone')).equals(baseBytes));
        await fill(pool, 'clone', MiB, 0x22);
        assert.ok((await contents(pool, 'base')).equals(baseBytes), 'the base is unchanged');
        assert.deepEqual((await pool.getVolume('base')).dependents, ['clone']);
        await rejectsWith(pool.deleteVolume('base'), 'CONFLICT', /backing of 'clone'/);
        await rejectsWith(pool.revertSnapshot('base', 'snap'), 'CONFLICT', /backing of 'clone'/);
        await rejectsWith(pool.attachVolume('base', { readOnly: false }), 'CONFLICT', /clone/);
        await rejectsWith(pool.resizeVolume('base', 8 * MiB), 'CONFLICT', /backing of 'clone'/);
        await (await pool.attachVolume('base', { readOnly: true })).release();
        await rejectsWith(pool.cloneVolume('clone', 'base'), 'ALREADY_EXISTS');
        const cc = await pool.cloneVolume('clone2', 'clone');
        assert.equal(cc.backing, 'clone');
        assert.equal((await contents(pool, 'clone2'))[MiB], 0x22);
        await pool.deleteVolume('clone2');
        await pool.deleteVolume('clone');
        await pool.deleteVolume('base');
      },
    );

    run('resize grows qcow2 and raw volumes, keeps the data and refuses to shrink', async ({ pool }) => {
      for (const format of ['qcow2', 'raw'] as const) {
        const n = `g-${format}`;
        await pool.createVolume(n, { sizeBytes: 2 * MiB, format });
        await fill(pool, n, 0, 0x33);
        const before = await contents(pool, n);
        const grown = await pool.resizeVolume(n, 64 * MiB);
        assert.equal(grown.capacityBytes, 64 * MiB);
        const after = await contents(pool, n);
        assert.ok(after.subarray(0, 2 * MiB).equals(before));
        assert.ok(after.subarray(2 * MiB).every((b) => b === 0));
        await fill(pool, n, 64 * MiB - 65536, 0x44);
        await rejectsWith(pool.resizeVolume(n, MiB), 'CONFLICT', /shrink/);
        await rejectsWith(pool.resizeVolume(n, 1000), 'INVALID_ARGUMENT');
        assert.equal((await pool.getVolume(n)).capacityBytes, 64 * MiB);
      }
    });

    run('import raw and qcow2 images (a backing chain is flattened), with progress', async ({ pool, scratch }) => {
      const rnd = seeded(5);
      const raw = new Uint8Array(3 * MiB);
      for (let i = 0; i < raw.length; i += 4096) if (rnd() % 3 === 0) raw.fill(rnd() & 0xff, i, i + 4096);
      const rawPath = join(scratch, 'src.raw');
      writeFileSync(rawPath, raw);
      let last = [0, 0];
      const a = await pool.importVolume('from-raw', rawPath, { onProgress: (d, t) => (last = [d, t]) });
      assert.deepEqual(last, [3 * MiB, 3 * MiB]);
      assert.equal(a.format, 'qcow2');
      assert.ok((await contents(pool, 'from-raw')).equals(Buffer.from(raw)));
      const asRaw = await pool.importVolume('raw-copy', rawPath, { format: 'raw' });
      assert.equal(asRaw.format, 'raw');
      assert.ok((await contents(pool, 'raw-copy')).equals(Buffer.from(raw)));
      // an overlay outside the pool on the raw file: the volume holds the merged content, with no backing
      const top = join(scratch, 'top.qcow2');
      await createQcow2(top, { backingFile: 'src.raw', backingFormat: 'raw' });
      const d = await openDisk(top);
      await d.write(0, new Uint8Array(4096).fill(0x77));
      await d.close();
      const merged = Buffer.from(raw);
      merged.fill(0x77, 0, 4096);
      const b = await pool.importVolume('from-chain', top);
      assert.equal(b.backing, null);
      assert.ok((await contents(pool, 'from-chain')).equals(merged));
      await rejectsWith(pool.importVolume('from-raw', rawPath), 'ALREADY_EXISTS');
      await assert.rejects(pool.importVolume('missing', join(scratch, 'no-such-file')), (e: unknown) =>
        isStrataError(e),
      );
      writeFileSync(join(scratch, 'bad.qcow2'), Buffer.from('QFI\xfbgarbage', 'latin1'));
      await assert.rejects(pool.importVolume('bad', join(scratch, 'bad.qcow2')), (e: unknown) => isStrataError(e));
      assert.deepEqual(
        (await pool.listVolumes()).map((v) => v.name),
        ['from-chain', 'from-raw', 'raw-copy'],
      );
    });

    run('export to qcow2, compressed qcow2 and raw reads back identically', async ({ pool, scratch }) => {
      await pool.createVolume('src', { sizeBytes: 4 * MiB });
      await fill(pool, 'src', 0, 0x5a, MiB);
      await fill(pool, 'src', 3 * MiB, 0xa5, 4096);
      const want = await contents(pool, 'src');
      for (const [file, format, compress] of [
        ['out.qcow2', 'qcow2', false],
        ['out-z.qcow2', 'qcow2', true],
        ['out.raw', 'raw', false],
      ] as const) {
        const dest = join(scratch, file);
        let done = 0;
        await pool.exportVolume('src', dest, { format, compress, onProgress: (d) => (done = d) });
        assert.equal(done, 4 * MiB);
        const d = await openDisk(dest, { readOnly: true });
        const got = new Uint8Array(d.sizeBytes);
        await d.read(0, got);
        await d.close();
        assert.ok(Buffer.from(got).equals(want), `${file} content`);
        await rejectsWith(pool.exportVolume('src', dest, { format }), 'ALREADY_EXISTS');
      }
      assert.ok(readFileSync(join(scratch, 'out-z.qcow2')).length < readFileSync(join(scratch, 'out.qcow2')).length);
      await rejectsWith(
        pool.exportVolume('src', join(scratch, 'x.raw'), { format: 'raw', compress: true }),
        'INVALID_ARGUMENT',
      );
      await rejectsWith(pool.exportVolume('nope', join(scratch, 'y.raw'), { format: 'raw' }), 'NOT_FOUND');
    });

    run('in use: one read-write user, shared readers, refusals while used, stale locks ignored', async ({ pool }) => {
      await pool.createVolume('busy', { sizeBytes: MiB });
      const rw = await pool.attachVolume('busy', { readOnly: false });
      assert.deepEqual((await pool.getVolume('busy')).users, [{ pid: process.pid, mode: 'rw' }]);
      await rejectsWith(pool.attachVolume('busy', { readOnly: false }), 'CONFLICT', /in use read-write by process/);
      await rejectsWith(pool.attachVolume('busy', { readOnly: true }), 'CONFLICT');
      await rejectsWith(pool.deleteVolume('busy'), 'CONFLICT', new RegExp(`process ${process.pid}`));
      await rejectsWith(pool.resizeVolume('busy', 2 * MiB), 'CONFLICT');
      await rejectsWith(pool.createSnapshot('busy', 's'), 'CONFLICT');
      await rw.release();
      await rw.release();
      const r1 = await pool.attachVolume('busy', { readOnly: true });
      const r2 = await pool.attachVolume('busy', { readOnly: true, pid: process.ppid });
      await rejectsWith(pool.attachVolume('busy', { readOnly: false }), 'CONFLICT', /read-only/);
      await rejectsWith(pool.deleteVolume('busy'), 'CONFLICT');
      await r1.release();
      await r2.release();
      // a VM that died without releasing: its lock is ignored
      await pool.attachVolume('busy', { readOnly: false, pid: deadPid() });
      assert.deepEqual((await pool.getVolume('busy')).users, []);
      await pool.deleteVolume('busy');
      await rejectsWith(pool.getVolume('busy'), 'NOT_FOUND');
    });
  });
}
