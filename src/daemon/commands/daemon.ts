import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DEFAULT_DAEMON_PORT } from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import { defaultStrataHome } from '../../services/images/image-store.js';
import type { CommandContext, CommandRegistrar } from '../program.js';
import { startDaemon } from '../server.js';

/** The `strata` executable of this checkout, for starting VMM processes. */
export const STRATA_BIN = fileURLToPath(new URL('../../../bin/strata.js', import.meta.url));

/** The command that starts a VMM: node with a bounded JavaScript heap (guest RAM is outside it) and bin/strata.js. */
export function vmmCommand(): string[] {
  return [process.execPath, '--max-old-space-size=192', STRATA_BIN];
}

interface DaemonCommandOptions {
  host: string;
  port: string;
  logFile?: string;
  logLevel: string;
}

/**
 * Registers `strata daemon`: the management daemon in the foreground (REST API and WebSockets on 127.0.0.1:8440
 * and on `$STRATA_HOME/daemon/strata.sock`). SIGINT/SIGTERM stop it; running VMs keep running.
 */
export const registerDaemonCommand: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  program
    .command('daemon')
    .description('run the management daemon (REST API, events, consoles) in the foreground; VMs outlive it')
    .option('--host <address>', 'TCP address to listen on (loopback only)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port)', String(DEFAULT_DAEMON_PORT))
    .option('--log-file <file>', 'write the JSON log there instead of stdout')
    .option('--log-level <level>', 'pino log level', 'info')
    .addHelpText(
      'after',
      '\nState, token and socket live in $STRATA_HOME/daemon/. Clients: strata list, strata launch... (see --help)\n',
    )
    .action(async (opts: DaemonCommandOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new StrataError('INVALID_ARGUMENT', `invalid --port '${opts.port}': expected 0 to 65535`);
      }
      if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(opts.host)) {
        throw new StrataError('INVALID_ARGUMENT', `invalid --host '${opts.host}': the daemon listens on loopback only`);
      }
      const home = defaultStrataHome(ctx.env);
      const daemon = await startDaemon({
        home,
        host: opts.host,
        port,
        version: ctx.version,
        env: ctx.env,
        strataCommand: vmmCommand(),
        logFile: opts.logFile,
        logLevel: opts.logLevel,
      });
      ctx.stderr.write(`strata daemon: listening on ${daemon.url} and ${daemon.socket}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await daemon.close();
      ctx.stderr.write('strata daemon: stopped (VMs keep running)\n');
    });
};
