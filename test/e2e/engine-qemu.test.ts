import { spawnSync } from 'node:child_process';
import { engineSuite } from '../../src/services/instances/engine.suite.js';
import { QemuEngine } from '../../src/services/instances/qemu-engine.js';
import { ensureDebianImageFiles } from '../helpers/debian-image.js';

const hasQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

engineSuite('qemu', {
  engine: () => new QemuEngine(),
  image: async () => {
    const img = await ensureDebianImageFiles();
    return { kernel: img.kernel, initrd: img.initrd, firmware: img.fwDynamic, cmdline: 'console=ttyS0' };
  },
  bootTimeoutMs: 180_000,
  skip: !hasQemu && 'no qemu-system-riscv64',
});
