import type { CliRegistrar } from './cli-context.js';
import { registerConsoleCommand } from './commands/console-command.js';
import { registerFileCommands } from './commands/file-commands.js';
import { registerInstanceCommands } from './commands/instance-commands.js';
import { registerMonitorCommand } from './commands/monitor-command.js';
import { registerOperationCommands } from './commands/operation-commands.js';

/** Every command that talks to the daemon (STRATA_URL + STRATA_TOKEN, or the local Unix socket). */
export const REMOTE_REGISTRARS: readonly CliRegistrar[] = [
  registerInstanceCommands,
  registerConsoleCommand,
  registerFileCommands,
  registerOperationCommands,
  registerMonitorCommand,
];
