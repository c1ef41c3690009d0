// Acceptance of `strata image pull debian`: the built image is listed with its kernel version and file hashes,
// and it boots in QEMU (TCG), independently of Strata's own engine, to a shell that runs typed commands.
// The pull is shared by all e2e tests of a run (see test/helpers/debian-image.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { READY_LINE_PREFIX } from '../../src/services/images/initramfs.js';
import { ConsoleSession } from '../helpers/console-session.js';
import { ensureDebianImageFiles, type SharedDebianImage } from '../helpers/debian-image.js';
import { runStrata } from '../helpers/strata-cli.js';

const hasQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

/** QEMU's CPU limited to what the reference boot used: RV64GC without optional extensions. */
const QEMU_CPU = 'rv64,zba=false,zbb=false,zbc=false,zbs=false,sstc=false,h=false,v=false';
const BOOT_TIMEOUT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 30_000;

/** QEMU on the image; `allowReboot` lets a guest reboot restart the machine (else QEMU exits on reboot). */
function qemu(img: SharedDebianImage, withNic: boolean, allowReboot = false): ConsoleSession {
  const args = ['-M', 'virt', '-m', '512', '-smp', '1', '-cpu', QEMU_CPU, '-nographic'];
  if (!allowReboot) args.push('-no-reboot');
  args.push('-bios', img.fwJump, '-kernel', img.kernel, '-initrd', img.initrd, '-append', 'console=ttyS0');
  if (withNic) args.push('-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0');
  else args.push('-nic', 'none');
  return new ConsoleSession('qemu-system-riscv64', args);
}

test('image list --format json shows the pulled image with its kernel version and true file hashes', {
  timeout: 660_000,
}, async () => {
  const img = await ensureDebianImageFiles();
  const r = await runStrata(['image', 'list', '--format', 'json'], { env: { STRATA_HOME: img.home } });
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as {
    name: string;
    arch: string;
    kernelVersion: string;
    createdAt: string;
    packages: Record<string, string>;
    files: { path: string; role: string; sizeBytes: number; sha256: string }[];
  }[];
  const deb = list.find((m) => m.name === 'debian');
  assert.ok(deb, r.stdout);
  assert.equal(deb.arch, 'riscv64');
  assert.match(deb.kernelVersion, /^6\.12\.\d+\+deb13-riscv64$/);
  assert.ok(!Number.isNaN(Date.parse(deb.createdAt)));
  assert.ok(deb.packages['busybox-static'] && deb.packages.opensbi && deb.packages['linux-image-riscv64']);
  assert.deepEqual(deb.files.map((f) => f.path).sort(), ['Image', 'fw_dynamic.bin', 'fw_jump.bin', 'initrd.gz']);
  for (const f of deb.files) {
    const bytes = readFileSync(join(img.dir, f.path));
    assert.equal(f.sizeBytes, bytes.length, f.path);
    assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), f.path);
  }
  const kernel = readFileSync(img.kernel);
  assert.equal(kernel.subarray(0x38, 0x3c).toString('latin1'), 'RSC\x05', 'RISC-V Image magic');
  const table = await runStrata(['image', 'list'], { env: { STRATA_HOME: img.home } });
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^NAME +ARCH +RELEASE +KERNEL +SIZE +CREATED$/m);
  assert.match(
    table.stdout,
    new RegExp(`^debian +riscv64 +debian trixie +${deb.kernelVersion.replace(/[.+]/g, '\\$&')} `, 'm'),
  );
});

