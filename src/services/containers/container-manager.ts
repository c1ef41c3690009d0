/**
 * System containers run by runc. Each container is a folder `$STRATA_HOME/containers/<name>/`:
 *
 *   container.json   the record: image, hostname, limits, command, OOM count, last exit
 *   layer/upper      its copy-on-write layer (overlayfs upperdir): every file written in the container
 *   layer/work       overlayfs's work folder
 *   bundle/          the OCI bundle: config.json (written from typed structures, oci-config.ts) and rootfs/,
 *                    where the overlay (image rootfs below, layer above) is mounted while the container runs
 *   console.in/.out  FIFOs that are the container's stdin and stdout/stderr while it runs
 *   runc.log         runc's JSON log of the last start
 *
 * The image's root file system is only ever an overlayfs lowerdir, so it is never changed. Stop unmounts the
 * overlay and keeps the layer; start mounts it again; delete removes the folder, the mount, runc's state and the
 * cgroups. The container's init is run by `runc run --keep` as a child of this process, so its exit status is
 * known; the console FIFOs are opened read-write for the container, so it never sees EOF or SIGPIPE while no
 * reader is attached.
 */

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, readdirSync, rmdirSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { errorMessage, StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked, removeQuietly, writeFileChecked } from './fs-util.js';
import {
  type CgroupSupport,
  debianArchOf,
  detectCgroups,
  elfArchInRoot,
  hasOverlayfs,
  mountPoints,
} from './host-checks.js';
import {
  buildOciSpec,
  type ContainerLimits,
  checkContainerLimits,
  limitResources,
  renderOciSpec,
} from './oci-config.js';
import { readFileInRoot, writeFileInRoot } from './rootfs-files.js';
import { checkContainerId, lastLogError, Runc, runcMissing } from './runc.js';

/** The record format version this code writes. */
export const CONTAINER_RECORD_VERSION = 1;

/** Bytes of console output kept for late subscribers (like a VM's console history). */
export const CONSOLE_HISTORY_BYTES = 1024 * 1024;

/**
 * The default init (PID 1) of a system container: a shell that serves the console and ends the container when
 * asked. PID 1 in a pid namespace ignores signals it has no handler for (pid_namespaces(7)), so the outer shell
 * traps TERM and exits, which makes the kernel end every process of the namespace. The console shell runs in the
 * background with stdin taken explicitly from the console through fd 3 (POSIX gives background jobs /dev/null,
 * and dash applies that even over `<&0`).
 * Typing `exit` on the console ends the container, like powering off a VM.
 */
export const CONSOLE_INIT = ['/bin/sh', '-c', "trap 'exit 0' TERM; exec 3<&0; /bin/sh -i 0<&3 3<&- & wait $!"];

/** The image a container is made from, as the image store describes it. */
export interface ContainerImageRef {
  /** Image name (for `info`). */
  name: string;
  /** Debian architecture name from the image manifest (`amd64`). */
  arch: string;
  /** Absolute path of the image's root file system folder (the overlay's read-only lower layer). */
  rootfsPath: string;
}

/** What `create`/`launch` need. */
export interface ContainerCreateSpec {
  name: string;
  image: ContainerImageRef;
  /** Default: the name. */
  hostname?: string | undefined;
  limits?: ContainerLimits | undefined;
  /** The init process; default CONSOLE_INIT. */
  command?: string[] | undefined;
  /** Extra environment (`NAME=value`). */
  env?: string[] | undefined;
}

/** How the container's init last ended. */
export interface ContainerExit {
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  /** Signal name when one ended it (`SIGKILL`). */
  signal: string | null;
  /** ISO 8601 time. */
  at: string;
  /** True when the memory cgroup's OOM killer fired during that run. */
  oomKilled: boolean;
}

/** The persisted record of a container. */
export interface ContainerRecord {
  schemaVersion: number;
  name: string;
  image: ContainerImageRef;
  hostname: string;
  limits: ContainerLimits;
  command: string[];
  env: string[];
  createdAt: string;
  /** OOM kills in this container over all its runs. */
  oomKills: number;
  lastExit?: ContainerExit | undefined;
}

/** A container's state as `info` reports it. */
export type ContainerStatus = 'stopped' | 'running' | 'paused';

/** `info` of one container. */
export interface ContainerInfo {
  name: string;
  status: ContainerStatus;
  image: ContainerImageRef;
  hostname: string;
  limits: ContainerLimits;
  command: string[];
  /** Extra environment of its processes (`NAME=value`). */
  env: string[];
  createdAt: string;
  /** Host pid of the container's init while it runs. */
  pid?: number | undefined;
  /** The container's network namespace (`/proc/PID/ns/net`) while it runs: what the network hook takes. */
  netnsPath?: string | undefined;
  /** OOM kills over all runs, the current one included. */
  oomKills: number;
  /** Current memory use of the container's cgroup, while it runs. */
  memoryUsageBytes?: number | undefined;
  lastExit?: ContainerExit | undefined;
  /** The container's copy-on-write layer (its own files). */
  layerDir: string;
}

/** Counters of a running container, read from its cgroups and its network namespace. */
export interface ContainerUsage {
  /** CPU time of every process of the container (cgroup `cpuacct.usage` / `cpu.stat usage_usec`). */
  cpuSeconds: number;
  /** Time the CPU quota held the container back (`cpu.stat` throttled time); null when not readable. */
  cpuThrottledSeconds: number | null;
  /** Memory charged to the container's cgroup now (`memory.usage_in_bytes` / `memory.current`). */
  memoryCurrentBytes: number;
  /** Processes and threads in the container now (`pids.current`). */
  pids: number;
  /** OOM kills over all runs, the current one included. */
  oomKills: number;
  /** Block I/O of the container's processes (`blkio.throttle.io_service_*` / `io.stat`). */
  diskReadBytes: number;
  diskWriteBytes: number;
  diskReadOps: number;
  diskWriteOps: number;
  /** Bytes and frames through the container's network interfaces other than loopback (0 when none). */
  nicRxBytes: number;
  nicTxBytes: number;
  nicRxPackets: number;
  nicTxPackets: number;
  /** Bytes the init wrote to the console in this run. */
  consoleBytes: number;
}

