/**
 * Application sandboxes: WebAssembly modules using WASI preview1 (`wasi_snapshot_preview1`), each run by
 * `node:wasi` in its own worker thread. A sandbox is a folder `$STRATA_HOME/sandboxes/<name>/`:
 *
 *   sandbox.json   the record: limits, args, env, last exit
 *   module.wasm    the module as given (the capped copy is made at each start)
 *   files/         the only host folder the module can see, preopened as its `/`
 *
 * Limits, and how each is enforced:
 * - Memory: the module's linear memory may not exceed `memoryBytes`. A module whose memory starts above the cap
 *   is refused at launch; otherwise the declared maximum is lowered to the cap in the binary (or, for an imported
 *   memory, the memory we create has that maximum), so `memory.grow` past it returns -1 inside the module (core
 *   spec: a failed grow is -1, not a trap). The worker's JavaScript heap is bounded by `resourceLimits`.
 *   Shared (threads) and 64-bit memories are refused. Tables (host memory outside the linear memory) are held to
 *   MAX_TABLE_ENTRIES the same way.
 * - CPU time: the worker reports its kernel thread id; the parent reads that thread's user+system time from
 *   `/proc/self/task/<tid>/stat` every `cpuPollMs` and terminates the worker once it exceeds `cpuTimeMs`. This is
 *   CPU time of the thread that runs the module (compilation included), not wall-clock time: a module blocked on
 *   stdin uses none. Resolution is the kernel's clock tick (10 ms) plus the poll interval. On a host without
 *   /proc/thread-self the limit falls back to wall-clock time, and `info` says so.
 * - Files: only `files/`. Before each start the folder is walked and any symbolic link, any non-regular special
 *   file, and any file with more than one hard link is refused (each could make a host file outside reachable);
 *   while running, `path_symlink` and `path_link` are refused. `..` and absolute paths are resolved by node:wasi
 *   (uvwasi) against the preopen and refused when they leave it (WASI errno ENOTCAPABLE). node:wasi documents that
 *   it is not a secure sandbox against all attacks; these checks close the link-based escapes, and the tests
 *   attempt each of them.
 */

import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { errorMessage, StrataError } from '../../base/errors.js';
import { checkPulledFile, checkPushSize, instancePathComponents } from '../../base/instance-path.js';
import { type SandboxWorkerData, StdinRing, type WorkerToParent } from './wasi-protocol.js';
import { capModule, inspectModule, WASM_PAGE_BYTES } from './wasm-module.js';

/** The WASI import module name (WASI preview1). */
export const WASI_MODULE = 'wasi_snapshot_preview1';

/** The record format version this code writes. */
export const SANDBOX_RECORD_VERSION = 1;

/** Console bytes kept for late subscribers. */
export const SANDBOX_CONSOLE_HISTORY_BYTES = 1024 * 1024;

/** Most entries of a table (function references; 8 bytes of host memory each). */
export const MAX_TABLE_ENTRIES = 65_536;

/** Largest module accepted (bytes). */
export const MAX_MODULE_BYTES = 64 * 1024 * 1024;

/** Limits of a sandbox. */
export interface SandboxLimits {
  /** Cap of the module's linear memory in bytes (rounded down to 64 KiB pages). Default 64 MiB. */
  memoryBytes: number;
  /** CPU time budget of one run in milliseconds. Default 10 000. */
  cpuTimeMs: number;
  /** JavaScript heap of the worker in MiB (V8 old generation). Default 32. */
  jsHeapMb: number;
}

/** Default limits. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { memoryBytes: 64 * 1024 * 1024, cpuTimeMs: 10_000, jsHeapMb: 32 };

/** How a run ended. */
export interface SandboxExit {
  /** `exit`: the module returned or called proc_exit; `trap`: a WebAssembly trap; `cpu-limit`: ended by the CPU
   *  budget; `memory-limit`: the worker ran out of its heap; `stopped`: stop was asked; `error`: it could not run. */
  reason: 'exit' | 'trap' | 'cpu-limit' | 'memory-limit' | 'stopped' | 'error';
  /** The WASI exit code when `reason` is `exit`, else null. */
  code: number | null;
  /** One line for everything but a plain exit. */
  message?: string | undefined;
  /** CPU time the run used, in milliseconds (kernel tick resolution). */
  cpuMs: number;
  at: string;
}