test('the image boots in qemu-system-riscv64 with a NIC: modules, DHCP, ready line, shell, job control, poweroff', {
  skip: !hasQemu && 'no qemu-system-riscv64',
  timeout: 900_000,
}, async (t) => {
  const img = await ensureDebianImageFiles();
  const vm = qemu(img, true);
  t.after(() => vm.kill());
  await vm.waitFor(/strata: eth0 configured by DHCP: 10\.0\.2\.15\/24/, BOOT_TIMEOUT_MS);
  const ready = await vm.waitFor(new RegExp(`${READY_LINE_PREFIX} \\(kernel ([^)]+)\\)`), BOOT_TIMEOUT_MS);
  assert.equal(ready[1], img.kernelVersion);
  await vm.waitFor(/debian:~# /, COMMAND_TIMEOUT_MS);
  await vm.command('uname -m', /\nriscv64\r?\n/, COMMAND_TIMEOUT_MS);
  await vm.command('echo $((6*7))', /\n42\r?\n/, COMMAND_TIMEOUT_MS);
  const mods = await vm.command(
    "echo MODS $(cut -d' ' -f1 /proc/modules | sort)",
    /\nMODS ([a-z0-9_ ]+)\r?\n/,
    COMMAND_TIMEOUT_MS,
  );
  const loaded = (mods[1] ?? '').split(' ');
  for (const m of [
    'virtio_mmio',
    'virtio_net',
    'net_failover',
    'failover',
    '9pnet_virtio',
    '9p',
    'virtio_blk',
    'ext4',
  ]) {
    assert.ok(loaded.includes(m), `${m} loaded: ${mods[1]}`);
  }
  assert.doesNotMatch(vm.transcript, /strata: cannot load/);
  await vm.command('ip route', /default via 10\.0\.2\.2 dev eth0/, COMMAND_TIMEOUT_MS);
  // The console is the shell's controlling terminal: ^C interrupts the foreground job, not the shell.
  await vm.command('tty', /\n\/dev\/ttyS0\r?\n/, COMMAND_TIMEOUT_MS);
  const beforeSleep = vm.mark();
  vm.typeLine('sleep 600; echo SLEEP-NOT-INTERRUPTED');
  await vm.waitFor(/sleep 600/, COMMAND_TIMEOUT_MS, beforeSleep);
  await new Promise((r) => setTimeout(r, 1000));
  vm.child.stdin.write('\x03');
  await vm.command('echo shell-$((1+1))', /\nshell-2\r?\n/, COMMAND_TIMEOUT_MS);
  assert.doesNotMatch(vm.transcript, /\nSLEEP-NOT-INTERRUPTED/);
  // Plain poweroff: busybox init (PID 1) runs the shutdown steps, then the kernel powers the machine off.
  const beforeOff = vm.mark();
  vm.typeLine('poweroff');
  const exit = await vm.waitExit(60_000);
  assert.equal(exit.code, 0, `qemu exit: ${JSON.stringify(exit)}`);
  const shutdown = vm.transcript.slice(beforeOff);
  assert.match(shutdown, /strata: shutting down/);
  assert.match(shutdown, /reboot: Power down/);
});

test('reboot restarts the machine, which comes back to the ready line', {
  skip: !hasQemu && 'no qemu-system-riscv64',
  timeout: 900_000,
}, async (t) => {
  const img = await ensureDebianImageFiles();
  const vm = qemu(img, false, true);
  t.after(() => vm.kill());
  await vm.waitFor(new RegExp(READY_LINE_PREFIX), BOOT_TIMEOUT_MS);
  await vm.command('echo $((6*7))', /\n42\r?\n/, COMMAND_TIMEOUT_MS);
  const beforeReboot = vm.mark();
  vm.typeLine('reboot');
  await vm.waitFor(/reboot: Restarting system/, 60_000, beforeReboot);
  const back = vm.mark();
  await vm.waitFor(new RegExp(READY_LINE_PREFIX), BOOT_TIMEOUT_MS, back);
  await vm.command('echo again-$((6*7))', /\nagain-42\r?\n/, COMMAND_TIMEOUT_MS);
  vm.typeLine('halt');
  await vm.waitFor(/reboot: System halted/, 60_000, back);
  vm.kill();
});

test('without a NIC the image says so and still reaches the shell', {
  skip: !hasQemu && 'no qemu-system-riscv64',
  timeout: 900_000,
}, async (t) => {
  const img = await ensureDebianImageFiles();
  const vm = qemu(img, false);
  t.after(() => vm.kill());
  await vm.waitFor(/strata: no network interface/, BOOT_TIMEOUT_MS);
  await vm.waitFor(new RegExp(READY_LINE_PREFIX), BOOT_TIMEOUT_MS);
  await vm.command('echo $((6*7))', /\n42\r?\n/, COMMAND_TIMEOUT_MS);
  vm.typeLine('poweroff -f');
  assert.equal((await vm.waitExit(60_000)).code, 0);
});
