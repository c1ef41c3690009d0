import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { VmmBootConfig, VmmExit } from '../../hypervisor/vmm-protocol.js';
import type { Engine, EngineVmSpec, VmHandle } from './engine.js';
import { VmmClient } from './vmm-client.js';
import { readExitRecord, VmmHandle } from './vmm-handle.js';

/** Files of a VM's runtime folder. */
export const RUN_FILES = {
  socket: 'vmm.sock',
  definition: 'definition.json',
  exit: 'exit.json',
  log: 'vmm.log',
  pid: 'vmm.pid',
  engine: 'engine',
} as const;

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its terminating zero). */
const MAX_SOCKET_PATH_BYTES = 107;

/** How the builtin engine starts a VMM: the command that runs `strata` (node, its flags, bin/strata.js). */
export interface BuiltinEngineOptions {
  /** argv prefix that runs the `strata` executable, e.g. `[process.execPath, '--max-old-space-size=256', bin]`. */
  strataCommand: readonly string[];
  /** Called with the pid of each new VMM (resource controls put it into its cgroup). */
  onSpawn?: (name: string, pid: number) => void | Promise<void>;
  /** How long a new VMM may take to listen on its socket. */
  startTimeoutMs?: number;
}

/**
 * The builtin engine: one `strata vmm` process per VM running Strata's own `virt` machine, started detached (its
 * own session, output to `vmm.log`) so it outlives a daemon restart, and driven over the VMM protocol.
 */
export class BuiltinEngine implements Engine {
  readonly name = 'builtin' as const;

  constructor(private readonly opts: BuiltinEngineOptions) {}

  async unavailableReason(): Promise<string | undefined> {
    return undefined;
  }

  async create(spec: EngineVmSpec, signal?: AbortSignal): Promise<VmHandle> {
    const socket = join(spec.runDir, RUN_FILES.socket);
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `socket path ${socket} is too long for a Unix socket: use a shorter STRATA_HOME`,
      );
    }
    const config: VmmBootConfig = {
      name: spec.name,
      memoryBytes: spec.memoryBytes,
      cpus: spec.cpus,
      kernelPath: spec.kernelPath,
      initrdPath: spec.initrdPath,
      firmwarePath: spec.firmwarePath,
      cmdline: spec.cmdline,
      diskPath: spec.diskPath,
      nics: spec.nics,
      limits: spec.limits,
    };
    const definition = join(spec.runDir, RUN_FILES.definition);
    const exitFile = join(spec.runDir, RUN_FILES.exit);
    writeFileSync(definition, JSON.stringify(config, null, 2), { mode: 0o600 });
    writeFileSync(join(spec.runDir, RUN_FILES.engine), 'builtin');
    await rm(exitFile, { force: true });
    const logFd = openSync(join(spec.runDir, RUN_FILES.log), 'a', 0o600);
    const [cmd, ...prefix] = this.opts.strataCommand;
    if (!cmd) throw new StrataError('INTERNAL', 'no strata command to start a VMM with');
    const child = spawn(
      cmd,
      [...prefix, 'vmm', '--socket', socket, '--definition', definition, '--exit-file', exitFile],
      { detached: true, stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    const exitInfo = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      child.once('error', () => resolve({ code: -1, signal: null }));
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new StrataError('IO', `cannot start the VMM of '${spec.name}'`);
    writeFileSync(join(spec.runDir, RUN_FILES.pid), String(pid));
    await this.opts.onSpawn?.(spec.name, pid);

    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    let exited = false;
    void exitInfo.then(() => {
      exited = true;
    });
    for (;;) {
      if (signal?.aborted) {
        child.kill('SIGKILL');
        throw new StrataError('ABORTED', `start of the VMM of '${spec.name}' cancelled`);
      }
      try {
        const client = await VmmClient.connect(socket, 2000);
        return new VmmHandle(client, exitFile, exitInfo);
      } catch {
        // Not listening yet: try again until the deadline or until the VMM exits.
      }
      if (exited || Date.now() > deadline) {
        if (!exited) child.kill('SIGKILL');
        throw new StrataError('UNAVAILABLE', `the VMM of '${spec.name}' did not start: ${logTail(spec.runDir)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async attach(runDir: string, signal?: AbortSignal): Promise<VmHandle | { gone: VmmExit }> {
    return attachVmm(runDir, signal);
  }
}

/** Attaches to the VMM of `runDir` over its socket, or says how it ended. */
export async function attachVmm(runDir: string, signal?: AbortSignal): Promise<VmHandle | { gone: VmmExit }> {
  const exitFile = join(runDir, RUN_FILES.exit);
  const pid = Number(readText(join(runDir, RUN_FILES.pid)));
  try {
    const client = await VmmClient.connect(join(runDir, RUN_FILES.socket), 3000, signal);
    return new VmmHandle(client, exitFile);
  } catch {
    const recorded = readExitRecord(exitFile);
    if (recorded) return { gone: recorded };
    if (pid > 0 && isAlive(pid)) {
      // Alive but not answering: it cannot be driven any more, so end it rather than leave a stray guest.
      process.kill(pid, 'SIGKILL');
      return { gone: { kind: 'error', reason: `the VMM process (pid ${pid}) stopped answering and was killed` } };
    }
    return { gone: { kind: 'error', reason: `the VMM process (pid ${pid || '?'}) died while the daemon was away` } };
  }
}

/** The last lines of a VMM's log, on one line, for error messages. */
export function logTail(runDir: string): string {
  const text = readText(join(runDir, RUN_FILES.log)).trim();
  const lines = text.split('\n').slice(-3).join(' | ');
  return lines === '' ? 'no output' : lines.slice(-400);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