/** What `exec` returns. */
export interface ExecResult {
  /** The process's exit status; 128+N when signal N ended it (137: SIGKILL, as the OOM killer sends). */
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  /** True when the container's OOM counter went up while the process ran and it died of SIGKILL. */
  oomKilled: boolean;
}

/** Options of `exec`. */
export interface ExecOptions {
  /**
   * The process's stdin: bytes (then end of input), or a stream piped in as it comes (`strata exec NAME -- sh`
   * over a WebSocket); default: empty.
   */
  stdin?: Uint8Array | string | NodeJS.ReadableStream | undefined;
  env?: string[] | undefined;
  cwd?: string | undefined;
  /** Streams output as it comes (stdout and stderr are also collected, up to `maxOutputBytes` each). */
  onStdout?: ((chunk: Buffer) => void) | undefined;
  onStderr?: ((chunk: Buffer) => void) | undefined;
  /** Default 16 MiB. */
  maxOutputBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A console subscription: the kept history first, then every new byte to the listener. */
export interface ContainerConsoleSubscription {
  history: Uint8Array;
  close(): void;
  /** Settles when the subscription is closed or the container stops. */
  ended: Promise<void>;
}

/** Settings of the manager. */
export interface ContainerManagerOptions {
  /** `$STRATA_HOME`: containers live in `<home>/containers/`. */
  home: string;
  /** The runc executable (default `runc`, looked up in PATH). */
  runcBinary?: string | undefined;
  /** runc's `--root` (default `<home>/containers/.runc`). */
  runcStateDir?: string | undefined;
  /** Where cgroups are mounted (default `/sys/fs/cgroup`): used for the support check and the counters. */
  cgroupRoot?: string | undefined;
  /** The cgroup folder containers are placed under (default `/strata-containers`). */
  cgroupParent?: string | undefined;
  /** The host's Debian architecture (default from `process.arch`). */
  hostArch?: string | undefined;
  /** Default grace period of `stop` before SIGKILL (default 10 s). */
  stopTimeoutMs?: number | undefined;
}

interface Live {
  /** The `runc run` child; undefined for a container adopted from a previous manager (see `recover`). */
  child: ChildProcess | undefined;
  pid: number;
  reader: Socket;
  writer: Socket | undefined;
  history: Buffer[];
  historyBytes: number;
  listeners: Set<(b: Uint8Array) => void>;
  enders: Set<() => void>;
  /** Settles once the init is gone and everything of the run is cleaned up. */
  finished: Promise<void>;
  /** True between pause and resume (only this manager pauses its containers). */
  paused: boolean;
  /** Settles when the console reader has seen the end of output (every writer closed). */
  outputEnded: Promise<void>;
  /** Console bytes of this run. */
  consoleBytes: number;
  /** Set by `detach`: the run's end is no longer this manager's business. */
  detached: boolean;
  oomAtStart: number;
}

/** The cgroup folder containers go under when the manager is given none. */
const DEFAULT_CGROUP_PARENT = '/strata-containers';

/**
 * Runs system containers. One instance per daemon; every verb on one container is serialised. Errors are
 * StrataErrors: NOT_FOUND (no such container), ALREADY_EXISTS, CONFLICT (wrong state), INVALID_ARGUMENT (bad
 * name, limits, wrong-architecture image), UNAVAILABLE (no runc, no cgroups, no overlayfs).
 */
export class ContainerManager {
  readonly containersDir: string;
  readonly runc: Runc;
  private readonly cgroupRoot: string;
  private readonly cgroupParent: string;
  private readonly hostArch: string;
  private readonly stopTimeoutMs: number;
  private readonly live = new Map<string, Live>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly exitListeners = new Map<string, Set<(exit: ContainerExit) => void>>();
  private readonly anyExitListeners = new Set<(name: string, exit: ContainerExit) => void>();
  private readonly oomListeners = new Set<(name: string, oomKills: number) => void>();
  /** The OOM counter of each running container's cgroup as last reported (see `onOom`). */
  private readonly oomSeen = new Map<string, number>();
  private oomTimer: NodeJS.Timeout | undefined;
  private hostChecked = false;

  constructor(opts: ContainerManagerOptions) {
    this.containersDir = join(opts.home, 'containers');
    this.runc = new Runc(opts.runcBinary ?? 'runc', opts.runcStateDir ?? join(this.containersDir, '.runc'));
    this.cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.cgroupParent = (opts.cgroupParent ?? DEFAULT_CGROUP_PARENT).replace(/\/+$/, '');
    this.hostArch = opts.hostArch ?? debianArchOf(process.arch);
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  }