/** What `launch` needs. */
export interface SandboxLaunchSpec {
  name: string;
  /** The module bytes (or give `modulePath`). */
  module?: Uint8Array | undefined;
  /** A `.wasm` file to read. */
  modulePath?: string | undefined;
  /** argv[1..] (argv[0] is the name). */
  args?: string[] | undefined;
  env?: Record<string, string> | undefined;
  limits?: Partial<SandboxLimits> | undefined;
  /** Files to place in the sandbox folder before the start (relative path to contents). */
  files?: Record<string, Uint8Array | string> | undefined;
}

/** The persisted record of a sandbox. */
export interface SandboxRecord {
  schemaVersion: number;
  name: string;
  args: string[];
  env: Record<string, string>;
  limits: SandboxLimits;
  createdAt: string;
  lastExit?: SandboxExit | undefined;
}

/** `info` of a sandbox. */
export interface SandboxInfo {
  name: string;
  status: 'running' | 'stopped';
  limits: SandboxLimits;
  args: string[];
  /** The module's environment. */
  env: Record<string, string>;
  createdAt: string;
  /** The host folder the module sees as `/`. */
  filesDir: string;
  /** CPU time of the current run so far (ms), while running. */
  cpuMs?: number | undefined;
  /** Size of the running module's linear memory in bytes (as of its last WASI call), while running. */
  memoryBytes?: number | undefined;
  /** How the CPU limit is measured on this host: thread CPU time, or wall clock when that cannot be read. */
  cpuLimitBasis?: 'thread-cpu-time' | 'wall-clock' | undefined;
  /** Bytes the module wrote to stdout and stderr in this run, while running. */
  consoleBytes?: number | undefined;
  /** Exit code of the last run (null when it did not exit by itself) and how it ended. */
  exitCode?: number | null | undefined;
  lastExit?: SandboxExit | undefined;
}

/** A console subscription: the kept history first, then every new byte. */
export interface SandboxConsoleSubscription {
  history: Uint8Array;
  close(): void;
  /** Settles when the subscription is closed or the run ends. */
  ended: Promise<void>;
}

/** Settings of the sandbox manager. */
export interface SandboxManagerOptions {
  /** `$STRATA_HOME`: sandboxes live in `<home>/sandboxes/`. */
  home: string;
  /** How often the CPU time is read (ms). Default 20. */
  cpuPollMs?: number | undefined;
}

interface Run {
  worker: Worker;
  ring: StdinRing;
  pendingInput: Uint8Array[];
  inputTimer: NodeJS.Timeout | undefined;
  inputClosed: boolean;
  tid: number;
  startedAt: number;
  cpuMs: number;
  /** Undefined until the worker reports its thread (the budget is counted from then). */
  basis: 'thread-cpu-time' | 'wall-clock' | undefined;
  workerFds: number[];
  history: Buffer[];
  historyBytes: number;
  listeners: Set<(b: Uint8Array) => void>;
  enders: Set<() => void>;
  ending: SandboxExit['reason'] | undefined;
  endMessage: string | undefined;
  result: { code: number } | { trap: string; kind: 'trap' | 'error' } | undefined;
  done: Promise<SandboxExit>;
  /** The worker's view of the linear memory size, in pages. */
  memoryPages: Int32Array;
  consoleBytes: number;
}

/** Clock ticks per second of /proc stat times (USER_HZ; 100 on Linux for every architecture Debian ships). */
const USER_HZ = 100;

/** Reads user+system CPU time (ms) of thread `tid` of this process, or undefined when it cannot. */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/**
 * Checks a module before it runs: valid WebAssembly (compiled here, so the error comes at launch), imports only
 * from WASI preview1 (plus at most one memory), a `_start` export (a WASI command), memories within the cap.
 * Returns the compiled, capped module and how to provide an imported memory.
 */
