import { readFileSync } from 'node:fs';
import { REMOTE_REGISTRARS } from '../cli/remote-commands.js';
import { registerDaemonCommand } from './commands/daemon.js';
import { registerImageCommands } from './commands/image.js';
import { registerNetworkCommands } from './commands/network.js';
import { registerRunCommand } from './commands/run.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerVmmCommand } from './commands/vmm.js';
import { buildProgram, type CommandContext, type CommandRegistrar, runProgram } from './program.js';

/** Every group of subcommands of the `strata` executable. */
export const REGISTRARS: readonly CommandRegistrar[] = [
  registerImageCommands,
  registerRunCommand,
  registerNetworkCommands,
  registerStorageCommands,
  registerDaemonCommand,
  registerVmmCommand,
  ...REMOTE_REGISTRARS,
];

/** The package version, read from package.json beside dist/ or src/. */
export function strataVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The composition root: runs the `strata` command line on `argv` and returns the exit code. */
export async function main(argv: readonly string[], ctx?: Partial<CommandContext>): Promise<number> {
  const full: CommandContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    version: strataVersion(),
    ...ctx,
  };
  const program = buildProgram(full, REGISTRARS);
  return runProgram(program, argv, full);
}
