import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  buildInitramfs,
  buildInitramfsCpio,
  type InitramfsInput,
  initScript,
  inittab,
  READY_LINE_PREFIX,
  udhcpcScript,
} from './initramfs.js';

const hasCpio = spawnSync('cpio', ['--version']).status === 0;

const INPUT: InitramfsInput = {
  imageName: 'debian',
  kernelVersion: '6.12.0-test-riscv64',
  busybox: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]),
  modules: [
    { relPath: 'kernel/net/core/failover.ko', bytes: new Uint8Array([1]) },
    { relPath: 'kernel/drivers/net/net_failover.ko', bytes: new Uint8Array([2]) },
    { relPath: 'kernel/drivers/net/virtio_net.ko', bytes: new Uint8Array([3]) },
    { relPath: 'kernel/drivers/virtio/virtio_mmio.ko', bytes: new Uint8Array([4]) },
  ],
  modulesDep: [
    'kernel/net/core/failover.ko:',
    'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko',
    'kernel/drivers/virtio/virtio_mmio.ko:',
    '',
  ].join('\n'),
  load: ['kernel/drivers/virtio/virtio_mmio.ko', 'kernel/drivers/net/virtio_net.ko', 'kernel/net/core/failover.ko'],
};

test('the gzip initramfs unpacks with cpio and holds init, busybox, console node and modules', {
  skip: !hasCpio && 'no cpio',
}, async () => {
  const cpio = gunzipSync(await buildInitramfs(INPUT));
  const listing = spawnSync('cpio', ['-tv', '--quiet'], { input: cpio }).stdout.toString();
  const names = listing.split('\n').map((l) => l.split(' ').pop());
  for (const n of [
    'init',
    'bin/busybox',
    'bin/sh',
    'dev/console',
    'etc/strata/udhcpc.sh',
    'etc/strata/modules',
    'etc/inittab',
    'etc/fstab',
    'lib/modules/6.12.0-test-riscv64/modules.dep',
    'lib/modules/6.12.0-test-riscv64/kernel/drivers/net/virtio_net.ko',
  ]) {
    assert.ok(names.includes(n) || listing.includes(` ${n} -> `), `${n} in\n${listing}`);
  }
  assert.match(listing, /^-rwxr-xr-x .* init$/m);
  assert.match(listing, /^crw------- .* 5, +1 .* dev\/console$/m);
  assert.match(listing, /^drwxrwxrwt .* tmp$/m);
});

test('/init and the udhcpc script are valid sh', () => {
  for (const [name, text] of [
    ['init', initScript(INPUT)],
    ['udhcpc.sh', udhcpcScript()],
  ] as const) {
    const r = spawnSync('sh', ['-n'], { input: text });
    assert.equal(r.status, 0, `${name}: ${r.stderr.toString()}`);
  }
  const init = initScript(INPUT);
  assert.match(init, /^#!\/bin\/sh\n/);
  assert.ok(init.includes(`echo "${READY_LINE_PREFIX} (kernel $(uname -r))"`));
  assert.match(init, /mount -t proc proc \/proc/);
  assert.match(init, /mount -t sysfs sysfs \/sys/);
  assert.match(init, /mount -t devtmpfs devtmpfs \/dev/);
  assert.match(init, /udhcpc -i "\$NIC" -s \/etc\/strata\/udhcpc\.sh/);
  // PID 1 must end up as busybox init: a shell script has no handler for the signals poweroff/reboot/halt send.
  assert.match(init, /\nexec \/sbin\/init\n$/);
  const code = init
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  assert.doesNotMatch(code, /poweroff|cttyhack/, 'the console shell and power-off belong to busybox init now');
});

test('/etc/inittab: a respawning console shell with a controlling terminal, and an orderly shutdown', () => {
  const tab = inittab('debian');
  const entries = tab
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([^:]*):([^:]*):(sysinit|wait|once|respawn|askfirst|ctrlaltdel|shutdown|restart):(.+)$/.exec(l);
      assert.ok(m, `a busybox inittab entry: ${l}`);
      return { tty: m[1], action: m[3], command: m[4] };
    });
  const of = (action: string) => entries.filter((e) => e.action === action).map((e) => e.command);
  assert.deepEqual(of('respawn'), ['/bin/cttyhack /bin/sh -l']);
  const shutdown = of('shutdown').join('\n');
  assert.match(shutdown, /^\/bin\/sync$/m);
  assert.match(shutdown, /^\/sbin\/swapoff -a$/m);
  assert.match(shutdown, /^\/bin\/umount -a -r/m);
  assert.ok(shutdown.indexOf('sync') < shutdown.indexOf('umount'), 'sync before unmounting');
  assert.deepEqual(of('ctrlaltdel'), ['/sbin/reboot']);
});

test('buildInitramfs reports gzip progress up to the whole archive, and the result unpacks to the cpio', async () => {
  const big = { ...INPUT, busybox: new Uint8Array(3 * 1024 * 1024 + 5).fill(7) };
  const seen: [number, number][] = [];
  const gz = await buildInitramfs(big, (done, total) => seen.push([done, total]));
  const cpio = buildInitramfsCpio(big).toBytes();
  assert.deepEqual(new Uint8Array(gunzipSync(gz)), cpio);
  assert.ok(seen.length >= 4, `several progress reports: ${JSON.stringify(seen)}`);
  assert.deepEqual(seen.at(-1), [cpio.length, cpio.length]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] > seen[i - 1]![0], 'progress only grows');
});

test("/init's module loader follows modules.dep: dependencies first, each module once", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-initramfs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const modDir = join(dir, 'lib/modules', INPUT.kernelVersion);
  mkdirSync(modDir, { recursive: true });
  writeFileSync(join(modDir, 'modules.dep'), INPUT.modulesDep);
  writeFileSync(join(dir, 'modules'), INPUT.load.join('\n') + '\n');
  const init = initScript(INPUT);
  const start = init.indexOf('LOADED=" "');
  const end = init.indexOf('ip link set lo up');
  const loader = init
    .slice(start, end)
    .replaceAll('/tmp/insmod.err', join(dir, 'insmod.err'))
    .replace('< /etc/strata/modules', `< ${join(dir, 'modules')}`);
  // insmod records what it loads; loading failover a second time fails the way the kernel says it.
  const script = `MODDIR=${modDir}
insmod() { echo "\${1#$MODDIR/}" >> ${join(dir, 'log')}; }
${loader}`;
  const r = spawnSync('sh', ['-c', script]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'), [
    'kernel/drivers/virtio/virtio_mmio.ko',
    'kernel/net/core/failover.ko',
    'kernel/drivers/net/net_failover.ko',
    'kernel/drivers/net/virtio_net.ko',
  ]);
});