export async function prepareModule(
  bytes: Uint8Array,
  memoryCapBytes: number,
  what: string,
): Promise<{ module: WebAssembly.Module; memoryImport: SandboxWorkerData['memoryImport'] }> {
  if (bytes.length > MAX_MODULE_BYTES) {
    throw new StrataError('INVALID_ARGUMENT', `${what} is larger than ${MAX_MODULE_BYTES} bytes`);
  }
  let original: WebAssembly.Module;
  try {
    original = await WebAssembly.compile(new Uint8Array(bytes));
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `${what} is not a valid WebAssembly module: ${errorMessage(err)}`);
  }
  const mem = inspectModule(bytes);
  const capPages = Math.floor(memoryCapBytes / WASM_PAGE_BYTES);
  const all = [...mem.defined, ...mem.imported.map((i) => i.limits)];
  if (all.length > 1)
    throw new StrataError('INVALID_ARGUMENT', `${what} has ${all.length} memories; a sandbox allows one`);
  for (const l of all) {
    if (l.shared) throw new StrataError('INVALID_ARGUMENT', `${what} uses a shared memory (threads): not supported`);
    if (l.is64) throw new StrataError('INVALID_ARGUMENT', `${what} uses a 64-bit memory: not supported`);
    if (l.min > capPages) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${what} needs ${l.min * 64} KiB of memory at start, more than the sandbox's cap of ${capPages * 64} KiB`,
      );
    }
  }
  for (const imp of WebAssembly.Module.imports(original)) {
    if (imp.kind === 'memory') continue;
    if (imp.module !== WASI_MODULE || imp.kind !== 'function') {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${what} imports ${imp.kind} ${imp.module}.${imp.name}, which a WASI sandbox does not provide`,
      );
    }
  }
  const exports = WebAssembly.Module.exports(original);
  if (!exports.some((e) => e.name === '_start' && e.kind === 'function')) {
    throw new StrataError('INVALID_ARGUMENT', `${what} exports no _start function: not a WASI command module`);
  }
  const imported = mem.imported[0];
  if (!imported && !exports.some((e) => e.name === 'memory' && e.kind === 'memory')) {
    throw new StrataError('INVALID_ARGUMENT', `${what} neither exports nor imports a memory (WASI needs 'memory')`);
  }
  if (mem.importedTables > 0)
    throw new StrataError('INVALID_ARGUMENT', `${what} imports a table, which a WASI sandbox does not provide`);
  for (const t of mem.tables) {
    if (t.limits.min > MAX_TABLE_ENTRIES) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${what} has a table of ${t.limits.min} entries; a sandbox allows ${MAX_TABLE_ENTRIES}`,
      );
    }
  }
  const capped =
    mem.defined.length > 0 || mem.tables.length > 0 ? capModule(bytes, mem, capPages, MAX_TABLE_ENTRIES) : bytes;
  const module = capped === bytes ? original : await WebAssembly.compile(new Uint8Array(capped));
  const memoryImport = imported
    ? {
        module: imported.module,
        name: imported.name,
        initial: imported.limits.min,
        maximum: Math.min(imported.limits.max ?? capPages, capPages),
      }
    : undefined;
  return { module, memoryImport };
}

/**
 * Refuses a sandbox folder through which a module could reach a host file outside it: a symbolic link anywhere,
 * a device, socket or FIFO, or a regular file with more than one hard link. The folder itself must not be a link.
 */
export async function checkSandboxFolder(dir: string): Promise<void> {
  const top = await lstat(dir);
  if (!top.isDirectory()) throw new StrataError('INVALID_ARGUMENT', `sandbox folder ${dir} is not a folder`);
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isSymbolicLink()) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `sandbox folder holds a symbolic link ${p}: links could lead outside it`,
        );
      }
      if (st.isDirectory()) await walk(p);
      else if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `sandbox folder holds a special file ${p}`);
      else if (st.nlink > 1) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `sandbox folder holds ${p} with ${st.nlink} hard links: it may be a file from outside`,
        );
      }
    }
  };
  await walk(dir);
}

/** Runs WASI sandboxes. */
export class SandboxManager {
  readonly sandboxesDir: string;
  private readonly cpuPollMs: number;
  private readonly runs = new Map<string, Run>();
  private readonly starting = new Set<string>();
  /** Console output of each sandbox's last ended run (in memory; what a console shows once the module is gone). */
  private readonly lastOutput = new Map<string, Buffer>();
  private readonly exitListeners = new Set<(name: string, exit: SandboxExit) => void>();

