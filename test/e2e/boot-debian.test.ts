import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleSession } from '../helpers/console-session.js';
import { ensureDebianImage } from '../helpers/debian-image.js';
import { STRATA_BIN } from '../helpers/strata-cli.js';

// Boots the Debian trixie kernel + busybox image on Strata's own engine and works at its shell, as a user would.
test('the debian image boots to a shell on the builtin engine and a plain poweroff powers it off', {
  timeout: 15 * 60_000,
}, async () => {
  const home = await ensureDebianImage();
  const vm = new ConsoleSession(process.execPath, [STRATA_BIN, 'run', '--image', 'debian'], { STRATA_HOME: home });
  try {
    await vm.waitFor(/Linux version 6\.\d+\S* .*riscv64/, 120_000);
    await vm.waitFor(/strata: debian image ready/, 240_000);
    await vm.waitFor(/:~# /, 60_000, vm.transcript.search(/strata: debian image ready/));
    await vm.command('uname -m', /\r?\nriscv64\r?\n/, 60_000);
    const cpu = await vm.command('cat /proc/cpuinfo', /isa\s*: (rv64\S+)/, 60_000);
    assert.match(cpu[1] ?? '', /^rv64imafdc/);
    await vm.command('echo $((6*7)) $((123456789*1000 % 97))', /\r?\n42 (\d+)\r?\n/, 60_000);
    const m = /\r?\n42 (\d+)\r?\n/.exec(vm.transcript);
    assert.equal(Number(m?.[1]), (123456789 * 1000) % 97);
    // Plain poweroff: busybox init (PID 1) runs the shutdown steps, then the kernel powers the machine off.
    const beforeOff = vm.mark();
    vm.typeLine('poweroff');
    const exit = await vm.waitExit(120_000);
    assert.equal(exit.code, 0, vm.transcript.slice(-2000));
    assert.match(vm.transcript.slice(beforeOff), /strata: shutting down/);
    assert.match(vm.transcript.slice(beforeOff), /reboot: Power down/);
  } finally {
    vm.kill();
  }
});

// The documented non-interactive use: commands piped in before the guest is up are held until its console is ready.
test('commands piped to strata run reach the shell and poweroff -f ends with exit 0', {
  timeout: 15 * 60_000,
}, async () => {
  const home = await ensureDebianImage();
  const vm = new ConsoleSession(process.execPath, [STRATA_BIN, 'run', '--image', 'debian'], { STRATA_HOME: home });
  try {
    vm.child.stdin.end('uname -a\necho sum=$((40+2))\npoweroff -f\n');
    const exit = await vm.waitExit(10 * 60_000);
    assert.equal(exit.code, 0, vm.transcript.slice(-2000));
    assert.match(vm.transcript, /Linux debian 6\.\d+\S* .* riscv64/);
    assert.match(vm.transcript, /sum=42/);
  } finally {
    vm.kill();
  }
});
