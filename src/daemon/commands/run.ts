import type { Command } from 'commander';
import { StrataError } from '../../base/errors.js';
import { parseSizeBytes } from '../../base/units.js';
import { type LocalVmSpec, startLocalVm } from '../../hypervisor/local-vm.js';
import type { VmExit } from '../../hypervisor/vm-runner.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { networkPaths } from '../../services/network/network-service.js';
import type { EndpointClient } from '../../services/network/switch-endpoint.js';
import { connectSwitchEndpoint } from '../../services/network/switch-endpoint.js';
import { loadHartModule } from '../assets.js';
import { ConsoleEscapeParser, ESCAPE_HELP } from '../console-escape.js';
import { type CommandContext, type CommandRegistrar, ExitCode, UsageError } from '../program.js';
import { readInput } from '../read-input.js';
import { collectDiskOption, type DiskOption, openDiskOption } from './disk-option.js';
import { ensureServed, networkStore } from './network.js';
import { collectNicOption, type NicOption } from './nic-option.js';
import { resolveImageBoot } from './run-image.js';

/** Smallest guest RAM `strata run` accepts. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
/** Largest guest RAM: the hart keeps RAM in one 32-bit WebAssembly memory beside its own state. */
export const MAX_MEMORY_BYTES = 3 * 1024 * 1024 * 1024;
/** Guest RAM is allocated in WebAssembly pages. */
export const MEMORY_GRANULE_BYTES = 64 * 1024;

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
  nic?: NicOption[];
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
      (value: string, previous: DiskOption[] | undefined) => usage(() => collectDiskOption(value, previous)),
    )
    .option(
      '--nic <network=NAME[,mac=MAC][,vlan=N][,port=NAME]>',
      'attach a virtio network card to a network (repeatable; see `strata network --help`)',
      (value: string, previous: NicOption[] | undefined) => usage(() => collectNicOption(value, previous)),
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
        '--disk vol=POOL/NAME (or volume=NAME in the default pool) attaches a storage volume, locked for this VM.',
        'NICs: --nic network=NAME joins a network made with `strata network create`; the network starts in the',
        'background if it is not running, and other `strata run` processes on it share its switch. mac= sets the',
        "guest's MAC, vlan= puts this NIC's switch port in another access VLAN, port= names that port.",
        'Exit code: 0 when the guest powers off (or an HTIF program passes), 1 on a guest or host failure,',
        'the failing test number for an HTIF program that fails.',
      ].join('\n'),
    )
    .action(async (opts: RunOptions) => {
      // Unknown networks are refused before anything is read or started.
      for (const n of opts.nic ?? []) await networkStore(ctx.env).get(n.network);
      const spec = await buildSpec(opts, ctx);
      const nics = await attachNics(opts.nic ?? [], ctx);
      let code: number;
      try {
        const disks = await openDisks(opts.disk ?? [], ctx.env);
        try {
          code = await runInForeground(
            { ...spec, disks, entropy: true, nics: nics.map((n, i) => ({ backend: n, mac: opts.nic?.[i]?.mac })) },
            ctx,
          );
        } finally {
          await closeDisks(disks);
        }
      } finally {
        await Promise.allSettled(nics.map((n) => n.close()));
      }
      if (code !== 0) throw new ExitCode(code);
    });
};

async function buildSpec(opts: RunOptions, ctx: CommandContext): Promise<LocalVmSpec> {
  const memoryBytes = usage(() => parseSizeBytes(opts.memory, 'memory size'));
  if (memoryBytes < MIN_MEMORY_BYTES || memoryBytes > MAX_MEMORY_BYTES) {
    throw new UsageError(`invalid memory size '${opts.memory}': must be between 16M and 3G`);
  }
  if (memoryBytes % MEMORY_GRANULE_BYTES !== 0) {
    throw new UsageError(`invalid memory size '${opts.memory}': must be a multiple of 64 KiB`);
  }
  if (!/^\d+$/.test(opts.cpus) || Number(opts.cpus) < 1) {
    throw new UsageError(`invalid vCPU count '${opts.cpus}': must be a positive whole number`);
  }
  if (Number(opts.cpus) !== 1) {
    throw new UsageError(`invalid vCPU count '${opts.cpus}': the builtin engine runs 1 vCPU`);
  }
  if (opts.image && opts.htif) {
    throw new UsageError('--htif runs a bare-metal program given with --kernel, not an --image');
  }
  if (opts.image && (opts.kernel || opts.initrd || opts.bios)) {
    throw new UsageError('--image cannot be combined with --kernel, --initrd or --bios');
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
    throw new UsageError('nothing to boot: give --image NAME or --kernel FILE');
  }
  if (opts.htif && opts.bios && opts.bios !== 'none') {
    throw new UsageError('--htif runs a bare-metal program: use it with --bios none');
  }
  return {
    memoryBytes,
    kernel: await readInput(opts.kernel, 'kernel', memoryBytes),
    initrd: opts.initrd ? await readInput(opts.initrd, 'initrd', memoryBytes) : undefined,
    firmware: opts.bios && opts.bios !== 'none' ? await readInput(opts.bios, 'firmware', memoryBytes) : undefined,
    cmdline: opts.append ?? 'console=ttyS0',
    htif: opts.htif === true,
  };
}

/** Opens every `--disk` in order; on a failure closes those already open and rethrows. */
async function openDisks(options: readonly DiskOption[], env: NodeJS.ProcessEnv): Promise<BlockBackend[]> {
  const disks: BlockBackend[] = [];
  try {
    for (const d of options) {
      disks.push(await openDiskOption(d, env));
    }
  } catch (err) {
    await closeDisks(disks);
    throw err;
  }
  return disks;
}

/**
 * Attaches every `--nic` to its network's switch, starting the network in the background when it is not running.
 * An unknown network is a NOT_FOUND error naming it; on any failure the NICs already attached are detached.
 */
async function attachNics(options: readonly NicOption[], ctx: CommandContext): Promise<EndpointClient[]> {
  if (options.length === 0) return [];
  const store = networkStore(ctx.env);
  const nics: EndpointClient[] = [];
  try {
    for (const [i, n] of options.entries()) {
      await ensureServed(store, n.network, ctx.env);
      nics.push(
        await connectSwitchEndpoint(networkPaths(store.runDir, n.network).socket, {
          network: n.network,
          name: n.port ?? `p${process.pid}n${i}`,
          ...(n.vlan !== undefined ? { vlan: { mode: 'access' as const, vlan: n.vlan } } : {}),
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(nics.map((c) => c.close()));
    throw err;
  }
  return nics;
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
    // A local VM reboots in place on a guest reset; a runner that reports one has ended cleanly all the same.
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

/** Runs an option parser, turning its INVALID_ARGUMENT error into a usage error (exit 2). */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
    throw err;
  }
}