  constructor(opts: SandboxManagerOptions) {
    this.sandboxesDir = join(opts.home, 'sandboxes');
    this.cpuPollMs = opts.cpuPollMs ?? 20;
  }

  /**
   * Creates a sandbox (folder, record, module copy, files) and starts it. Any failure (a module that is not valid
   * WebAssembly, a memory above the cap, bad limits) leaves nothing behind.
   */
  async launch(spec: SandboxLaunchSpec): Promise<SandboxInfo> {
    checkSandboxName(spec.name);
    const limits = { ...DEFAULT_SANDBOX_LIMITS, ...(spec.limits ?? {}) };
    checkLimits(limits);
    let bytes: Uint8Array;
    if (spec.module) bytes = spec.module;
    else if (spec.modulePath) {
      bytes = await readFile(spec.modulePath).catch((err: NodeJS.ErrnoException) => {
        throw new StrataError(
          err.code === 'ENOENT' ? 'NOT_FOUND' : 'IO',
          `cannot read ${spec.modulePath}: ${err.message}`,
        );
      });
    } else throw new StrataError('INVALID_ARGUMENT', 'a sandbox needs a module (bytes or a .wasm path)');
    const what = spec.modulePath ?? `module of sandbox '${spec.name}'`;
    // Validate before anything is written.
    await prepareModule(bytes, limits.memoryBytes, what);
    const dir = this.dir(spec.name);
    const exists = await lstat(dir).then(
      () => true,
      () => false,
    );
    if (exists) throw new StrataError('ALREADY_EXISTS', `a sandbox named '${spec.name}' already exists`);
    try {
      await mkdir(join(dir, 'files'), { recursive: true });
      await writeFile(join(dir, 'module.wasm'), bytes);
      for (const [rel, content] of Object.entries(spec.files ?? {})) {
        const p = join(dir, 'files', ...instancePathComponents(rel));
        await mkdir(join(p, '..'), { recursive: true });
        await writeFile(p, content);
      }
      const record: SandboxRecord = {
        schemaVersion: SANDBOX_RECORD_VERSION,
        name: spec.name,
        args: spec.args ?? [],
        env: spec.env ?? {},
        limits,
        createdAt: new Date().toISOString(),
      };
      await this.save(record);
      await this.startRun(record, bytes);
      return this.info(spec.name);
    } catch (err) {
      const run = this.runs.get(spec.name);
      if (run) {
        await run.worker.terminate().catch(() => undefined);
        await run.done.catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Runs a stopped sandbox's module again (same folder, same files). CONFLICT while it runs. */
  async start(name: string): Promise<SandboxInfo> {
    const record = await this.load(name);
    if (this.runs.has(name) || this.starting.has(name)) {
      throw new StrataError('CONFLICT', `sandbox '${name}' is already running`);
    }
    this.starting.add(name);
    try {
      const bytes = await readFile(join(this.dir(name), 'module.wasm'));
      await this.startRun(record, bytes);
    } finally {
      this.starting.delete(name);
    }
    return this.info(name);
  }

  /**
   * Changes the memory cap or the CPU time budget; they apply from the next start (a run keeps the limits it started
   * with). A cap below what the module's memory starts with is refused, naming both.
   */
  async updateLimits(
    name: string,
    patch: Partial<Pick<SandboxLimits, 'memoryBytes' | 'cpuTimeMs'>>,
  ): Promise<SandboxInfo> {
    const record = await this.load(name);
    const limits: SandboxLimits = {
      ...record.limits,
      ...(patch.memoryBytes !== undefined ? { memoryBytes: patch.memoryBytes } : {}),
      ...(patch.cpuTimeMs !== undefined ? { cpuTimeMs: patch.cpuTimeMs } : {}),
    };
    checkLimits(limits);
    const bytes = await readFile(join(this.dir(name), 'module.wasm'));
    await prepareModule(bytes, limits.memoryBytes, `module of sandbox '${name}'`);
    await this.save({ ...record, limits });
    return this.info(name);
  }

  /** Ends a running sandbox (its worker is terminated). A stopped sandbox stays stopped. */
  async stop(name: string): Promise<SandboxInfo> {
    await this.load(name);
    const run = this.runs.get(name);
    if (run) {
      run.ending ??= 'stopped';
      await run.worker.terminate();
      await run.done;
    }
    return this.info(name);
  }

  /** stop, then start. */
  async restart(name: string): Promise<SandboxInfo> {
    await this.stop(name);
    return this.start(name);
  }

  /** WebAssembly in a worker thread cannot be frozen: pause is refused (CONFLICT) rather than faked. */
  async pause(name: string): Promise<never> {
    await this.load(name);
    throw new StrataError(
      'CONFLICT',
      `sandbox '${name}' cannot be paused: WebAssembly sandboxes support stop/start only`,
    );
  }

  /** Stops the sandbox and removes its folder (module, files, record). */
  async delete(name: string): Promise<void> {
    await this.stop(name);
    const dir = this.dir(name);
    const trash = join(this.sandboxesDir, `.removing-${name}-${process.pid}`);
    await rename(dir, trash);
    this.lastOutput.delete(name);
    await rm(trash, { recursive: true, force: true });
  }

  /** The kept console output of the last ended run (up to 1 MiB), or undefined when no run ended here. */
  lastConsoleOutput(name: string): Uint8Array | undefined {
    const b = this.lastOutput.get(name);
    return b ? new Uint8Array(b) : undefined;
  }

  /** Calls `listener` each time a run of any sandbox ends (after its record holds the exit). */
  onExit(listener: (name: string, exit: SandboxExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Resolves with how the current run ends (or the last exit when stopped). */
  async wait(name: string): Promise<SandboxExit> {
    const run = this.runs.get(name);
    if (run) return run.done;
    const rec = await this.load(name);
    if (!rec.lastExit) throw new StrataError('CONFLICT', `sandbox '${name}' has not run`);
    return rec.lastExit;
  }

  /**
   * Puts a file into the sandbox's folder at `path` (relative to it: the module opens it as `/path`); folders on the
   * way are made. The folder's rules hold for the path: no `..`, not absolute, no symbolic link anywhere on the way
   * or at the end (refused, nothing written). The bytes go to a new file that is renamed over the target, so a hard
   * link planted there is replaced, never written through. Allowed while the module runs.
   */
  async writeFile(name: string, path: string, bytes: Uint8Array): Promise<void> {
    checkPushSize(bytes.length);
    const target = await this.walkFolder(name, path, true);
    const tmp = join(dirname(target), `.strata-push-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, bytes, { flag: 'wx', mode: 0o644 });
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new StrataError('NO_SPACE', `no space for '${path}' in sandbox '${name}'`);
      }
      throw new StrataError('IO', `cannot write '${path}' in sandbox '${name}': ${(err as Error).message}`);
    }
  }

  /**
   * Reads a file of the sandbox's folder at `path` (relative to it), with the same rules as `writeFile`; a file with
   * more than one hard link is refused (it may be a host file from outside the folder).
   */
  async readFile(name: string, path: string): Promise<Buffer> {
    const target = await this.walkFolder(name, path, false);
    const fh = await open(target, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new StrataError('NOT_FOUND', `no file '${path}' in sandbox '${name}'`);
        if (err.code === 'ELOOP') {
          throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': it is a symbolic link`);
        }
        throw new StrataError('IO', `cannot open '${path}' in sandbox '${name}': ${err.message}`);
      },
    );
    try {
      const st = await fh.stat();
      if (st.isFile() && st.nlink > 1) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `invalid path '${path}': it has ${st.nlink} hard links and may be a file from outside the sandbox`,
        );
      }
      checkPulledFile(path, st);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /**
   * The host path of `path` in the sandbox's folder, checked component by component with lstat: a symbolic link
   * or a special file anywhere is refused. With `create`, missing folders are made and the last component may be
   * missing; without, a missing component is NOT_FOUND.
   */
  private async walkFolder(name: string, path: string, create: boolean): Promise<string> {
    await this.load(name);
    const parts = instancePathComponents(path);
    const root = join(this.dir(name), 'files');
    const top = await lstat(root).catch(() => undefined);
    if (!top?.isDirectory()) throw new StrataError('IO', `sandbox '${name}' has no folder ${root}`);
    let cur = root;
    for (const [i, c] of parts.entries()) {
      cur = join(cur, c);
      const last = i === parts.length - 1;
      const shown = parts.slice(0, i + 1).join('/');
      const st = await lstat(cur).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw new StrataError('IO', `cannot look up '${shown}' in sandbox '${name}': ${err.message}`);
      });
      if (!st) {
        if (!create) throw new StrataError('NOT_FOUND', `no file '${path}' in sandbox '${name}'`);
        if (!last) await mkdir(cur, { mode: 0o755 });
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `invalid path '${path}': '${shown}' is a symbolic link, which could lead outside the sandbox folder`,
        );
      }
      if (!last && !st.isDirectory()) {
        throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': '${shown}' is not a folder`);
      }
      if (last && !st.isFile()) {
        throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': '${shown}' is not a regular file`);
      }
    }
    return cur;
  }

  /** `info` of one sandbox; NOT_FOUND when there is none. */
  async info(name: string): Promise<SandboxInfo> {
    const rec = await this.load(name);
    const run = this.runs.get(name);
    if (run && run.tid > 0) run.cpuMs = threadCpuMs(run.tid) ?? run.cpuMs;
    return {
      name,
      status: run ? 'running' : 'stopped',
      limits: rec.limits,
      args: rec.args,
      env: rec.env,
      createdAt: rec.createdAt,
      filesDir: join(this.dir(name), 'files'),
      cpuMs: run?.cpuMs,
      memoryBytes: run ? Atomics.load(run.memoryPages, 0) * WASM_PAGE_BYTES : undefined,
      consoleBytes: run?.consoleBytes,
      cpuLimitBasis: run?.basis,
      exitCode: rec.lastExit ? rec.lastExit.code : undefined,
      lastExit: rec.lastExit,
    };
  }

  /** Every sandbox, by name. */
  async list(): Promise<SandboxInfo[]> {
    const names = await readdir(this.sandboxesDir).catch(() => [] as string[]);
    const out: SandboxInfo[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.')) continue;
      const i = await this.info(n).catch(() => undefined);
      if (i) out.push(i);
    }
    return out;
  }

  /** Subscribes to the running module's stdout and stderr. */
  subscribeConsole(name: string, listener: (bytes: Uint8Array) => void): SandboxConsoleSubscription {
    const run = this.runs.get(name);
    if (!run) throw new StrataError('CONFLICT', `sandbox '${name}' is not running`);
    let done!: () => void;
    const ended = new Promise<void>((r) => {
      done = r;
    });
    const end = () => {
      run.listeners.delete(listener);
      run.enders.delete(end);
      done();
    };
    run.listeners.add(listener);
    run.enders.add(end);
    return { history: new Uint8Array(Buffer.concat(run.history)), close: end, ended };
  }

  /** Sends bytes to the module's stdin. */
  sendConsole(name: string, bytes: Uint8Array | string): void {
    const run = this.runs.get(name);
    if (!run) throw new StrataError('CONFLICT', `sandbox '${name}' is not running`);
    if (run.inputClosed) throw new StrataError('CONFLICT', `stdin of sandbox '${name}' is closed`);
    run.pendingInput.push(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    this.pumpInput(run);
  }

  /** Ends the module's stdin (its next read returns 0 bytes once the pending input is read). */
  closeConsoleInput(name: string): void {
    const run = this.runs.get(name);
    if (!run) throw new StrataError('CONFLICT', `sandbox '${name}' is not running`);
    run.inputClosed = true;
    this.pumpInput(run);
  }

  /** Stops every running sandbox (daemon shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.runs.keys()].map((n) => this.stop(n).catch(() => undefined)));
  }

  // ---- internals ----

  private dir(name: string): string {
    checkSandboxName(name);
    return join(this.sandboxesDir, name);
  }

  private async load(name: string): Promise<SandboxRecord> {
    const path = join(this.dir(name), 'sandbox.json');
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StrataError('NOT_FOUND', `no sandbox named '${name}'`);
      throw new StrataError('IO', `cannot read ${path}: ${err.message}`);
    });
    const rec = JSON.parse(text) as SandboxRecord;
    if (rec.schemaVersion !== SANDBOX_RECORD_VERSION) throw new StrataError('IO', `corrupt sandbox record ${path}`);
    return rec;
  }

  private async save(record: SandboxRecord): Promise<void> {
    const path = join(this.dir(record.name), 'sandbox.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  }

  private pumpInput(run: Run): void {
    while (run.pendingInput.length > 0) {
      const head = run.pendingInput[0] as Uint8Array;
      const n = run.ring.write(head);
      if (n === head.length) run.pendingInput.shift();
      else {
        run.pendingInput[0] = head.subarray(n);
        break;
      }
    }
    if (run.pendingInput.length > 0) {
      run.inputTimer ??= setTimeout(() => {
        run.inputTimer = undefined;
        this.pumpInput(run);
      }, 10);
    } else if (run.inputClosed) run.ring.close();
  }

  private async startRun(record: SandboxRecord, bytes: Uint8Array): Promise<void> {
    const name = record.name;
    const filesDir = await realpath(join(this.dir(name), 'files'));
    await checkSandboxFolder(filesDir);
    const { module, memoryImport } = await prepareModule(
      bytes,
      record.limits.memoryBytes,
      `module of sandbox '${name}'`,
    );
    const sab = StdinRing.allocate();
    const memoryPages = new SharedArrayBuffer(4);
    const data: SandboxWorkerData = {
      memoryPages,
      module,
      args: [name, ...record.args],
      env: record.env,
      dir: filesDir,
      stdin: sab,
      memoryImport,
    };
    const worker = spawnWorker({
      workerData: data,
      resourceLimits: {
        maxOldGenerationSizeMb: record.limits.jsHeapMb,
        maxYoungGenerationSizeMb: Math.max(4, Math.floor(record.limits.jsHeapMb / 4)),
        stackSizeMb: 4,
      },
      stdout: true,
      stderr: true,
      // No access to the parent's environment: the module's env is what the record says.
      env: {},
    });
    const run: Run = {
      worker,
      ring: new StdinRing(sab, true),
      pendingInput: [],
      inputTimer: undefined,
      inputClosed: false,
      tid: 0,
      startedAt: performance.now(),
      cpuMs: 0,
      basis: undefined,
      workerFds: [],
      history: [],
      historyBytes: 0,
      listeners: new Set(),
      enders: new Set(),
      ending: undefined,
      endMessage: undefined,
      result: undefined,
      done: Promise.resolve() as unknown as Promise<SandboxExit>,
      memoryPages: new Int32Array(memoryPages),
      consoleBytes: 0,
    };
    const emit = (b: Uint8Array) => {
      const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      run.consoleBytes += buf.length;
      run.history.push(buf);
      run.historyBytes += buf.length;
      while (run.historyBytes > SANDBOX_CONSOLE_HISTORY_BYTES && run.history.length > 1) {
        run.historyBytes -= (run.history.shift() as Buffer).length;
      }
      for (const l of run.listeners) l(b);
    };
    worker.on('message', (msg: WorkerToParent) => {
      if (msg.t === 'out') emit(msg.data);
      else if (msg.t === 'tid') {
        run.tid = msg.tid;
        run.startedAt = performance.now();
        run.basis = msg.tid > 0 && threadCpuMs(msg.tid) !== undefined ? 'thread-cpu-time' : 'wall-clock';
      } else if (msg.t === 'fd') run.workerFds.push(msg.fd);
      else if (msg.t === 'exit') run.result = { code: msg.code };
      else if (msg.t === 'trap') run.result = { trap: msg.message, kind: msg.kind };
    });
    // Node's own messages from inside the worker (never the module's output): kept off the console.
    worker.stdout.resume();
    worker.stderr.resume();
    const budget = record.limits.cpuTimeMs;
    const timer = setInterval(() => {
      if (run.basis === undefined) return;
      const used =
        run.basis === 'thread-cpu-time' ? (threadCpuMs(run.tid) ?? run.cpuMs) : performance.now() - run.startedAt;
      run.cpuMs = used;
      if (used > budget && run.ending === undefined) {
        run.ending = 'cpu-limit';
        run.endMessage = `CPU time limit of ${budget} ms reached (${run.basis === 'thread-cpu-time' ? 'thread CPU time' : 'wall clock'})`;
        void worker.terminate();
      }
    }, this.cpuPollMs);
    run.done = new Promise<SandboxExit>((resolve) => {
      let errorSeen: Error | undefined;
      worker.on('error', (err) => {
        errorSeen = err;
      });
      worker.on('exit', () => {
        clearInterval(timer);
        if (run.inputTimer) clearTimeout(run.inputTimer);
        if (run.tid > 0) run.cpuMs = threadCpuMs(run.tid) ?? run.cpuMs;
        // node:wasi (uvwasi) never closes its descriptors when a worker ends, normally or terminated: the
        // preopened folder, every file the module left open, and the /dev/null given as stdio stay open in this
        // process. Close them here: the /dev/null the worker reported, and every descriptor on the folder.
        closeDescriptors(run.workerFds, filesDir);
        const exit = this.exitOf(run, errorSeen);
        for (const end of [...run.enders]) end();
        this.lastOutput.set(name, Buffer.concat(run.history));
        this.runs.delete(name);
        void this.load(name)
          .then((rec) => this.save({ ...rec, lastExit: exit }))
          .catch(() => undefined)
          .finally(() => {
            for (const l of this.exitListeners) {
              try {
                l(name, exit);
              } catch {
                // A listener's failure is its own.
              }
            }
            resolve(exit);
          });
      });
    });
    this.runs.set(name, run);
  }

  private exitOf(run: Run, error: Error | undefined): SandboxExit {
    const at = new Date().toISOString();
    const cpuMs = Math.round(run.cpuMs);
    if (run.ending === 'cpu-limit' || run.ending === 'stopped') {
      return { reason: run.ending, code: null, message: run.endMessage ?? 'stopped', cpuMs, at };
    }
    if (error && (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return {
        reason: 'memory-limit',
        code: null,
        message: `JavaScript heap limit reached: ${error.message}`,
        cpuMs,
        at,
      };
    }
    if (run.result && 'code' in run.result) return { reason: 'exit', code: run.result.code, cpuMs, at };
    if (run.result) return { reason: run.result.kind, code: null, message: run.result.trap, cpuMs, at };
    return {
      reason: 'error',
      code: null,
      message: error ? errorMessage(error) : 'worker ended without a result',
      cpuMs,
      at,
    };
  }
}

/**
 * Closes the worker's /dev/null descriptors `devNullFds` (only while they still refer to /dev/null, so a number
 * reused meanwhile is left alone) and every descriptor of this process that refers to `dir` or something in it.
 */
function closeDescriptors(devNullFds: number[], dir: string): void {
  const targetOf = (fd: number | string): string => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  };
  const all = new Set(devNullFds.filter((fd) => targetOf(fd) === '/dev/null'));
  for (const entry of readdirSync('/proc/self/fd')) {
    const target = targetOf(entry);
    if (target === dir || target.startsWith(`${dir}/`)) all.add(Number(entry));
  }
  for (const fd of all) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

function checkSandboxName(name: string): void {
  if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(name)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid sandbox name '${name}': use lower-case letters, digits, '.', '_', '-'`,
    );
  }
}

function checkLimits(l: SandboxLimits): void {
  if (!Number.isSafeInteger(l.memoryBytes) || l.memoryBytes < WASM_PAGE_BYTES) {
    throw new StrataError('INVALID_ARGUMENT', `invalid sandbox memory cap ${l.memoryBytes}: at least 64 KiB`);
  }
  if (!Number.isFinite(l.cpuTimeMs) || l.cpuTimeMs <= 0) {
    throw new StrataError('INVALID_ARGUMENT', `invalid sandbox CPU time limit ${l.cpuTimeMs} ms`);
  }
  if (!Number.isInteger(l.jsHeapMb) || l.jsHeapMb < 8) {
    throw new StrataError('INVALID_ARGUMENT', `invalid sandbox JavaScript heap ${l.jsHeapMb} MiB: at least 8`);
  }
}

/**
 * Starts the worker entry beside this file: `wasi-worker.js` from the build. From TypeScript sources (tests under
 * tsx) a worker does not inherit tsx's loader, so a one-line bootstrap loads the `.ts` entry through tsx's API.
 */
function spawnWorker(options: WorkerOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./wasi-worker.js', import.meta.url), options);
  const entry = new URL('./wasi-worker.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(boot, { ...options, eval: true });
}