  /** Undefined when containers can run on this host, else why not (one line): runc, cgroups, overlayfs. */
  async unavailableReason(): Promise<string | undefined> {
    try {
      await this.checkHost();
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** The cgroup layout found (for `strata info`). */
  cgroupSupport(): Promise<CgroupSupport> {
    return detectCgroups(this.cgroupRoot);
  }

  /** Creates and starts a container; on any failure removes everything it made and rethrows. */
  async launch(spec: ContainerCreateSpec): Promise<ContainerInfo> {
    await this.create(spec);
    try {
      return await this.start(spec.name);
    } catch (err) {
      await this.delete(spec.name, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Creates a stopped container: checks the host, the name, the limits and the image (its architecture from the
   * manifest and from the ELF header of its `/bin/sh`), then writes the record and an empty layer.
   */
  async create(spec: ContainerCreateSpec): Promise<ContainerInfo> {
    checkContainerId(spec.name);
    const limits = { ...(spec.limits ?? {}) };
    checkContainerLimits(limits);
    return this.serial(spec.name, async () => {
      await this.checkHost();
      await this.checkImage(spec.image);
      const dir = this.dir(spec.name);
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (exists) throw new StrataError('ALREADY_EXISTS', `a container named '${spec.name}' already exists`);
      const record: ContainerRecord = {
        schemaVersion: CONTAINER_RECORD_VERSION,
        name: spec.name,
        image: { ...spec.image },
        hostname: spec.hostname ?? hostnameOf(spec.name),
        limits,
        command: spec.command ? [...spec.command] : [...CONSOLE_INIT],
        env: spec.env ? [...spec.env] : [],
        createdAt: new Date().toISOString(),
        oomKills: 0,
      };
      // Validate the whole runtime configuration now, so a bad hostname fails before anything is written.
      buildOciSpec(this.specInput(record));
      try {
        await mkdirChecked(join(dir, 'layer', 'upper'));
        await mkdirChecked(join(dir, 'layer', 'work'));
        await mkdirChecked(join(dir, 'bundle', 'rootfs'));
        // The host name the container gets in its UTS namespace is its /etc/hostname too (in its own layer).
        await mkdir(join(dir, 'layer', 'upper', 'etc'), { mode: 0o755 });
        await writeFile(join(dir, 'layer', 'upper', 'etc', 'hostname'), `${record.hostname}\n`, { mode: 0o644 });
        await this.saveRecord(record);
      } catch (err) {
        await removeQuietly(dir);
        throw err;
      }
      return this.infoOf(record);
    });
  }

  /** Starts a stopped container: mounts its overlay, writes config.json, runs runc. CONFLICT when it runs. */
  start(name: string): Promise<ContainerInfo> {
    return this.serial(name, async () => {
      const record = await this.loadRecord(name);
      if (this.live.has(name)) throw new StrataError('CONFLICT', `container '${name}' is already running`);
      await this.checkHost();
      await this.checkImage(record.image);
      await this.startLocked(record);
      return this.infoOf(record);
    });
  }

  /**
   * Stops a container: SIGTERM to its init, then SIGKILL after `timeoutMs` (default the manager's); `force` sends
   * SIGKILL at once. A paused container is resumed first (frozen tasks cannot act on signals). The layer is kept.
   * Stopping a stopped container is a no-op.
   */
  stop(name: string, opts: { force?: boolean; timeoutMs?: number } = {}): Promise<ContainerInfo> {
    return this.serial(name, async () => {
      const record = await this.loadRecord(name);
      await this.stopLocked(name, opts);
      return this.infoOf(await this.loadRecord(name).catch(() => record));
    });
  }

  /** stop, then start. */
  async restart(name: string, opts: { force?: boolean; timeoutMs?: number } = {}): Promise<ContainerInfo> {
    await this.stop(name, opts);
    return this.start(name);
  }

  /** Freezes every process of a running container (`runc pause`, the freezer cgroup). */
  pause(name: string): Promise<ContainerInfo> {
    return this.serial(name, async () => {
      const record = await this.loadRecord(name);
      const live = this.live.get(name);
      if (!live) throw new StrataError('CONFLICT', `container '${name}' is not running`);
      if (live.paused) throw new StrataError('CONFLICT', `container '${name}' is already paused`);
      await this.runc.pause(name);
      live.paused = true;
      return this.infoOf(record);
    });
  }

  /** Thaws a paused container (`runc resume`). */
  resume(name: string): Promise<ContainerInfo> {
    return this.serial(name, async () => {
      const record = await this.loadRecord(name);
      const live = this.live.get(name);
      if (!live?.paused) throw new StrataError('CONFLICT', `container '${name}' is not paused`);
      await this.runc.resume(name);
      live.paused = false;
      return this.infoOf(record);
    });
  }

  /**
   * Removes a container and every trace of it: its processes (CONFLICT unless stopped or `force`), runc's state,
   * its cgroups in every hierarchy, the overlay mount, and its folder (layer included).
   */
  delete(name: string, opts: { force?: boolean } = {}): Promise<void> {
    checkContainerId(name);
    return this.serial(name, async () => {
      const dir = this.dir(name);
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (!exists) throw new StrataError('NOT_FOUND', `no container named '${name}'`);
      if (this.live.has(name)) {
        if (!opts.force) throw new StrataError('CONFLICT', `container '${name}' is running: stop it first or force`);
        await this.stopLocked(name, { force: true });
      }
      await this.runc.delete(name, true).catch((err: unknown) => {
        if (err instanceof StrataError && err.message.includes('not installed')) return;
        throw err;
      });
      await this.unmountRootfs(name);
      await this.removeCgroups(name);
      // Rename first so a half-removed folder is never mistaken for a container.
      const trash = join(this.containersDir, `.removing-${name}-${process.pid}`);
      await rename(dir, trash).catch((err: unknown) => {
        throw fsError(err, dir, 'removing');
      });
      await rm(trash, { recursive: true, force: true }).catch((err: unknown) => {
        throw fsError(err, trash, 'removing');
      });
      this.exitListeners.delete(name);
    });
  }

  /**
   * Changes a container's limits: the record keeps them for later starts, and a running (or paused) container gets
   * them at once through `runc update` (its cgroups). Fields left out keep their values; a CPU quota of 0 lifts
   * the quota. A value the kernel refuses (a memory limit below what the container uses now) fails in one line and
   * leaves the record as it was.
   */
  updateLimits(name: string, patch: ContainerLimits): Promise<ContainerInfo> {
    return this.serial(name, async () => {
      const record = await this.loadRecord(name);
      const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as ContainerLimits;
      const next: ContainerLimits = { ...record.limits, ...given };
      if (next.cpuQuotaPercent === 0) delete next.cpuQuotaPercent;
      checkContainerLimits(next);
      if (this.live.has(name)) {
        const file = join(this.dir(name), 'limits-update.json');
        await writeFileChecked(file, JSON.stringify(limitResources(given, { clearQuota: true })));
        try {
          await this.runc.update(name, file);
        } catch (err) {
          throw new StrataError(
            err instanceof StrataError && err.code === 'NOT_FOUND' ? 'CONFLICT' : 'INVALID_ARGUMENT',
            `cannot change the limits of container '${name}': ${errorMessage(err)}`,
          );
        } finally {
          await unlink(file).catch(() => undefined);
        }
      }
      const updated = { ...record, limits: next };
      await this.saveRecord(updated);
      return this.infoOf(updated);
    });
  }

  /**
   * Writes a file into the container's own layer, at `path` relative to its root (`etc/motd`), resolved inside the
   * root (rootfs-files.ts): through the mounted overlay while it runs, so its processes see it at once; a stopped
   * container's overlay is mounted for the write and unmounted again. Folders on the way are made.
   */
  writeFile(name: string, path: string, bytes: Uint8Array): Promise<void> {
    return this.serial(name, () => this.withRootfs(name, (root) => writeFileInRoot(root, path, bytes)));
  }

  /** Reads a file of the container (image and layer as the container sees them), at `path` relative to its root. */
  readFile(name: string, path: string): Promise<Buffer> {
    return this.serial(name, () => this.withRootfs(name, (root) => readFileInRoot(root, path)));
  }

  /** Runs `fn` on the container's merged root: the running overlay, or one mounted for the call while stopped. */
  private async withRootfs<T>(name: string, fn: (root: string) => Promise<T>): Promise<T> {
    const record = await this.loadRecord(name);
    const rootfs = join(this.dir(name), 'bundle', 'rootfs');
    if (this.live.has(name)) return fn(rootfs);
    await this.checkHost();
    await this.unmountRootfs(name);
    await this.mountOverlay(record);
    try {
      return await fn(rootfs);
    } finally {
      await this.unmountRootfs(name);
    }
  }

  /** Mounts the container's overlay (image below, layer above) at `bundle/rootfs`. */
  private async mountOverlay(record: ContainerRecord): Promise<void> {
    const dir = this.dir(record.name);
    const rootfs = join(dir, 'bundle', 'rootfs');
    await mkdirChecked(rootfs);
    await runChecked('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${record.image.rootfsPath},upperdir=${join(dir, 'layer', 'upper')},workdir=${join(dir, 'layer', 'work')}`,
      rootfs,
    ]);
  }

  /** `info` of one container; NOT_FOUND when there is none. */
  async info(name: string): Promise<ContainerInfo> {
    return this.infoOf(await this.loadRecord(name));
  }

  /**
   * The counters of a running or paused container (undefined when it is stopped): CPU, memory, pids and block I/O
   * from its cgroups (v1 or v2), OOM kills, network bytes from its namespace, console bytes.
   */
  async usage(name: string): Promise<ContainerUsage | undefined> {
    const record = await this.loadRecord(name);
    const live = this.live.get(name);
    if (!live) return undefined;
    const rel = this.cgroupsPath(name).replace(/^\/+/, '');
    const read = (...parts: string[]) => readFile(join(this.cgroupRoot, ...parts), 'utf8').catch(() => undefined);
    const v2 = (await read(rel, 'cgroup.controllers')) !== undefined;
    let cpuSeconds = 0;
    let throttled: number | null = null;
    let pids = 0;
    const io = { rbytes: 0, wbytes: 0, rios: 0, wios: 0 };
    if (v2) {
      const stat = keyValues((await read(rel, 'cpu.stat')) ?? '');
      cpuSeconds = (stat.get('usage_usec') ?? 0) / 1e6;
      throttled = stat.has('throttled_usec') ? (stat.get('throttled_usec') ?? 0) / 1e6 : null;
      for (const line of ((await read(rel, 'io.stat')) ?? '').split('\n')) {
        for (const m of line.matchAll(/\b(rbytes|wbytes|rios|wios)=(\d+)/g))
          io[m[1] as keyof typeof io] += Number(m[2]);
      }
    } else {
      cpuSeconds = Number((await read('cpuacct', rel, 'cpuacct.usage')) ?? 0) / 1e9;
      const stat = await read('cpu', rel, 'cpu.stat');
      throttled = stat === undefined ? null : (keyValues(stat).get('throttled_time') ?? 0) / 1e9;
      const sum = (text: string | undefined, op: string) =>
        (text ?? '')
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((f) => f.length === 3 && f[1] === op)
          .reduce((a, f) => a + Number(f[2]), 0);
      const bytes = await read('blkio', rel, 'blkio.throttle.io_service_bytes');
      const ops = await read('blkio', rel, 'blkio.throttle.io_serviced');
      io.rbytes = sum(bytes, 'Read');
      io.wbytes = sum(bytes, 'Write');
      io.rios = sum(ops, 'Read');
      io.wios = sum(ops, 'Write');
    }
    pids = Number(((await read('pids', rel, 'pids.current')) ?? (await read(rel, 'pids.current')) ?? '0').trim());
    const net = netDevCounters(await readFile(`/proc/${live.pid}/net/dev`, 'utf8').catch(() => ''));
    return {
      cpuSeconds,
      cpuThrottledSeconds: throttled,
      memoryCurrentBytes: (await this.readMemoryUsage(name)) ?? 0,
      pids: Number.isFinite(pids) ? pids : 0,
      oomKills: record.oomKills + Math.max(0, (await this.readOomKills(name)) - live.oomAtStart),
      diskReadBytes: io.rbytes,
      diskWriteBytes: io.wbytes,
      diskReadOps: io.rios,
      diskWriteOps: io.wios,
      ...net,
      consoleBytes: live.consoleBytes,
    };
  }

  /** Every container, sorted by name. */
  async list(): Promise<ContainerInfo[]> {
    const names = await readdir(this.containersDir).catch(() => [] as string[]);
    const out: ContainerInfo[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.')) continue;
      const rec = await this.loadRecord(n).catch(() => undefined);
      if (rec) out.push(await this.infoOf(rec));
    }
    return out;
  }

  /**
   * Runs `args` in a running container (`runc exec`, plain stdio) and resolves with its exit status and output
   * (the exit code passes through: `strata exec NAME -- CMD` exits with it). CONFLICT when the container is
   * stopped or paused.
   */
  async exec(name: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkContainerId(name);
    if (args.length === 0 || args[0] === '') throw new StrataError('INVALID_ARGUMENT', 'exec needs a command');
    await this.loadRecord(name);
    const live = this.live.get(name);
    if (!live) throw new StrataError('CONFLICT', `container '${name}' is not running`);
    if (live.paused) throw new StrataError('CONFLICT', `container '${name}' is paused: resume it first`);
    const oomBefore = await this.readOomKills(name);
    const limit = opts.maxOutputBytes ?? 16 * 1024 * 1024;
    const child = this.runc.spawnExec(name, args, {
      env: opts.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const collect = (stream: NodeJS.ReadableStream | null, sink: Buffer[], cb?: (b: Buffer) => void) => {
      let n = 0;
      stream?.on('data', (b: Buffer) => {
        cb?.(b);
        if (n < limit) {
          sink.push(b.subarray(0, limit - n));
          n += b.length;
        }
      });
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    collect(child.stdout, out, opts.onStdout);
    collect(child.stderr, err, opts.onStderr);
    child.stdin?.on('error', () => {
      // The process exited before reading its input: its status says what happened.
    });
    const input = opts.stdin;
    if (input === undefined || typeof input === 'string' || input instanceof Uint8Array) {
      child.stdin?.end(input === undefined ? undefined : Buffer.from(input));
    } else if (child.stdin) {
      input.on('error', () => child.stdin?.end());
      input.pipe(child.stdin);
    }
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? runcMissing(this.runc.binary) : e));
      child.on('close', (code, signal) => resolve({ code, signal }));
    }).finally(() => opts.signal?.removeEventListener('abort', onAbort));
    if (opts.signal?.aborted) throw new StrataError('ABORTED', `exec in container '${name}' cancelled`);
    const exitCode = status.code ?? 128 + signalNumber(status.signal);
    const stderr = Buffer.concat(err);
    // runc reports its own failures (no such command, ...) with exit 255 and a log line on stderr.
    if (exitCode === 255 && /level=error|runc exec failed/.test(stderr.toString('utf8'))) {
      const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(stderr.toString('utf8'))?.[1] ?? stderr.toString('utf8').trim();
      throw new StrataError('INVALID_ARGUMENT', `exec in container '${name}' failed: ${msg.replace(/\\"/g, '"')}`);
    }
    const oomAfter = await this.readOomKills(name);
    // Report a kill at once rather than at the next watch tick.
    await this.checkOom(name);
    return { exitCode, stdout: Buffer.concat(out), stderr, oomKilled: exitCode === 137 && oomAfter > oomBefore };
  }

  /** Subscribes to a running container's console output (stdout and stderr of its init). */
  subscribeConsole(name: string, listener: (bytes: Uint8Array) => void): ContainerConsoleSubscription {
    const live = this.live.get(name);
    if (!live) throw new StrataError('CONFLICT', `container '${name}' is not running`);
    const history = new Uint8Array(Buffer.concat(live.history));
    let done!: () => void;
    const ended = new Promise<void>((r) => {
      done = r;
    });
    const end = () => {
      live.listeners.delete(listener);
      live.enders.delete(end);
      done();
    };
    live.listeners.add(listener);
    live.enders.add(end);
    return { history, close: end, ended };
  }

  /** Writes console input (the init's stdin). CONFLICT when the container is not running. */
  async sendConsole(name: string, bytes: Uint8Array | string): Promise<void> {
    const live = this.live.get(name);
    if (!live) throw new StrataError('CONFLICT', `container '${name}' is not running`);
    if (!live.writer) throw new StrataError('CONFLICT', `container '${name}' has no console input`);
    const w = live.writer;
    await new Promise<void>((resolve, reject) => {
      w.write(bytes, (err) =>
        err ? reject(new StrataError('IO', `console of '${name}': ${err.message}`)) : resolve(),
      );
    });
  }

  /** Calls `listener` each time the container's init ends (stop, crash, OOM, `exit` on the console). */
  onExit(name: string, listener: (exit: ContainerExit) => void): () => void {
    let set = this.exitListeners.get(name);
    if (!set) {
      set = new Set();
      this.exitListeners.set(name, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls `listener` each time the init of any container ends (after its record holds the exit). */
  onAnyExit(listener: (name: string, exit: ContainerExit) => void): () => void {
    this.anyExitListeners.add(listener);
    return () => this.anyExitListeners.delete(listener);
  }

  /**
   * Calls `listener` when the OOM killer ends a process of a running container (any process: an exec, something
   * started from the console, the init): the memory cgroup's counter is read every second and right after each
   * exec; `oomKills` is the container's total over all runs. The init's own end is also an exit (`onExit`).
   */
  onOom(listener: (name: string, oomKills: number) => void): () => void {
    this.oomListeners.add(listener);
    return () => this.oomListeners.delete(listener);
  }

  /** Starts watching the OOM counter of a container that now runs (one timer for all of them). */
  private watchOom(name: string, counter: number): void {
    this.oomSeen.set(name, counter);
    this.oomTimer ??= setInterval(() => {
      if (this.oomSeen.size === 0) {
        clearInterval(this.oomTimer);
        this.oomTimer = undefined;
        return;
      }
      for (const n of this.oomSeen.keys()) void this.checkOom(n).catch(() => undefined);
    }, 1000).unref();
  }

  /** Reads the OOM counter of a running container and tells the listeners when it went up. */
  private async checkOom(name: string): Promise<void> {
    const live = this.live.get(name);
    if (!live || !this.oomSeen.has(name)) return;
    const now = await this.readOomKills(name);
    const seen = this.oomSeen.get(name);
    if (seen === undefined || now <= seen) return;
    this.oomSeen.set(name, now);
    const record = await this.loadRecord(name).catch(() => undefined);
    const total = (record?.oomKills ?? 0) + Math.max(0, now - live.oomAtStart);
    for (const l of this.oomListeners) {
      try {
        l(name, total);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Stops every running container (daemon shutdown with `stopContainers`), SIGKILL after `timeoutMs`. */
  async stopAll(timeoutMs = 5_000): Promise<void> {
    await Promise.all([...this.live.keys()].map((n) => this.stop(n, { timeoutMs }).catch(() => undefined)));
  }

  /**
   * Adopts the containers a previous manager (an earlier daemon) left running: their runc state says running or
   * paused. The console FIFOs are opened again (the container holds its ends read-write, so nothing was lost but
   * what did not fit in the pipe), and the end of the init is noticed by polling its pid, since this process is
   * not its parent: such a run's exit code is unknown (`lastExit.code` null). Containers whose init is gone are
   * cleaned up (runc state, mount, cgroups). Returns the names adopted.
   */
  async recover(): Promise<string[]> {
    const adopted: string[] = [];
    const states = await this.runc.list().catch(() => []);
    for (const st of states) {
      const rec = await this.loadRecord(st.id).catch(() => undefined);
      if (!rec || this.live.has(st.id)) continue;
      await this.serial(st.id, async () => {
        const alive = st.pid > 0 && (st.status === 'running' || st.status === 'paused') && pidAlive(st.pid);
        if (!alive) {
          await this.runc.delete(st.id, true).catch(() => undefined);
          await this.unmountRootfs(st.id);
          await this.removeCgroups(st.id);
          return;
        }
        const { reader, writer } = openConsoleEnds(this.dir(st.id));
        const live = newLive(undefined, reader, writer, await this.readOomKills(st.id));
        live.pid = st.pid;
        live.paused = st.status === 'paused';
        live.finished = (async () => {
          // Polling ends with the init, or when this manager lets go (`detach`), so it never holds the process.
          while (pidAlive(st.pid) && !live.detached) await new Promise((r) => setTimeout(r, 250));
          await this.finishRun(st.id, live, null, null);
        })();
        this.live.set(st.id, live);
        this.watchOom(st.id, live.oomAtStart);
        adopted.push(st.id);
      });
    }
    return adopted;
  }

  /**
   * Lets go of every running container without stopping it (daemon shutdown that keeps containers): closes this
   * manager's console ends and forgets them. A later manager takes them over with `recover`.
   */
  detach(): void {
    for (const [name, live] of this.live) {
      live.detached = true;
      // `runc run` stays the init's parent until the container ends; this process must not wait for it to exit.
      live.child?.unref();
      live.reader.destroy();
      live.writer?.destroy();
      for (const end of [...live.enders]) end();
      this.live.delete(name);
      this.oomSeen.delete(name);
    }
    // A parent of this manager's own (not the shared default) goes once no container's group is left in it.
    if (this.cgroupParent !== DEFAULT_CGROUP_PARENT) {
      const rel = this.cgroupParent.replace(/^\/+/, '');
      let hierarchies: string[] = [];
      try {
        hierarchies = readdirSync(this.cgroupRoot);
      } catch {
        // No cgroup file system: nothing was made.
      }
      for (const d of [join(this.cgroupRoot, rel), ...hierarchies.map((h) => join(this.cgroupRoot, h, rel))]) {
        try {
          rmdirSync(d);
        } catch {
          // Still holds a running container's group, or was never made there.
        }
      }
    }
  }

  // ---- internals ----

  private dir(name: string): string {
    checkContainerId(name);
    return join(this.containersDir, name);
  }

  private cgroupsPath(name: string): string {
    return `${this.cgroupParent}/${name}`;
  }

  private specInput(record: ContainerRecord) {
    return {
      name: record.name,
      hostname: record.hostname,
      rootfsPath: join(this.dir(record.name), 'bundle', 'rootfs'),
      args: record.command,
      env: record.env,
      limits: record.limits,
      cgroupsPath: this.cgroupsPath(record.name),
    };
  }

  private async serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(name, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    }
  }

  private async checkHost(): Promise<void> {
    // The host does not change under a running daemon: one successful check is kept (a failed one is not).
    if (this.hostChecked) return;
    await this.runc.version().catch((err: unknown) => {
      if (err instanceof StrataError && err.code === 'UNAVAILABLE') throw runcMissing(this.runc.binary);
      throw err;
    });
    const cg = await detectCgroups(this.cgroupRoot);
    if (cg.kind === 'none') {
      throw new StrataError('UNAVAILABLE', `this host has no cgroup support for containers: ${cg.why ?? 'unknown'}`);
    }
    if (!(await hasOverlayfs())) {
      throw new StrataError('UNAVAILABLE', 'this host kernel has no overlayfs: containers need it for their layers');
    }
    this.hostChecked = true;
  }

  private async checkImage(image: ContainerImageRef): Promise<void> {
    if (image.arch !== this.hostArch) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `image '${image.name}' is for ${image.arch}, but this host is ${this.hostArch}: containers run the host's architecture`,
      );
    }
    const ok = await stat(image.rootfsPath).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!ok) throw new StrataError('NOT_FOUND', `image '${image.name}' has no root file system at ${image.rootfsPath}`);
    if (/[,:\\]/.test(image.rootfsPath) || /[,:\\]/.test(this.containersDir)) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `overlayfs cannot take paths with ',', ':' or '\\': ${image.rootfsPath}`,
      );
    }
    const elf = await elfArchInRoot(image.rootfsPath, '/bin/sh');
    if (elf !== undefined && elf !== this.hostArch) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `image '${image.name}' holds ${elf} programs (its /bin/sh), but this host is ${this.hostArch}`,
      );
    }
  }

  private async loadRecord(name: string): Promise<ContainerRecord> {
    const path = join(this.dir(name), 'container.json');
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StrataError('NOT_FOUND', `no container named '${name}'`);
      throw fsError(err, path, 'reading');
    });
    let rec: ContainerRecord;
    try {
      rec = JSON.parse(text) as ContainerRecord;
    } catch {
      throw new StrataError('IO', `corrupt container record ${path}: not JSON`);
    }
    if (rec.schemaVersion !== CONTAINER_RECORD_VERSION || rec.name !== name || !Array.isArray(rec.command)) {
      throw new StrataError('IO', `corrupt container record ${path}`);
    }
    return rec;
  }

