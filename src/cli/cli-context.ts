import { type Command, Option } from 'commander';
import type { Operation } from '../api/schema/index.js';
import { ProgressBar, type ProgressReporter, silentProgress } from '../base/progress.js';
import { DaemonClient } from './client.js';
import { resolveTarget } from './connection.js';
import { OUTPUT_FORMATS } from './output.js';

/** What a remote command needs from its process (a subset of the executable's command context). */
export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
}

/** Registers one group of remote commands. */
export type CliRegistrar = (program: Command, ctx: CliContext) => void;

/** The daemon client for this process's environment. */
export function clientFor(ctx: CliContext): DaemonClient {
  return new DaemonClient(resolveTarget(ctx.env));
}

/** The `--format table|json|yaml` option. */
export function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table');
}

/**
 * Waits for an operation with a progress line on stderr (a bar when it reports bytes), and prints `doneText` when
 * it succeeded. `quiet` prints nothing but errors.
 */
export async function followOperation(
  ctx: CliContext,
  client: DaemonClient,
  op: Operation,
  label: string,
  quiet = false,
): Promise<Operation> {
  const bar: ProgressReporter = quiet ? silentProgress : new ProgressBar(ctx.stderr);
  let phase = '';
  bar.phase(label);
  try {
    const done = await client.waitOperation(op, (cur) => {
      const p = cur.progress;
      if (!p) return;
      if (p.phase !== phase) {
        phase = p.phase;
        bar.phase(`${label}: ${p.phase}`, p.totalBytes, p.unit ?? 'bytes');
      }
      bar.update(p.doneBytes, p.totalBytes || undefined);
    });
    bar.done(`${label}: done`);
    return done;
  } catch (err) {
    if (!quiet && ctx.stderr.isTTY) ctx.stderr.write('\r\x1b[K');
    throw err;
  }
}

/** Thrown by a command action to end with a given exit code after it has printed its own output. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
