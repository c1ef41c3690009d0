import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { errorMessage, StrataError } from '../../base/errors.js';
import { runVmm } from '../../hypervisor/vmm-main.js';
import type { VmmBootConfig, VmmNicConfig } from '../../hypervisor/vmm-protocol.js';
import { networkPaths } from '../../services/network/network-service.js';
import { NetworkStore } from '../../services/network/network-store.js';
import { connectSwitchEndpoint, type EndpointClient } from '../../services/network/switch-endpoint.js';
import { openDisk } from '../../services/storage/open-disk.js';
import { loadHartModule } from '../assets.js';
import type { CommandContext, CommandRegistrar } from '../program.js';
import { ensureServed } from './network.js';

interface VmmCommandOptions {
  socket: string;
  definition: string;
  exitFile: string;
  autostart?: boolean;
}

/**
 * Registers `strata vmm`: the process that runs one VM (the daemon starts one per VM). It reads the VM definition
 * (JSON), listens on a Unix socket for the VMM protocol, and ends when the guest is gone. Not meant to be typed
 * by people, so it is hidden from help.
 */
export const registerVmmCommand: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  program
    .command('vmm', { hidden: true })
    .description('run one VM as its own process, driven over a Unix socket (started by the daemon)')
    .requiredOption('--socket <path>', 'Unix socket to serve the VMM protocol on')
    .requiredOption('--definition <file>', 'the VM definition (JSON)')
    .requiredOption('--exit-file <file>', 'where to record how the guest ended')
    .option('--autostart', 'boot at once instead of waiting for a start request')
    .action(async (opts: VmmCommandOptions) => {
      const config = await readDefinition(opts.definition);
      process.title = `strata-vmm ${config.name}`;
      const hartModule = await loadHartModule();
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // The daemon may go away and come back: a closed stdout or stderr must not end the VM.
      process.stdout.on('error', () => {});
      process.stderr.on('error', () => {});
      try {
        const exit = await runVmm({
          socketPath: opts.socket,
          config,
          exitFile: opts.exitFile,
          hartModule,
          autostart: opts.autostart === true,
          signal: controller.signal,
          readFile: async (path) => new Uint8Array(await readFile(path)),
          openDisk: (path) => openDisk(path),
          attachNic: (nic) => attachNic(nic, ctx.env),
          log: (line) => ctx.stderr.write(`${new Date().toISOString()} vmm[${process.pid}]: ${line}\n`),
        });
        ctx.stderr.write(`${new Date().toISOString()} vmm[${process.pid}]: exit ${exit.kind}: ${exit.reason}\n`);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
};

/**
 * Attaches one NIC of the VM to its network's switch, starting the network's serve process when none runs (as
 * `strata run --nic` does).
 */
async function attachNic(nic: VmmNicConfig, env: NodeJS.ProcessEnv): Promise<EndpointClient> {
  const store = new NetworkStore(nic.home);
  await store.get(nic.network);
  await ensureServed(store, nic.network, env);
  return connectSwitchEndpoint(networkPaths(store.runDir, nic.network).socket, {
    network: nic.network,
    name: nic.port,
  });
}

async function readDefinition(path: string): Promise<VmmBootConfig> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `cannot read VM definition ${path}: ${errorMessage(err)}`);
  }
  const v = value as Partial<VmmBootConfig>;
  if (
    typeof v.name !== 'string' ||
    !Number.isSafeInteger(v.memoryBytes) ||
    typeof v.kernelPath !== 'string' ||
    typeof v.cmdline !== 'string'
  ) {
    throw new StrataError('INVALID_ARGUMENT', `VM definition ${path} lacks name, memoryBytes, kernelPath or cmdline`);
  }
  return { cpus: 1, limits: {}, ...v } as VmmBootConfig;
}