  private async saveRecord(record: ContainerRecord): Promise<void> {
    const path = join(this.dir(record.name), 'container.json');
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFileChecked(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, path).catch((err: unknown) => {
      throw fsError(err, path);
    });
  }

  private async infoOf(record: ContainerRecord): Promise<ContainerInfo> {
    const live = this.live.get(record.name);
    let status: ContainerStatus = 'stopped';
    let oomKills = record.oomKills;
    let memoryUsageBytes: number | undefined;
    if (live) {
      status = live.paused ? 'paused' : 'running';
      oomKills += Math.max(0, (await this.readOomKills(record.name)) - live.oomAtStart);
      memoryUsageBytes = await this.readMemoryUsage(record.name);
    }
    return {
      name: record.name,
      status,
      image: record.image,
      hostname: record.hostname,
      limits: record.limits,
      command: record.command,
      env: record.env,
      createdAt: record.createdAt,
      pid: live?.pid,
      netnsPath: live ? `/proc/${live.pid}/ns/net` : undefined,
      oomKills,
      memoryUsageBytes,
      lastExit: record.lastExit,
      layerDir: join(this.dir(record.name), 'layer', 'upper'),
    };
  }

  private async startLocked(record: ContainerRecord): Promise<void> {
    const name = record.name;
    const dir = this.dir(name);
    // A leftover of a crash (runc state of a dead container, a mount) would make runc refuse the id.
    const stale = await stat(join(this.runc.stateDir, name)).then(
      () => true,
      () => false,
    );
    if (stale) {
      const st = await this.runc.state(name).catch(() => undefined);
      if (st && (st.status === 'running' || st.status === 'paused') && st.pid > 0 && pidAlive(st.pid)) {
        throw new StrataError(
          'CONFLICT',
          `container '${name}' is running under an earlier manager: recover() adopts it`,
        );
      }
      await this.runc.delete(name, true);
    }
    await this.unmountRootfs(name);
    await this.mountOverlay(record);
    const fds: number[] = [];
    let reader: Socket | undefined;
    let writer: Socket | undefined;
    try {
      await writeFileChecked(join(dir, 'bundle', 'config.json'), renderOciSpec(buildOciSpec(this.specInput(record))));
      const inFifo = join(dir, 'console.in');
      const outFifo = join(dir, 'console.out');
      const pidFile = join(dir, 'init.pid');
      const logFile = join(dir, 'runc.log');
      for (const p of [pidFile, logFile]) await unlink(p).catch(() => undefined);
      // The FIFOs are made once and kept across runs (a FIFO holds no data while nobody has it open).
      const fifos = await Promise.all(
        [inFifo, outFifo].map((p) =>
          lstat(p).then(
            (st) => st.isFIFO(),
            () => false,
          ),
        ),
      );
      if (!fifos.every(Boolean)) {
        for (const p of [inFifo, outFifo]) await unlink(p).catch(() => undefined);
        await runChecked('mkfifo', ['-m', '0600', inFifo, outFifo]);
      }
      // The container's ends: read-write, so it never sees EOF on stdin nor SIGPIPE on stdout while we are away.
      const childIn = openSync(inFifo, fsConstants.O_RDWR);
      fds.push(childIn);
      const childOut = openSync(outFifo, fsConstants.O_RDWR);
      fds.push(childOut);
      ({ reader, writer } = openConsoleEnds(dir));
      const oomAtStart = await this.readOomKills(name);
      const child = this.runc.spawnRun(name, join(dir, 'bundle'), pidFile, logFile, [childIn, childOut, childOut]);
      const live = newLive(child, reader, writer, oomAtStart);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>(
        (resolve) => {
          child.on('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
          child.on('exit', (code, signal) => resolve({ code, signal }));
        },
      );
      // Only runc's child keeps the container's ends now.
      for (const fd of fds.splice(0)) closeSync(fd);
      const pid = await waitForPid(pidFile, exited);
      if (pid === undefined) {
        const st = await exited;
        const log = await readFile(logFile, 'utf8').catch(() => '');
        const why =
          st.spawnError && (st.spawnError as NodeJS.ErrnoException).code === 'ENOENT'
            ? runcMissing(this.runc.binary).message
            : (lastLogError(log) ?? `runc exited with ${st.code ?? st.signal}`);
        throw new StrataError('UNAVAILABLE', `container '${name}' did not start: ${why}`);
      }
      live.pid = pid;
      live.finished = exited.then((st) => this.finishRun(record.name, live, st.code, st.signal));
      this.live.set(name, live);
      this.watchOom(name, oomAtStart);
    } catch (err) {
      for (const fd of fds) closeSync(fd);
      reader?.destroy();
      writer?.destroy();
      await this.runc.delete(name, true).catch(() => undefined);
      await this.unmountRootfs(name);
      await this.removeCgroups(name);
      throw err;
    }
  }

  /** After the init is gone: record how, read the OOM counter, let runc delete, unmount, close the console. */
  private async finishRun(name: string, live: Live, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (live.detached) return;
    this.oomSeen.delete(name);
    const oomNow = await this.readOomKills(name);
    const runOoms = Math.max(0, oomNow - live.oomAtStart);
    // runc run exits 128+N for a signalled init; turn that back into the signal.
    let exitCode = code;
    let exitSignal: string | null = signal;
    if (code !== null && code > 128 && code < 160) {
      exitSignal = signalName(code - 128);
      exitCode = null;
    }
    const exit: ContainerExit = {
      code: exitCode,
      signal: exitSignal,
      at: new Date().toISOString(),
      oomKilled: runOoms > 0,
    };
    await this.runc.delete(name, true).catch(() => undefined);
    await this.unmountRootfs(name);
    await this.removeCgroups(name);
    // Let the last output arrive (the reader sees EOF once every writer is gone), then close our ends.
    await Promise.race([live.outputEnded, new Promise((r) => setTimeout(r, 200))]);
    live.reader.destroy();
    live.writer?.destroy();
    for (const end of [...live.enders]) end();
    const dir = this.dir(name);
    await unlink(join(dir, 'init.pid')).catch(() => undefined);
    this.live.delete(name);
    const record = await this.loadRecord(name).catch(() => undefined);
    if (record) {
      record.oomKills += runOoms;
      record.lastExit = exit;
      await this.saveRecord(record).catch(() => undefined);
    }
    const listeners = [
      ...[...(this.exitListeners.get(name) ?? [])].map((l) => () => l(exit)),
      ...[...this.anyExitListeners].map((l) => () => l(name, exit)),
    ];
    for (const call of listeners) {
      try {
        call();
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  private async stopLocked(name: string, opts: { force?: boolean; timeoutMs?: number }): Promise<void> {
    const live = this.live.get(name);
    if (!live) return;
    if (live.paused) {
      await this.runc.resume(name).catch(() => undefined);
      live.paused = false;
    }
    const timeoutMs = opts.timeoutMs ?? this.stopTimeoutMs;
    const gone = live.finished.then(() => true);
    if (!opts.force) {
      await this.runc.kill(name, 'TERM').catch(() => undefined);
      // Unref'd: a grace period that is not needed any more must not hold the daemon's exit for its length.
      const inTime = await Promise.race([
        gone,
        new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref()),
      ]);
      if (inTime) return;
    }
    await this.runc.kill(name, 'KILL').catch(() => undefined);
    const inTime = await Promise.race([gone, new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
    if (!inTime) {
      // runc itself hangs: end it; finishRun then cleans up.
      if (live.child) live.child.kill('SIGKILL');
      else if (live.pid > 0) {
        try {
          process.kill(live.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await live.finished;
    }
  }

  private async unmountRootfs(name: string): Promise<void> {
    const rootfs = join(this.dir(name), 'bundle', 'rootfs');
    for (let i = 0; i < 5; i++) {
      const mounted = (await mountPoints()).includes(rootfs);
      if (!mounted) return;
      const ok = await runChecked('umount', [rootfs]).then(
        () => true,
        () => false,
      );
      if (!ok) {
        await new Promise((r) => setTimeout(r, 100 * (i + 1)));
        if (i === 4) await runChecked('umount', ['-l', rootfs]).catch(() => undefined);
      }
    }
  }

  /** Cgroup folders of the container runc may have left (it removes them on delete; a crash may not). */
  private async removeCgroups(name: string): Promise<void> {
    const rel = this.cgroupsPath(name).replace(/^\/+/, '');
    const dirs = [join(this.cgroupRoot, rel)];
    for (const h of await readdir(this.cgroupRoot).catch(() => [] as string[]))
      dirs.push(join(this.cgroupRoot, h, rel));
    for (const d of dirs) await rmdir(d).catch(() => undefined);
  }

  /** The OOM-kill counter of the container's memory cgroup (v1 `memory.oom_control`, v2 `memory.events`). */
  private async readOomKills(name: string): Promise<number> {
    const rel = this.cgroupsPath(name).replace(/^\/+/, '');
    const v1 = await readFile(join(this.cgroupRoot, 'memory', rel, 'memory.oom_control'), 'utf8').catch(
      () => undefined,
    );
    const v2 = v1 ?? (await readFile(join(this.cgroupRoot, rel, 'memory.events'), 'utf8').catch(() => ''));
    const m = /^oom_kill (\d+)$/m.exec(v2);
    return m?.[1] ? Number(m[1]) : 0;
  }

  private async readMemoryUsage(name: string): Promise<number | undefined> {
    const rel = this.cgroupsPath(name).replace(/^\/+/, '');
    const text =
      (await readFile(join(this.cgroupRoot, 'memory', rel, 'memory.usage_in_bytes'), 'utf8').catch(() => undefined)) ??
      (await readFile(join(this.cgroupRoot, rel, 'memory.current'), 'utf8').catch(() => undefined));
    return text === undefined ? undefined : Number(text.trim());
  }
}

/** `key value` lines (cgroup `cpu.stat`, `memory.events`) as a map. */
function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** Sums of `/proc/PID/net/dev` over every interface but loopback. */
export function netDevCounters(text: string): {
  nicRxBytes: number;
  nicTxBytes: number;
  nicRxPackets: number;
  nicTxPackets: number;
} {
  const out = { nicRxBytes: 0, nicTxBytes: 0, nicRxPackets: 0, nicTxPackets: 0 };
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out.nicRxBytes += f[0] ?? 0;
    out.nicRxPackets += f[1] ?? 0;
    out.nicTxBytes += f[8] ?? 0;
    out.nicTxPackets += f[9] ?? 0;
  }
  return out;
}

/** Waits until runc writes the init's pid (started) or exits first (failed: undefined). */
async function waitForPid(pidFile: string, exited: Promise<unknown>): Promise<number | undefined> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    // Note the exit before reading: runc writes the pid before it starts the init, so a pid file read after the
    // exit was seen is final (an init that ends at once is still a start, not a failure).
    const wasGone = gone;
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (text.trim() !== '' && Number.isSafeInteger(pid) && pid > 0) return pid;
    if (wasGone) return undefined;
    if (Date.now() > deadline) throw new StrataError('UNAVAILABLE', 'runc did not start the container within 60 s');
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** Runs a host tool; rejects with its stderr as an IO error (UNAVAILABLE when the tool is missing). */
function runChecked(tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new StrataError('UNAVAILABLE', `${tool} ${err.code === 'ENOENT' ? 'not found in PATH' : err.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StrataError('IO', `${tool} ${args.join(' ')} failed: ${stderr.trim() || `exit ${code}`}`));
    });
  });
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  15: 'SIGTERM',
};

function signalName(n: number): string {
  return SIGNALS[n] ?? `SIG${n}`;
}

function signalNumber(name: NodeJS.Signals | null): number {
  if (!name) return 0;
  for (const [n, s] of Object.entries(SIGNALS)) if (s === name) return Number(n);
  return 0;
}

/** Opens this process's ends of a container's console FIFOs (non-blocking: the container holds the other ends). */
function openConsoleEnds(dir: string): { reader: Socket; writer: Socket } {
  const ourOut = openSync(join(dir, 'console.out'), fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  const reader = new Socket({ fd: ourOut, readable: true, writable: false });
  let ourIn: number;
  try {
    ourIn = openSync(join(dir, 'console.in'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    reader.destroy();
    throw err;
  }
  const writer = new Socket({ fd: ourIn, readable: false, writable: true });
  writer.on('error', () => {
    // The container closed its stdin (it exited): sendConsole reports the state instead.
  });
  reader.on('error', () => {
    // Reading ends when the run is cleaned up.
  });
  return { reader, writer };
}

/** The bookkeeping of one run, with the console reader feeding history and listeners. */
function newLive(child: ChildProcess | undefined, reader: Socket, writer: Socket, oomAtStart: number): Live {
  const live: Live = {
    child,
    pid: 0,
    reader,
    writer,
    history: [],
    historyBytes: 0,
    listeners: new Set(),
    enders: new Set(),
    finished: Promise.resolve(),
    oomAtStart,
    paused: false,
    outputEnded: new Promise<void>((resolve) => {
      reader.once('end', resolve);
      reader.once('close', resolve);
    }),
    detached: false,
    consoleBytes: 0,
  };
  reader.on('data', (b: Buffer) => {
    live.consoleBytes += b.length;
    live.history.push(b);
    live.historyBytes += b.length;
    while (live.historyBytes > CONSOLE_HISTORY_BYTES && live.history.length > 1) {
      live.historyBytes -= (live.history.shift() as Buffer).length;
    }
    for (const l of live.listeners) l(b);
  });
  return live;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The default hostname of a container: its name with `.` and `_` (not allowed in a host name label) as `-`. */
export function hostnameOf(name: string): string {
  const h = name.replace(/[._]/g, '-').replace(/^-+|-+$/g, '');
  return h === '' ? 'container' : h;
}
