// `strata storage pool ...` and `strata storage volume ...` as a user runs them (the built executable): every verb,
// tables and `--format json`, progress lines on import and export, and the refusals (unknown pool or volume, bad
// sizes and names, duplicates, delete while a VM holds the volume or while a clone is based on it, shrinking).
// Interop with Debian's qemu-img: images it makes import identically, and exported volumes pass `qemu-img check`
// and `qemu-img compare`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PoolRegistry } from '../../src/services/storage/pools/pool-registry.js';
import { haveQemuImg, qemuCheck, run } from '../helpers/qemu-img.js';
import { type CliResult, runStrata } from '../helpers/strata-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-vol-cli-'));
const home = join(dir, 'home');
const volumes = join(home, 'storage-pools', 'default', 'volumes');
let sleeper: ChildProcess | undefined;

before(() => {
  assert.ok(haveQemuImg(), 'qemu-img is not installed: apt-get install qemu-utils');
});
after(() => {
  sleeper?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function strata(...args: string[]): Promise<CliResult> {
  return runStrata(['storage', ...args], { env: { STRATA_HOME: home } });
}

async function ok(...args: string[]): Promise<string> {
  const r = await strata(...args);
  assert.equal(r.code, 0, `strata storage ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function fails(code: number, message: RegExp, ...args: string[]): Promise<void> {
  const r = await strata(...args);
  assert.equal(r.code, code, `strata storage ${args.join(' ')} should exit ${code}: ${r.stderr}${r.stdout}`);
  assert.match(r.stderr, message);
  assert.equal(
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => /^(strata|error):/.test(l)).length, // ours or commander's
    1,
    r.stderr,
  );
}

async function jsonOf<T>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args, '--format', 'json')) as T;
}

interface VolumeJson {
  name: string;
  pool: string;
  format: string;
  capacityBytes: number;
  backing: string | null;
  dependents: string[];
  snapshotCount: number;
  users: { pid: number; mode: string }[];
  path: string;
}

describe('strata storage', () => {
  test('pools: the default pool, create, show, list, delete; bad and unknown names', async () => {
    const list = await jsonOf<{ name: string; type: string }[]>('pool', 'list');
    assert.deepEqual(
      list.map((p) => [p.name, p.type]),
      [['default', 'dir']],
    );
    const own = join(dir, 'pool-b');
    assert.match(await ok('pool', 'create', 'b', '--path', own), /created storage pool b \(dir, /);
    assert.match(
      await ok('pool', 'list'),
      /^NAME\s+TYPE\s+VOLUMES\s+ALLOCATED\s+AVAILABLE\s+PATH\n(.*\n)*b\s+dir\s+0 /m,
    );
    assert.equal((await jsonOf<{ path: string }>('pool', 'show', 'b')).path, own);
    await fails(1, /storage pool 'b' already exists/, 'pool', 'create', 'b');
    await fails(2, /invalid pool name '\.\.'/, 'pool', 'create', '..');
    await fails(2, /invalid pool name/, 'pool', 'show', 'a/b');
    await fails(1, /no storage pool 'nope'/, 'pool', 'show', 'nope');
    await fails(1, /no storage pool 'nope'/, 'volume', 'create', 'x', '--size', '1M', '--pool', 'nope');
    await ok('volume', 'create', 'inb', '--size', '1M', '--pool', 'b');
    await fails(1, /pool 'b' is not empty.*'inb'/, 'pool', 'delete', 'b');
    await ok('volume', 'delete', 'inb', '--pool', 'b');
    assert.match(await ok('pool', 'delete', 'b'), /deleted storage pool b/);
    await fails(1, /no storage pool 'b'/, 'pool', 'show', 'b');
  });

  test('volumes: create, list, show, clone, snapshots, resize, delete, with their refusals', async () => {
    assert.match(
      await ok('volume', 'create', 'data', '--size', '64M'),
      /created volume default\/data \(qcow2, 64\.0 MiB\)/,
    );
    await ok('volume', 'create', 'scratch', '--size', '8M', '--image-format', 'raw');
    await fails(1, /volume 'data' already exists in pool 'default'/, 'volume', 'create', 'data', '--size', '1M');
    await fails(2, /invalid size 'lots'/, 'volume', 'create', 'v', '--size', 'lots');
    await fails(2, /invalid size 1000: must be a positive multiple of 512/, 'volume', 'create', 'v', '--size', '1000');
    await fails(2, /invalid size '0'/, 'volume', 'create', 'v', '--size', '0');
    await fails(2, /--size/, 'volume', 'create', 'v');
    await fails(2, /invalid volume name '\.\.\/etc'/, 'volume', 'create', '../etc', '--size', '1M');
    await fails(2, /invalid/, 'volume', 'create', 'v', '--size', '1M', '--image-format', 'vmdk');
    const table = await ok('volume', 'list');
    assert.match(table, /^POOL\s+NAME\s+FORMAT\s+CAPACITY\s+ALLOCATED\s+BACKING\s+SNAPSHOTS\s+IN USE$/m);
    assert.match(table, /^default\s+data\s+qcow2\s+64\.0 MiB\s+\S+ \S+\s+-\s+0\s+-$/m);
    assert.match(table, /^default\s+scratch\s+raw\s+8\.0+ MiB/m);
    const listed = await jsonOf<VolumeJson[]>('volume', 'list');
    assert.deepEqual(
      listed.map((v) => [v.pool, v.name, v.format, v.capacityBytes]),
      [
        ['default', 'data', 'qcow2', 64 << 20],
        ['default', 'scratch', 'raw', 8 << 20],
      ],
    );
    assert.match(await ok('volume', 'show', 'data'), /^capacity:\s+64\.0 MiB \(67108864 bytes\)$/m);
    await fails(1, /no volume 'ghost' in pool 'default'/, 'volume', 'show', 'ghost');
    for (const verb of [
      ['delete', 'ghost'],
      ['resize', 'ghost', '1G'],
      ['clone', 'ghost', 'g2'],
      ['export', 'ghost', join(dir, 'g.qcow2')],
      ['snapshot', 'create', 'ghost', 's'],
      ['snapshot', 'list', 'ghost'],
      ['snapshot', 'revert', 'ghost', 's'],
      ['snapshot', 'delete', 'ghost', 's'],
    ]) {
      await fails(1, /no volume 'ghost' in pool 'default'/, 'volume', ...verb);
    }

    // snapshots
    assert.match(await ok('volume', 'snapshot', 'create', 'data', 'before'), /created snapshot before \(id 1\)/);
    await fails(1, /snapshot named before exists/, 'volume', 'snapshot', 'create', 'data', 'before');
    await fails(2, /invalid snapshot name/, 'volume', 'snapshot', 'create', 'data', 'a@b');
    await fails(1, /raw: snapshots need a qcow2 volume/, 'volume', 'snapshot', 'create', 'scratch', 's');
    const snaps = await jsonOf<{ id: string; name: string; diskSizeBytes: number }[]>(
      'volume',
      'snapshot',
      'list',
      'data',
    );
    assert.deepEqual(
      snaps.map((s) => [s.id, s.name, s.diskSizeBytes]),
      [['1', 'before', 64 << 20]],
    );
    assert.match(
      await ok('volume', 'snapshot', 'list', 'data'),
      /^ID\s+NAME\s+DISK SIZE\s+CREATED\n1\s+before\s+64\.0 MiB/m,
    );
    await fails(1, /no snapshot with id or name nope/, 'volume', 'snapshot', 'revert', 'data', 'nope');

    // resize: grow (absolute and +), refuse shrinking; the image stays clean
    assert.match(await ok('volume', 'resize', 'data', '1G'), /resized volume default\/data to 1\.0+ GiB/);
    assert.match(await ok('volume', 'resize', 'data', '+1G'), /to 2\.0+ GiB/);
    await fails(1, /shrinking from 2147483648 to 1048576 bytes is refused/, 'volume', 'resize', 'data', '1M');
    await fails(2, /invalid size/, 'volume', 'resize', 'data', 'big');
    assert.match(await ok('volume', 'resize', 'scratch', '16M'), /16\.0+ MiB/);
    const c = qemuCheck(join(volumes, 'data.qcow2'));
    assert.deepEqual([c.corruptions, c.leaks], [0, 0], c.raw);
    // reverting the snapshot brings back the size it was taken at
    assert.match(await ok('volume', 'snapshot', 'revert', 'data', 'before'), /reverted volume default\/data/);
    assert.equal((await jsonOf<VolumeJson>('volume', 'show', 'data')).capacityBytes, 64 << 20);
    assert.match(await ok('volume', 'snapshot', 'delete', 'data', '1'), /deleted snapshot 1/);
    assert.deepEqual(await jsonOf('volume', 'snapshot', 'list', 'data'), []);

    // clones: the base cannot be deleted or reverted while the clone exists
    assert.match(await ok('volume', 'clone', 'data', 'data-clone'), /a clone of data/);
    const clone = await jsonOf<VolumeJson>('volume', 'show', 'data-clone');
    assert.equal(clone.backing, 'data');
    assert.deepEqual((await jsonOf<VolumeJson>('volume', 'show', 'data')).dependents, ['data-clone']);
    await fails(1, /volume 'data' cannot be deleted: it is the backing of 'data-clone'/, 'volume', 'delete', 'data');
    await ok('volume', 'snapshot', 'create', 'data', 'b2');
    await fails(
      1,
      /cannot be reverted: it is the backing of 'data-clone'/,
      'volume',
      'snapshot',
      'revert',
      'data',
      'b2',
    );
    await fails(1, /already exists/, 'volume', 'clone', 'data', 'data-clone');
    const info = JSON.parse(run('qemu-img', ['info', '--output=json', clone.path]).stdout) as Record<string, string>;
    assert.equal(info['backing-filename'], 'data.qcow2');
    assert.equal(info['backing-filename-format'], 'qcow2');

    // in use by a running VM (a live pid holding the read-write lock, as `strata run --disk vol=` takes it)
    sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
    const pool = await new PoolRegistry(home).open('default');
    const held = await pool.attachVolume('data-clone', { readOnly: false, pid: sleeper.pid! });
    assert.deepEqual((await jsonOf<VolumeJson>('volume', 'show', 'data-clone')).users, [
      { pid: sleeper.pid, mode: 'rw' },
    ]);
    assert.match(await ok('volume', 'list'), new RegExp(`data-clone .*pid ${sleeper.pid} \\(rw\\)`));
    await fails(
      1,
      new RegExp(`volume default/data-clone is in use read-write by process ${sleeper.pid}`),
      'volume',
      'delete',
      'data-clone',
    );
    await fails(1, /in use/, 'volume', 'snapshot', 'create', 'data-clone', 's');
    await fails(1, /in use/, 'volume', 'resize', 'data-clone', '+1M');
    await fails(1, /in use/, 'volume', 'export', 'data-clone', join(dir, 'busy.qcow2'));
    assert.equal(existsSync(join(dir, 'busy.qcow2')), false);
    // the VM dies without releasing its lock: the stale lock is ignored
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper?.once('exit', r));
    assert.deepEqual((await jsonOf<VolumeJson>('volume', 'show', 'data-clone')).users, []);
    await held.release();

    assert.match(await ok('volume', 'delete', 'data-clone'), /deleted volume default\/data-clone/);
    await ok('volume', 'delete', 'data');
    await ok('volume', 'delete', 'scratch');
    assert.deepEqual(await jsonOf('volume', 'list'), []);
    assert.deepEqual(readdirSync(volumes), [], 'nothing is left in the pool directory');
  });

  test('import what qemu-img makes and export to qcow2, compressed qcow2 and raw; qemu-img checks and compares', async () => {
    const src = join(dir, 'src');
    rmSync(src, { recursive: true, force: true });
    run('mkdir', ['-p', src]);
    // a raw image with some data, and qemu-img images made from it: plain, zlib- and zstd-compressed, an overlay
    const raw = join(src, 'disk.raw');
    const bytes = Buffer.alloc(6 << 20);
    for (let i = 0; i < bytes.length; i += 64 << 10) bytes.fill((i >> 16) & 0xff || 1, i, i + 4096);
    writeFileSync(raw, bytes);
    const made: [string, string[]][] = [
      ['plain.qcow2', ['convert', '-O', 'qcow2', raw]],
      ['zlib.qcow2', ['convert', '-c', '-O', 'qcow2', raw]],
      ['zstd.qcow2', ['convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', raw]],
    ];
    for (const [name, args] of made) run('qemu-img', [...args, join(src, name)]);
    const top = join(src, 'top.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', 'plain.qcow2', top]);
    run('qemu-io', ['-c', 'write -P 0x99 1M 64k', top]);

    for (const file of ['disk.raw', 'plain.qcow2', 'zlib.qcow2', 'zstd.qcow2', 'top.qcow2']) {
      const name = `imp-${file.replace(/\W/g, '-')}`;
      const r = await strata('volume', 'import', name, join(src, file));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`imported .* as volume default/${name} \\(qcow2, 6\\.0+ MiB\\)`));
      assert.match(r.stderr, /importing .* 100% /, 'a progress line');
      const v = await jsonOf<VolumeJson>('volume', 'show', name);
      assert.equal(v.backing, null);
      assert.equal(
        run('qemu-img', ['compare', v.path, join(src, file)], [0, 1]).status,
        0,
        `${file} imports identically`,
      );
      const c = qemuCheck(v.path);
      assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);
    }
    const asRaw = await strata('volume', 'import', 'imp-as-raw', top, '--image-format', 'raw', '--quiet');
    assert.equal(asRaw.code, 0, asRaw.stderr);
    assert.equal(asRaw.stderr, '');
    await fails(1, /already exists/, 'volume', 'import', 'imp-as-raw', raw);
    await fails(1, /no-such/, 'volume', 'import', 'bad', join(src, 'no-such.qcow2'));
    writeFileSync(join(src, 'broken.qcow2'), Buffer.from('QFI\xfb\0\0\0\x03', 'latin1'));
    await fails(
      1,
      /broken\.qcow2: corrupt or unsupported qcow2 image/,
      'volume',
      'import',
      'bad',
      join(src, 'broken.qcow2'),
    );
    await fails(1, /no volume 'bad'/, 'volume', 'show', 'bad');

    // export the overlay-derived volume three ways
    const from = (await jsonOf<VolumeJson>('volume', 'show', 'imp-top-qcow2')).path;
    const out = join(dir, 'out');
    rmSync(out, { recursive: true, force: true });
    run('mkdir', ['-p', out]);
    const exports: [string, string[]][] = [
      ['e.qcow2', []],
      ['ez.qcow2', ['--compress']],
      ['e.raw', ['--image-format', 'raw']],
    ];
    for (const [file, args] of exports) {
      const dest = join(out, file);
      const r = await strata('volume', 'export', 'imp-top-qcow2', dest, ...args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exporting default\/imp-top-qcow2 .*100% /);
      if (file.endsWith('.qcow2')) {
        const c = qemuCheck(dest);
        assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);
      }
      assert.equal(run('qemu-img', ['compare', dest, from], [0, 1]).status, 0, `${file} equals the volume`);
      assert.equal(run('qemu-img', ['compare', dest, top], [0, 1]).status, 0, `${file} equals the original`);
    }
    const ez = JSON.parse(run('qemu-img', ['info', '--output=json', join(out, 'ez.qcow2')]).stdout) as {
      'actual-size': number;
    };
    const e = JSON.parse(run('qemu-img', ['info', '--output=json', join(out, 'e.qcow2')]).stdout) as {
      'actual-size': number;
    };
    assert.ok(ez['actual-size'] < e['actual-size'], 'the compressed export is smaller');
    await fails(1, /the file exists/, 'volume', 'export', 'imp-top-qcow2', join(out, 'e.raw'));
    await fails(
      2,
      /--compress needs --image-format qcow2/,
      'volume',
      'export',
      'imp-top-qcow2',
      join(out, 'x'),
      '--image-format',
      'raw',
      '--compress',
    );
    assert.deepEqual(readdirSync(out).sort(), ['e.qcow2', 'e.raw', 'ez.qcow2'], 'no temporary file is left');
  });
});
