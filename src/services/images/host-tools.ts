/** Host programs the image builder runs (apt-get, tar, xz): lookup in PATH and a checked runner. */

import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { StrataError } from '../../base/errors.js';

/** The full path of `name` in the colon-separated `pathVar`, or undefined when no executable file is there. */
export async function findExecutable(name: string, pathVar: string | undefined): Promise<string | undefined> {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // Not in this folder: try the next one.
    }
  }
  return undefined;
}

/** What a host tool printed. */
export interface ToolOutput {
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `tool` with `args` (stdin from `input` when given, else empty) and resolves with its output when it exits 0.
 * Rejects with UNAVAILABLE when the tool is missing, ABORTED on `signal`, and `onFail(stderr, code)` otherwise.
 */
export function runTool(
  tool: string,
  args: readonly string[],
  opts: {
    env: NodeJS.ProcessEnv;
    signal: AbortSignal;
    /** Bytes or a stream for the tool's stdin (closed at the end). */
    input?: Uint8Array | NodeJS.ReadableStream;
    onFail: (stderr: string, code: number | null) => StrataError;
  },
): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, [...args], { env: opts.env, signal: opts.signal, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.stdin.on('error', () => {
      // EPIPE when the tool exits before reading all input: its exit status reports the real problem.
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') reject(new StrataError('ABORTED', `${tool} cancelled`));
      else if (err.code === 'ENOENT') reject(new StrataError('UNAVAILABLE', `${tool} not found in PATH`));
      else reject(opts.onFail(err.message, null));
    });
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr });
      else reject(opts.onFail(stderr.trim().split('\n').pop() ?? '', code));
    });
    const input = opts.input ?? new Uint8Array(0);
    if (input instanceof Uint8Array) child.stdin.end(input);
    else {
      input.on('error', (err: Error) => {
        child.kill();
        reject(opts.onFail(err.message, null));
      });
      input.pipe(child.stdin);
    }
  });
}
