import { Command, CommanderError, Option } from 'commander';
import { errorMessage, isStrataError } from '../base/errors.js';
import { ExitCode } from '../cli/cli-context.js';

/** Exit code of a command that did its work. */
export const EXIT_OK = 0;
/** Exit code of a command that failed (one line on stderr names the cause). */
export const EXIT_FAILURE = 1;
/** Exit code of a command line that cannot be run as given (unknown option, bad option value, missing argument). */
export const EXIT_USAGE = 2;

/**
 * A command line that cannot be run as given: a bad option value or a contradictory combination. Printed as one
 * line naming the value, exit code 2 (like commander's own parse errors).
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

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
 * Builds the `strata` program: every command has `--help`; commander's parse errors and UsageErrors are one line
 * on stderr with exit 2, and any other thrown error is one line on stderr with exit 1.
 */
export function buildProgram(ctx: CommandContext, registrars: readonly CommandRegistrar[]): Command {
  const program = new Command('strata');
  program
    .description('Strata: virtual machines, storage and networks on any host that runs Node.js')
    .version(ctx.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
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
    if (err instanceof UsageError) {
      ctx.stderr.write(`strata: ${errorMessage(err)} (see --help)\n`);
      return EXIT_USAGE;
    }
    const prefix = isStrataError(err) ? '' : 'internal error: ';
    ctx.stderr.write(`strata: ${prefix}${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** Thrown by a command action to end with a given exit code (defined beside the remote commands that use it). */
export { ExitCode };
