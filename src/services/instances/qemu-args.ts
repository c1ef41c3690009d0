import type { EngineVmSpec } from './engine.js';

/** Files of a QEMU VM's runtime folder. */
export const QEMU_FILES = {
  qmp: 'qmp.sock',
  console: 'console.sock',
  consoleLog: 'console.log',
  log: 'vmm.log',
  pid: 'vmm.pid',
  engine: 'engine',
  accel: 'accel',
} as const;

/** The Unix socket QEMU listens on for NIC `i`; the network's switch dials it. */
export function qemuNicSocket(i: number): string {
  return `nic${i}.sock`;
}

/** Node's `process.arch` to the architecture names images use. */
const HOST_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', riscv64: 'riscv64' };

/** The host's architecture as images name it. */
export function hostArch(): string {
  return HOST_ARCH[process.arch] ?? process.arch;
}

/**
 * KVM when the host has it (`/dev/kvm` usable) and the image is for the host's architecture; TCG (QEMU's
 * translator) otherwise. `kvmUsable` is injected so the rule is testable.
 */
export function chooseAccel(imageArch: string, kvmUsable: boolean, host = hostArch()): 'kvm' | 'tcg' {
  return kvmUsable && imageArch === host ? 'kvm' : 'tcg';
}

/**
 * The QEMU command line for a VM: the `virt` machine with the image's firmware, kernel and initrd, the root disk as
 * virtio-blk (with IOPS and bandwidth throttling when limited), the serial console on a Unix socket whose output
 * QEMU also appends to `console.log` (so history survives a daemon restart), QMP on a Unix socket, `-S` so the VM
 * waits for `cont` (pre-boot configuration), and `-no-shutdown` so a guest power-off leaves QEMU to be asked how
 * the guest ended rather than vanishing. Each NIC is a virtio-net device whose frames go through a stream netdev
 * listening on a Unix socket in the runtime folder (length-prefixed records, the framing of Strata's switch
 * endpoint), which the network's switch then dials.
 */
export function qemuArgs(spec: EngineVmSpec, accel: 'kvm' | 'tcg', join: (name: string) => string): string[] {
  const args = [
    '-machine',
    `virt,accel=${accel}`,
    '-cpu',
    accel === 'kvm' ? 'host' : 'rv64',
    '-m',
    `${Math.floor(spec.memoryBytes / (1024 * 1024))}M`,
    '-smp',
    String(spec.cpus),
    '-nodefaults',
    '-display',
    'none',
    '-monitor',
    'none',
    '-S',
    '-no-shutdown',
    '-name',
    `strata-${spec.name}`,
    '-qmp',
    `unix:${join(QEMU_FILES.qmp)},server=on,wait=off`,
    '-chardev',
    `socket,id=console0,path=${join(QEMU_FILES.console)},server=on,wait=off,logfile=${join(QEMU_FILES.consoleLog)},logappend=on`,
    '-serial',
    'chardev:console0',
    '-kernel',
    spec.kernelPath,
    '-append',
    spec.cmdline,
  ];
  if (spec.firmwarePath) args.push('-bios', spec.firmwarePath);
  if (spec.initrdPath) args.push('-initrd', spec.initrdPath);
  if (spec.diskPath) {
    let drive = `file=${spec.diskPath},format=raw,if=none,id=disk0,cache=writeback`;
    if (spec.limits.diskIops) drive += `,throttling.iops-total=${spec.limits.diskIops}`;
    if (spec.limits.diskBytesPerSec) drive += `,throttling.bps-total=${spec.limits.diskBytesPerSec}`;
    args.push('-drive', drive, '-device', 'virtio-blk-device,drive=disk0');
  }
  (spec.nics ?? []).forEach((nic, i) => {
    args.push(
      '-netdev',
      `stream,id=net${i},server=on,addr.type=unix,addr.path=${join(qemuNicSocket(i))}`,
      '-device',
      `virtio-net-device,netdev=net${i}${nic.mac ? `,mac=${nic.mac}` : ''}`,
    );
  });
  return args;
}
