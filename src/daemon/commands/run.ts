import type { Command } from 'commander';
import { StrataError } from '../../base/errors.js';
import { parseSizeBytes } from '../../base/units.js';
import { type LocalVmSpec, startLocalVm } from '../../hypervisor/local-vm.js';
import type { VmExit } from '../../hypervisor/vm-runner.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { openDisk } from '../../services/storage/open-disk.js';
import { loadHartModule } from '../assets.js';
import { ConsoleEscapeParser, ESCAPE_HELP } from '../console-escape.js';
import { type CommandContext, type CommandRegistrar, ExitCode } from '../program.js';
import { readInput } from '../read-input.js';
import { collectDiskOption, type DiskOption } from './disk-option.js';
import { resolveImageBoot } from './run-image.js';

/** Smallest and largest guest RAM the builtin engine accepts. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
export const MAX_MEMORY_BYTES = 3 * 1024 * 1024 * 1024;

interface RunOptions {
  image?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  bios?: string;
  memory: string;
  cpus: string;
  htif?: boolean;
  disk?: DiskOption[];
}

/** Registers `strata run`: one VM in the foreground with its serial console on this terminal. */
export const registerRunCommand: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  program
    .command('run')
    .description(
      "boot one virtual machine in the foreground on Strata's own engine, its serial console on this terminal",
    )
    .option('--image <name>', 'boot an image from the image store (see `strata image list`)')
    .option('--kernel <file>', 'kernel: a RISC-V Linux Image or an ELF program')
    .option('--initrd <file>', 'initial ramdisk')
    .option('--append <cmdline>', 'kernel command line')
    .option('--bios <file|none>', "firmware loaded at the start of RAM (OpenSBI fw_dynamic/fw_jump), or 'none'")
    .option('--memory <size>', 'guest RAM, e.g. 512M or 1G', '512M')
    .option('--cpus <n>', 'number of vCPUs', '1')
    .option(
      '--disk <file[,format=qcow2|raw][,readonly]>',
      'attach a disk image as a virtio block device (repeatable: the first is /dev/vda, then vdb, ...)',
      collectDiskOption,
    )
    .option('--htif', 'bare-metal test mode: the program reports through HTIF tohost; exit code 0 on pass')
    .addHelpText(
      'after',
      [
        '',
        'On a terminal the console is in raw mode: Ctrl-A x quits, Ctrl-A h prints help.',
        'Without a terminal, input bytes go to the guest as typed, e.g.',
        "  printf 'uname -a\\npoweroff -f\\n' | strata run --image debian",
        'Disks: --disk FILE attaches a raw or qcow2 image (the format is probed unless format= is given);',
        'readonly makes the guest see a read-only disk. The guest also gets a virtio entropy device.',
        'Exit code: 0 when the guest powers off (or an HTIF program passes), 1 on a guest or host failure,',
        'the failing test number for an HTIF program that fails.',
      ].join('\n'),
    )
    .action(async (opts: RunOptions) => {
      const spec = await buildSpec(opts, ctx);
      const disks = await openDisks(opts.disk ?? []);
      let code: number;
      try {
        code = await runInForeground({ ...spec, disks, entropy: true }, ctx);
      } finally {
        await closeDisks(disks);
      }
      if (code !== 0) throw new ExitCode(code);
    });
};

