import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { runDaemonScenario } from '../helpers/daemon-scenario.js';

const hasQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

test('daemon + CLI on the qemu engine: two VMs, consoles, pause/resume, daemon restart, a killed QEMU, delete', {
  timeout: 20 * 60_000,
  skip: !hasQemu && 'no qemu-system-riscv64',
}, async (t) => {
  await runDaemonScenario(t, 'qemu');
});
