import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CpioWriter } from './cpio-writer.js';

const hasCpio = spawnSync('cpio', ['--version']).status === 0;

function sample(): CpioWriter {
  const w = new CpioWriter({ mtimeS: 1_700_000_000 });
  w.addFile('init', new TextEncoder().encode('#!/bin/sh\necho hi\n'), { mode: 0o755 });
  w.addFile('/bin/busybox', new Uint8Array([1, 2, 3, 4, 5]), { mode: 0o755 });
  w.addSymlink('bin/sh', 'busybox');
  w.addFile('lib/modules/6.12/kernel/a/b/deep.ko', new Uint8Array(1001).fill(0xab));
  w.addFile('etc/empty', new Uint8Array(0));
  w.addDirectory('tmp', { mode: 0o1777 });
  w.addCharDevice('dev/console', 5, 1);
  return w;
}

test('cpio -t lists every entry, parents first, and no garbage after the trailer', {
  skip: !hasCpio && 'no cpio',
}, () => {
  const bytes = sample().toBytes();
  assert.equal(bytes.length % 4, 0);
  const r = spawnSync('cpio', ['-t', '--quiet'], { input: bytes });
  assert.equal(r.status, 0, r.stderr.toString());
  const names = r.stdout.toString().trim().split('\n');
  assert.deepEqual(names, [
    'init',
    'bin',
    'bin/busybox',
    'bin/sh',
    'lib',
    'lib/modules',
    'lib/modules/6.12',
    'lib/modules/6.12/kernel',
    'lib/modules/6.12/kernel/a',
    'lib/modules/6.12/kernel/a/b',
    'lib/modules/6.12/kernel/a/b/deep.ko',
    'etc',
    'etc/empty',
    'tmp',
    'dev',
    'dev/console',
  ]);
  const verbose = spawnSync('cpio', ['-tv', '--quiet'], { input: bytes }).stdout.toString();
  assert.match(verbose, /^crw------- .* 5, +1 .* dev\/console$/m);
  assert.match(verbose, /^lrwxrwxrwx .* bin\/sh -> busybox$/m);
  assert.match(verbose, /^drwxrwxrwt .* tmp$/m);
});

test('cpio -i extracts the same contents, modes and link targets', { skip: !hasCpio && 'no cpio' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-cpio-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const w = sample();
  const r = spawnSync(
    'cpio',
    ['-i', '--quiet', '--make-directories', '--preserve-modification-time', '--no-absolute-filenames'],
    {
      input: w.toBytes(),
      cwd: dir,
    },
  );
  // Creating dev/console needs mknod; everything else must extract cleanly.
  assert.equal(r.status === 0 || /console/.test(r.stderr.toString()), true, r.stderr.toString());
  assert.equal(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
  assert.equal(statSync(join(dir, 'init')).mode & 0o777, 0o755);
  assert.deepEqual([...readFileSync(join(dir, 'bin/busybox'))], [1, 2, 3, 4, 5]);
  assert.equal(readlinkSync(join(dir, 'bin/sh')), 'busybox');
  assert.ok(lstatSync(join(dir, 'bin/sh')).isSymbolicLink());
  const deep = readFileSync(join(dir, 'lib/modules/6.12/kernel/a/b/deep.ko'));
  assert.equal(deep.length, 1001);
  assert.ok(deep.every((b) => b === 0xab));
  assert.equal(readFileSync(join(dir, 'etc/empty')).length, 0);
  assert.equal(statSync(join(dir, 'init')).mtimeMs, 1_700_000_000_000);
});

test('header fields follow the newc layout', () => {
  const w = new CpioWriter();
  w.addFile('ab', new Uint8Array([9]), { mode: 0o600, uid: 5, gid: 6, mtimeS: 0x10 });
  const bytes = w.toBytes();
  const text = new TextDecoder().decode(bytes.subarray(0, 110));
  assert.equal(text.slice(0, 6), '070701');
  const field = (i: number) => Number.parseInt(text.slice(6 + i * 8, 14 + i * 8), 16);
  assert.equal(field(0), 1); // ino
  assert.equal(field(1), 0o100600); // mode
  assert.equal(field(2), 5); // uid
  assert.equal(field(3), 6); // gid
  assert.equal(field(4), 1); // nlink
  assert.equal(field(5), 0x10); // mtime
  assert.equal(field(6), 1); // filesize
  assert.equal(field(11), 3); // namesize with NUL
  // Name at 110, NUL, padded to 116; data at 116, padded to 120; trailer follows.
  assert.equal(bytes[110], 0x61);
  assert.equal(bytes[112], 0);
  assert.equal(bytes[116], 9);
  assert.equal(new TextDecoder().decode(bytes.subarray(120, 126)), '070701');
  assert.match(new TextDecoder().decode(bytes.subarray(120 + 110, 120 + 120)), /^TRAILER!!!/);
});

test('bad paths and duplicates are rejected', () => {
  const w = new CpioWriter();
  w.addFile('a', new Uint8Array(0));
  assert.throws(() => w.addFile('a', new Uint8Array(0)), /added twice/);
  assert.throws(() => w.addFile('../x', new Uint8Array(0)), /invalid cpio path/);
  assert.throws(() => w.addFile('', new Uint8Array(0)), /invalid cpio path/);
  assert.throws(() => w.addFile('a//b', new Uint8Array(0)), /invalid cpio path/);
  w.addDirectory('d');
  w.addDirectory('d');
  assert.ok(w.has('d'));
});
