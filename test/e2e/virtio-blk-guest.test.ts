import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConsoleSession } from '../helpers/console-session.js';
import { ensureDebianImage } from '../helpers/debian-image.js';
import { bootDebianGuest, guestSh } from '../helpers/guest-shell.js';

// The storage acceptance test on Strata's own engine: the Debian guest makes a filesystem on a virtio-blk disk
// (a raw file on the host), writes files, powers off; a second boot reads them back; a read-only attachment lets
// the guest read but turns its writes into I/O errors while the VM keeps running.

const DISK_BYTES = 64 * 1024 * 1024;
let dir: string;
let disk: string;
let home: string;

before(async () => {
  home = await ensureDebianImage();
  dir = mkdtempSync(join(tmpdir(), 'strata-vblk-'));
  disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, DISK_BYTES);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const boot = (args: string[]) => bootDebianGuest(home, args);
const sh = guestSh;

async function powerOff(vm: ConsoleSession): Promise<void> {
  vm.typeLine('poweroff -f');
  const exit = await vm.waitExit(120_000);
  assert.equal(exit.code, 0, vm.transcript.slice(-2000));
}

/** The bytes of the host-side disk file at `offset`. */
function hostBytes(offset: number, length: number): Buffer {
  const fd = openSync(disk, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

test('mke2fs, mount and write on a virtio disk; the files are there after the next boot; read-only refuses writes', {
  timeout: 20 * 60_000,
}, async () => {
  // Boot 1: make a filesystem and write a small file and a 2 MiB one with its checksum.
  let vm = await boot(['--disk', disk]);
  try {
    const size = await sh(vm, 'cat /sys/block/vda/size /sys/block/vda/ro /sys/block/vda/serial');
    assert.match(size.out, /\b131072\r?\n0\r?\ndisk\.img/);
    assert.equal((await sh(vm, 'mke2fs /dev/vda', 300_000)).status, 0, vm.transcript.slice(-2000));
    assert.equal((await sh(vm, 'mount -t ext2 /dev/vda /mnt')).status, 0, vm.transcript.slice(-2000));
    assert.equal((await sh(vm, 'echo "persisted by strata $((6*7))" > /mnt/hello.txt')).status, 0);
    const big = await sh(vm, 'dd if=/dev/urandom of=/mnt/big bs=1024 count=2048 && md5sum /mnt/big > /mnt/big.md5');
    assert.equal(big.status, 0, vm.transcript.slice(-2000));
    assert.equal((await sh(vm, 'sync && umount /mnt')).status, 0, vm.transcript.slice(-2000));
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  // The host file now holds an ext2 filesystem: superblock at 1024, s_magic 0xEF53 at offset 56 within it.
  assert.equal(hostBytes(1024 + 56, 2).readUInt16LE(0), 0xef53);
  // The real tools agree that it is consistent and holds the file (when e2fsprogs is installed on the host).
  const fsck = spawnSync('e2fsck', ['-fn', disk], { encoding: 'utf8' });
  if (fsck.error === undefined) {
    assert.equal(fsck.status, 0, `e2fsck: ${fsck.stdout}${fsck.stderr}`);
    const cat = spawnSync('debugfs', ['-R', 'cat /hello.txt', disk], { encoding: 'utf8' });
    assert.match(cat.stdout, /persisted by strata 42/);
  }

  // Boot 2: the same disk, read back.
  vm = await boot(['--disk', disk]);
  try {
    assert.equal((await sh(vm, 'mount -t ext2 /dev/vda /mnt')).status, 0, vm.transcript.slice(-2000));
    const hello = await sh(vm, 'cat /mnt/hello.txt');
    assert.match(hello.out, /persisted by strata 42/);
    const check = await sh(vm, 'md5sum -c /mnt/big.md5');
    assert.equal(check.status, 0, vm.transcript.slice(-2000));
    assert.match(check.out, /\/mnt\/big: OK/);
    assert.equal((await sh(vm, 'umount /mnt')).status, 0);
    // `strata run` also attaches a virtio entropy device: the guest's hwrng reads from it.
    const rng = await sh(vm, 'cat /sys/class/misc/hw_random/rng_current && head -c 64 /dev/hwrng | wc -c');
    assert.match(rng.out, /virtio_rng\.0\r?\n\s*64\r?\n/);
    await powerOff(vm);
  } finally {
    vm.kill();
  }

  // Boot 3: read-only. The guest sees VIRTIO_BLK_F_RO: it reads the file, and its kernel refuses writes even
  // after `blockdev --setrw` (Linux keeps the disk-level read-only flag); the device's own IOERR answer to a write
  // that gets through anyway is covered by virtio-blk.test.ts. The VM keeps running and the host file is unchanged.
  const before = hostBytes(4 * 1024 * 1024, 4096);
  vm = await boot(['--disk', `${disk},readonly`]);
  try {
    assert.match((await sh(vm, 'cat /sys/block/vda/ro')).out, /\r?\n1\r?\n/);
    assert.equal((await sh(vm, 'mount -t ext2 -o ro /dev/vda /mnt && cat /mnt/hello.txt')).status, 0);
    assert.match(vm.transcript, /persisted by strata 42/);
    assert.equal((await sh(vm, 'umount /mnt')).status, 0);
    const plain = await sh(vm, 'dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=1024 conv=fsync');
    assert.notEqual(plain.status, 0, 'the guest cannot write to a read-only disk');
    const forced = await sh(
      vm,
      'blockdev --setrw /dev/vda; dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=1024 conv=fsync',
    );
    assert.notEqual(forced.status, 0, vm.transcript.slice(-2000));
    assert.match((await sh(vm, 'echo alive-$((1+1))')).out, /alive-2/);
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  assert.deepEqual(hostBytes(4 * 1024 * 1024, 4096), before);
});

test('a qcow2 disk made by qemu-img takes a filesystem and gives it back on the next boot', {
  timeout: 20 * 60_000,
}, async (t) => {
  const qcow2 = join(dir, 'disk.qcow2');
  const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '64M'], { encoding: 'utf8' });
  if (made.error !== undefined) {
    t.skip('qemu-img is not installed');
    return;
  }
  assert.equal(made.status, 0, made.stderr);
  let vm = await boot(['--disk', `${qcow2},format=qcow2`]);
  try {
    assert.equal((await sh(vm, 'mke2fs /dev/vda >/dev/null && mount -t ext2 /dev/vda /mnt')).status, 0);
    const w = await sh(vm, 'dd if=/dev/urandom of=/mnt/q bs=1024 count=3000 && md5sum /mnt/q > /mnt/q.md5');
    assert.equal(w.status, 0, vm.transcript.slice(-2000));
    assert.equal((await sh(vm, 'sync && umount /mnt')).status, 0);
    await powerOff(vm);
  } finally {
    vm.kill();
  }
  const check = spawnSync('qemu-img', ['check', qcow2], { encoding: 'utf8' });
  assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);

  vm = await boot(['--disk', qcow2]);
  try {
    assert.equal((await sh(vm, 'mount -t ext2 /dev/vda /mnt')).status, 0);
    const sum = await sh(vm, 'md5sum -c /mnt/q.md5');
    assert.equal(sum.status, 0, vm.transcript.slice(-2000));
    assert.match(sum.out, /\/mnt\/q: OK/);
    await powerOff(vm);
  } finally {
    vm.kill();
  }
});
