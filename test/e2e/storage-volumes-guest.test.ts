// The storage acceptance test with pool volumes on Strata's own engine: a qcow2 volume is created in the default
// pool and attached with `--disk vol=default/NAME`; the Debian guest makes a filesystem on it (busybox mke2fs),
// writes a file and powers off; a snapshot is taken; the next boot reads the file back and writes more; after a
// revert the third boot sees the earlier content only. While a VM runs, the volume is locked: deleting it or
// attaching it to a second VM is refused, naming the VMM's pid.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConsoleSession } from '../helpers/console-session.js';
import { ensureDebianImage } from '../helpers/debian-image.js';
import { bootDebianGuest, guestMust } from '../helpers/guest-shell.js';
import { haveQemuImg, qemuCheck, run } from '../helpers/qemu-img.js';
import { runStrata } from '../helpers/strata-cli.js';

let dir: string;
let home: string;

before(async () => {
  assert.ok(haveQemuImg(), 'qemu-img is not installed: apt-get install qemu-utils');
  const shared = await ensureDebianImage();
  dir = mkdtempSync(join(tmpdir(), 'strata-vol-guest-'));
  // a home of our own for the pools, sharing the pulled image
  home = join(dir, 'home');
  mkdirSync(home);
  symlinkSync(join(shared, 'images'), join(home, 'images'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const boot = (args: string[]) => bootDebianGuest(home, args);
const must = guestMust;

async function storage(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runStrata(['storage', ...args], { env: { STRATA_HOME: home } });
}

async function powerOff(vm: ConsoleSession): Promise<void> {
  vm.typeLine('poweroff -f');
  const exit = await vm.waitExit(120_000);
  assert.equal(exit.code, 0, vm.transcript.slice(-2000));
}

test('a pool volume: mke2fs and write, read back on the next boot, revert a snapshot to the earlier content', {
  timeout: 30 * 60_000,
}, async () => {
  const created = await storage('volume', 'create', 'data', '--size', '64M');
  assert.equal(created.code, 0, created.stderr);
  const disk = ['--disk', 'vol=default/data'];

  // Boot 1: make a filesystem, write the first content. Meanwhile the volume is locked by this VM.
  let vm = await boot(disk);
  try {
    assert.match(await must(vm, 'cat /sys/block/vda/size /sys/block/vda/ro'), /\b131072\r?\n0\r?\n/);
    // the image's initramfs carries what this needs: virtio_blk, ext4 (which mounts ext2) and busybox mke2fs
    const fs = await must(vm, 'grep -w -e ext2 -e ext4 /proc/filesystems; command -v mke2fs');
    assert.match(fs, /\bext2\b[\s\S]*\bext4\b[\s\S]*mke2fs/);
    await must(vm, 'mke2fs /dev/vda >/dev/null', 300_000);
    await must(vm, 'mount -t ext2 /dev/vda /mnt');
    await must(vm, 'echo "first content $((40+2))" > /mnt/a.txt');
    const pid = vm.child.pid;
    const del = await storage('volume', 'delete', 'data');
    assert.equal(del.code, 1, del.stdout);
    assert.match(del.stderr, new RegExp(`volume default/data is in use read-write by process ${pid}`));
    const second = await runStrata(['run', '--image', 'debian', ...disk], { env: { STRATA_HOME: home } });
    assert.equal(second.code, 1, second.stdout);
    assert.match(second.stderr, new RegExp(`in use read-write by process ${pid}`));
    const shown = JSON.parse((await storage('volume', 'show', 'data', '--format', 'json')).stdout) as {
      users: unknown[];
    };
    assert.deepEqual(shown.users, [{ pid, mode: 'rw' }]);
    await must(vm, 'sync && umount /mnt');
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  const snap = await storage('volume', 'snapshot', 'create', 'data', 'first');
  assert.equal(snap.code, 0, snap.stderr);

  // Boot 2: the same volume; the file is there. Write more and change it.
  vm = await boot(disk);
  try {
    await must(vm, 'mount -t ext2 /dev/vda /mnt');
    assert.match(await must(vm, 'cat /mnt/a.txt'), /first content 42/);
    await must(vm, 'echo "second content $((50+5))" > /mnt/a.txt && echo later > /mnt/b.txt');
    await must(vm, 'dd if=/dev/urandom of=/mnt/big bs=1024 count=1024 2>/dev/null');
    await must(vm, 'sync && umount /mnt');
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  const path = (JSON.parse((await storage('volume', 'show', 'data', '--format', 'json')).stdout) as { path: string })
    .path;
  let c = qemuCheck(path);
  assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);
  const revert = await storage('volume', 'snapshot', 'revert', 'data', 'first');
  assert.equal(revert.code, 0, revert.stderr);
  c = qemuCheck(path);
  assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);

  // Boot 3: the earlier content, and nothing written after the snapshot.
  vm = await boot(disk);
  try {
    await must(vm, 'mount -t ext2 /dev/vda /mnt');
    const a = await must(vm, 'cat /mnt/a.txt');
    assert.match(a, /first content 42/);
    assert.doesNotMatch(a, /second content/);
    assert.match(await must(vm, 'ls /mnt; test ! -e /mnt/b.txt && test ! -e /mnt/big && echo gone-$((1+1))'), /gone-2/);
    await must(vm, 'umount /mnt');
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  // the unlocked volume exports to a file qemu-img finds clean and equal to it
  const out = join(dir, 'data-export.qcow2');
  const exp = await storage('volume', 'export', 'data', out, '--quiet');
  assert.equal(exp.code, 0, exp.stderr);
  c = qemuCheck(out);
  assert.deepEqual([c.corruptions, c.leaks, c.status], [0, 0, 0], c.raw);
  assert.equal(run('qemu-img', ['compare', out, path], [0, 1]).status, 0);
  const del = await storage('volume', 'delete', 'data');
  assert.equal(del.code, 0, del.stderr);
});
