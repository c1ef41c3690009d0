import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseAccel, qemuArgs } from './qemu-args.js';

const spec = {
  name: 'v1',
  runDir: '/r',
  memoryBytes: 256 * 1024 * 1024,
  cpus: 2,
  kernelPath: '/img/Image',
  initrdPath: '/img/initrd.gz',
  firmwarePath: '/img/fw_dynamic.bin',
  cmdline: 'console=ttyS0',
  diskPath: '/i/disk.raw',
  arch: 'riscv64',
  limits: { diskIops: 100, diskBytesPerSec: 1048576 },
};

test('KVM only when the host has it and the image matches the host architecture', () => {
  assert.equal(chooseAccel('riscv64', true, 'riscv64'), 'kvm');
  assert.equal(chooseAccel('riscv64', true, 'x86_64'), 'tcg');
  assert.equal(chooseAccel('riscv64', false, 'riscv64'), 'tcg');
});

test('the command line boots the image paused, with QMP, a logged console socket and a throttled disk', () => {
  const a = qemuArgs(spec, 'tcg', (n) => `/r/${n}`);
  const joined = a.join(' ');
  assert.match(joined, /-machine virt,accel=tcg/);
  assert.match(joined, /-m 256M -smp 2/);
  assert.ok(a.includes('-S') && a.includes('-no-shutdown'));
  assert.match(joined, /-qmp unix:\/r\/qmp.sock,server=on,wait=off/);
  assert.match(joined, /logfile=\/r\/console.log/);
  assert.match(joined, /throttling.iops-total=100,throttling.bps-total=1048576/);
  assert.match(joined, /-bios \/img\/fw_dynamic.bin/);
});

test('each NIC is a virtio-net device behind a stream netdev listening in the runtime folder', () => {
  const nics = [
    { network: 'lan', home: '/h', port: 'v1', mac: '52:54:00:aa:bb:cc' },
    { network: 'dmz', home: '/h', port: 'v1-2' },
  ];
  const joined = qemuArgs({ ...spec, nics }, 'tcg', (n) => `/r/${n}`).join(' ');
  assert.match(joined, /-netdev stream,id=net0,server=on,addr.type=unix,addr.path=\/r\/nic0.sock/);
  assert.match(joined, /-device virtio-net-device,netdev=net0,mac=52:54:00:aa:bb:cc/);
  assert.match(
    joined,
    /-netdev stream,id=net1,server=on,addr.type=unix,addr.path=\/r\/nic1.sock -device virtio-net-device,netdev=net1( |$)/,
  );
  assert.doesNotMatch(qemuArgs(spec, 'tcg', (n) => `/r/${n}`).join(' '), /-netdev/);
});
