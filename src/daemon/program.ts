import { Command, CommanderError, Option } from 'commander';
import { errorMessage, isStrataError } from '../base/errors.js';

/** Exit codes of the `strata` executable. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** What a command needs from its process: streams and environment, injected so tests can run commands in-process. */
export interface CommandContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  /** The version printed by `--version`. */
  version: string;
}

/** Registers one group of subcommands on the program. */
export type CommandRegistrar = (program: Command, ctx: CommandContext) => void;

/**
 * Builds the `strata` program: every command has `--help`, errors from commander are usage errors (exit 2), and
 * a thrown error is printed as one line on stderr (exit 1).
 */
export function buildProgram(ctx: CommandContext, registrars: readonly CommandRegistrar[]): Command {
  const program = new Command('strata');
  program
    .description('Strata: virtual machines, storage and networks on any host that runs Node.js')
    .version(ctx.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride();
  for (const register of registrars) register(program, ctx);
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
    cmd.showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** An option that takes one of a fixed set of values (`--format table|json`). */
export function choiceOption(flags: string, description: string, choices: readonly string[], dflt: string): Option {
  return new Option(flags, description).choices(choices).default(dflt);
}

/**
 * Runs the program on `argv` (without node and script) and returns the exit code. Commander's own errors
 * (unknown option, missing argument, bad choice) are usage errors; StrataErrors and other errors print one line.
 */
export async function runProgram(program: Command, argv: readonly string[], ctx: CommandContext): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return EXIT_OK;
      }
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_FAILURE;
      return EXIT_USAGE;
    }
    if (err instanceof ExitCode) return err.code;
    const prefix = isStrataError(err) ? '' : 'internal error: ';
    ctx.stderr.write(`strata: ${prefix}${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** Thrown by a command action to end with a given exit code after it has printed its own output. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
