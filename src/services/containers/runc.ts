/**
 * A driver for the `runc` command line (Debian 12 ships runc 1.1.5, OCI runtime spec 1.0.2). Every call runs
 * `runc --root STATE_DIR ...` so Strata's containers live in their own runc state folder and never mix with other
 * users of runc on the host. Failures become one-line StrataErrors carrying runc's own message (`msg="..."`).
 *
 * The verbs follow the OCI runtime specification's lifecycle (runtime.md "Operations"): `run` (create + start,
 * here with `--keep` so the stopped container's cgroup can still be read), `state`, `kill`, `delete`, plus runc's
 * `exec`, `pause` and `resume` (the freezer cgroup).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { StrataError } from '../../base/errors.js';

/** `runc state` output (runtime.md "State"), as runc 1.1 prints it. */
export interface RuncState {
  ociVersion: string;
  id: string;
  /** runtime.md: `creating`, `created`, `running`, `stopped`; runc adds `paused`. */
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  /** The container's init process on the host (0 once stopped). */
  pid: number;
  bundle: string;
}

/** The stdio a runc child gets: file descriptors to pass through, or `pipe`/`ignore`. */
export type RuncStdio = ['pipe' | 'ignore' | number, 'pipe' | 'ignore' | number, 'pipe' | 'ignore' | number];

/** One line of runc's stderr to the message worth showing: the `msg="..."` of its log line, else the line. */
export function runcMessage(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1] ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  const text = m?.[1] ? m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\') : last;
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** A container id runc accepts and Strata uses (the container name). */
export function checkContainerId(id: string): void {
  if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(id)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid container name '${id}': use lower-case letters, digits, '.', '_', '-'`,
    );
  }
}

/** The runc command line for one state folder. */
export class Runc {
  /**
   * @param binary the runc executable (full path or a name looked up in PATH)
   * @param stateDir runc's `--root`: where it keeps its container state (a tmpfs under /run is ideal)
   */
  constructor(
    readonly binary: string,
    readonly stateDir: string,
  ) {}

  /** `runc --version`'s first line; UNAVAILABLE with an install hint when runc is missing or broken. */
  async version(): Promise<string> {
    const out = await this.call(['--version'], 10_000);
    return out.split('\n')[0]?.trim() ?? '';
  }

  /**
   * Spawns `runc --log LOGFILE run --keep --bundle BUNDLE --pid-file PIDFILE ID` in the foreground: the child lives as long as
   * the container's init and exits with its status (128+signal when killed). Its own process group keeps it out
   * of the daemon's terminal signals. `stdio` descriptors pass straight to the container (terminal: false), so
   * runc's own error goes to the JSON log file (read it with `lastLogError`).
   */
  spawnRun(id: string, bundle: string, pidFile: string, logFile: string, stdio: RuncStdio): ChildProcess {
    checkContainerId(id);
    return spawn(
      this.binary,
      [
        '--root',
        this.stateDir,
        '--log',
        logFile,
        '--log-format',
        'json',
        'run',
        '--keep',
        '--bundle',
        bundle,
        '--pid-file',
        pidFile,
        id,
      ],
      { stdio, detached: true },
    );
  }

  /**
   * Spawns `runc exec ID ARGS...` with plain stdio (terminal: false): it exits with the process's status.
   * `env` entries are `NAME=value`.
   */
  spawnExec(
    id: string,
    args: readonly string[],
    opts: { env?: string[]; cwd?: string; stdio: RuncStdio },
  ): ChildProcess {
    checkContainerId(id);
    const flags: string[] = [];
    for (const e of opts.env ?? []) flags.push('--env', e);
    if (opts.cwd) flags.push('--cwd', opts.cwd);
    return spawn(this.binary, ['--root', this.stateDir, 'exec', ...flags, id, ...args], { stdio: opts.stdio });
  }

  /** `runc state ID`, or undefined when runc knows no such container. */
  async state(id: string): Promise<RuncState | undefined> {
    checkContainerId(id);
    try {
      const out = await this.call(['state', id], 10_000);
      return JSON.parse(out) as RuncState;
    } catch (err) {
      if (err instanceof StrataError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** `runc kill ID SIGNAL` (to the container's init; in a pid namespace its end ends every process). */
  async kill(id: string, signal: 'TERM' | 'KILL' | 'INT' | 'HUP'): Promise<void> {
    await this.call(['kill', id, signal], 10_000);
  }

  /** `runc pause ID`: freezes every process of the container (freezer cgroup). */
  async pause(id: string): Promise<void> {
    await this.call(['pause', id], 10_000);
  }

  /** `runc resume ID`: thaws a paused container. */
  async resume(id: string): Promise<void> {
    await this.call(['resume', id], 10_000);
  }

  /** `runc delete [--force] ID`: removes runc's state and the container's cgroups. Quiet when it is already gone. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.call(['delete', ...(force ? ['--force'] : []), id], 20_000);
    } catch (err) {
      if (err instanceof StrataError && err.code === 'NOT_FOUND') return;
      throw err;
    }
  }

  /**
   * `runc update --resources FILE ID`: applies new cgroup limits to a running (or paused) container at once. `file`
   * holds the OCI `LinuxResources` JSON; fields it leaves out keep their values.
   */
  async update(id: string, resourcesFile: string): Promise<void> {
    checkContainerId(id);
    await this.call(['update', '--resources', resourcesFile, id], 20_000);
  }

  /** `runc list --format json`: the ids runc knows in this state folder. */
  async list(): Promise<RuncState[]> {
    const out = await this.call(['list', '--format', 'json'], 10_000);
    const parsed = JSON.parse(out.trim() === '' ? 'null' : out) as RuncState[] | null;
    return parsed ?? [];
  }

  /** Runs one runc verb to completion and returns stdout; classifies failures. */
  private call(args: string[], timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, ['--root', this.stateDir, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: AbortSignal.timeout(timeoutMs),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
      });
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') reject(runcMissing(this.binary));
        else if (err.name === 'AbortError')
          reject(new StrataError('UNAVAILABLE', `runc ${args[0]} did not answer within ${timeoutMs} ms`));
        else reject(new StrataError('UNAVAILABLE', `cannot run ${this.binary}: ${err.message}`));
      });
      child.on('close', (code) => {
        if (code === 0) {
          resolve(stdout);
          return;
        }
        const msg = runcMessage(stderr) || `exit code ${code}`;
        if (/does not exist|not exist|container .* not found/i.test(msg)) {
          reject(new StrataError('NOT_FOUND', `runc ${args[0]}: ${msg}`));
        } else if (/not running|not paused|is paused|stopped|cannot (pause|resume)/i.test(msg)) {
          reject(new StrataError('CONFLICT', `runc ${args[0]}: ${msg}`));
        } else {
          reject(new StrataError('UNAVAILABLE', `runc ${args[0]} failed: ${msg}`));
        }
      });
    });
  }
}

/** The last `error`/`fatal` message of a runc `--log-format json` log text, if any. */
export function lastLogError(logText: string): string | undefined {
  let found: string | undefined;
  for (const line of logText.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string };
      if ((rec.level === 'error' || rec.level === 'fatal') && rec.msg) found = rec.msg;
    } catch {
      // A partial last line: ignore it.
    }
  }
  return found;
}

/** The error for a host without runc: names the binary and the Debian package that provides it. */
export function runcMissing(binary: string): StrataError {
  return new StrataError(
    'UNAVAILABLE',
    `the OCI runtime '${binary}' is not installed or not in PATH: containers need runc (Debian package 'runc')`,
  );
}