async function buildSpec(opts: RunOptions, ctx: CommandContext): Promise<LocalVmSpec> {
  const memoryBytes = parseSizeBytes(opts.memory, 'memory size');
  if (memoryBytes < MIN_MEMORY_BYTES || memoryBytes > MAX_MEMORY_BYTES) {
    throw new StrataError('INVALID_ARGUMENT', `invalid memory size '${opts.memory}': must be between 16M and 3G`);
  }
  if (memoryBytes % 4096 !== 0) {
    throw new StrataError('INVALID_ARGUMENT', `invalid memory size '${opts.memory}': must be a multiple of 4 KiB`);
  }
  if (!/^\d+$/.test(opts.cpus) || Number(opts.cpus) < 1) {
    throw new StrataError('INVALID_ARGUMENT', `invalid vCPU count '${opts.cpus}': must be a positive whole number`);
  }
  if (Number(opts.cpus) !== 1) {
    throw new StrataError('INVALID_ARGUMENT', `invalid vCPU count '${opts.cpus}': the builtin engine runs 1 vCPU`);
  }
  if (opts.image && (opts.kernel || opts.initrd || opts.bios)) {
    throw new StrataError('INVALID_ARGUMENT', '--image cannot be combined with --kernel, --initrd or --bios');
  }
  if (opts.image) {
    const boot = await resolveImageBoot(opts.image, ctx.env);
    return {
      memoryBytes,
      kernel: boot.kernel,
      initrd: boot.initrd,
      firmware: boot.firmware,
      cmdline: opts.append ?? boot.cmdline,
      htif: false,
    };
  }
  if (!opts.kernel) {
    throw new StrataError('INVALID_ARGUMENT', 'nothing to boot: give --image NAME or --kernel FILE');
  }
  if (opts.htif && opts.bios && opts.bios !== 'none') {
    throw new StrataError('INVALID_ARGUMENT', '--htif runs a bare-metal program: use it with --bios none');
  }
  return {
    memoryBytes,
    kernel: await readInput(opts.kernel, 'kernel'),
    initrd: opts.initrd ? await readInput(opts.initrd, 'initrd') : undefined,
    firmware: opts.bios && opts.bios !== 'none' ? await readInput(opts.bios, 'firmware') : undefined,
    cmdline: opts.append ?? 'console=ttyS0',
    htif: opts.htif === true,
  };
}

/** Opens every `--disk` in order; on a failure closes those already open and rethrows. */
async function openDisks(options: readonly DiskOption[]): Promise<BlockBackend[]> {
  const disks: BlockBackend[] = [];
  try {
    for (const d of options) {
      disks.push(await openDisk(d.path, { readOnly: d.readOnly, ...(d.format ? { format: d.format } : {}) }));
    }
  } catch (err) {
    await closeDisks(disks);
    throw err;
  }
  return disks;
}

/** Closes (flushing) every disk; a failure is reported once all are closed. */
async function closeDisks(disks: readonly BlockBackend[]): Promise<void> {
  const results = await Promise.allSettled(disks.map((d) => d.close()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Boots `spec` with the console on this process's stdio; returns the exit code. */
async function runInForeground(spec: LocalVmSpec, ctx: CommandContext): Promise<number> {
  const out = ctx.stdout;
  const stdin = ctx.stdin;
  const rawTty = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  const abort = new AbortController();
  const hartModule = await loadHartModule();
  const vm = startLocalVm(spec, {
    hartModule,
    signal: abort.signal,
    onConsoleOutput: (bytes) => out.write(bytes),
  });

  const parser = new ConsoleEscapeParser();
  const onData = (chunk: Buffer) => {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!rawTty) {
      vm.sendInput(bytes);
      return;
    }
    const r = parser.feed(bytes);
    if (r.guest.length > 0) vm.sendInput(r.guest);
    for (const c of r.commands) {
      if (c === 'quit') abort.abort();
      else if (c === 'help') out.write(`\r\n${ESCAPE_HELP}\r\n`);
    }
  };
  const onSigint = () => abort.abort();
  if (rawTty) stdin.setRawMode?.(true);
  stdin.on('data', onData);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let exit: VmExit;
  try {
    exit = await vm.done;
  } finally {
    stdin.off('data', onData);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (rawTty) stdin.setRawMode?.(false);
    if ('pause' in stdin) stdin.pause();
  }
  return exitCodeOf(exit, ctx);
}

/** Maps how the guest ended to the process exit code, with one line on stderr for failures. */
export function exitCodeOf(exit: VmExit, ctx: Pick<CommandContext, 'stderr'>): number {
  switch (exit.kind) {
    case 'poweroff':
    case 'aborted':
      return 0;
    case 'reset':
      return 0;
    case 'fail':
      ctx.stderr.write(`strata: the guest reported failure (code ${exit.code})\n`);
      return 1;
    case 'htif': {
      if (exit.value === 1) return 0;
      const testNumber = Math.floor(exit.value / 2);
      ctx.stderr.write(`strata: HTIF program failed at test ${testNumber}\n`);
      return testNumber === 0 ? 1 : Math.min(testNumber, 255);
    }
    case 'fault':
      ctx.stderr.write(`strata: guest fault: ${exit.reason}\n`);
      return 1;
  }
}
