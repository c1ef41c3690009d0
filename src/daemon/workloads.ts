/**
 * Wiring of containers and sandboxes into the instance model: adapters from the container and sandbox services to
 * the instance manager's WorkloadBackend interface. The services never import each other; the daemon joins them.
 */

import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errorMessage, StrataError } from '../base/errors.js';
import type { ContainerExit, ContainerInfo, ContainerManager } from '../services/containers/container-manager.js';
import {
  attachContainerNic,
  type ContainerNic,
  helperRunning,
  readInterfaceIpv4,
  removeHelperByPid,
  tapBridgeUnavailable,
} from '../services/containers/network-hook.js';
import { CONTAINER_ROOTFS_DIR, containerImageStoreName } from '../services/images/container-image.js';
import { type ImageStore, imageTypeOf } from '../services/images/image-store.js';
import type {
  WorkloadBackend,
  WorkloadConsole,
  WorkloadCreateSpec,
  WorkloadEvent,
  WorkloadExecResult,
  WorkloadLimitsPatch,
  WorkloadUsage,
  WorkloadView,
} from '../services/instances/instance-deps.js';
import type { SandboxExit, SandboxInfo, SandboxManager } from '../services/sandboxes/wasi-sandbox.js';

function isNotFound(err: unknown): boolean {
  return err instanceof StrataError && err.code === 'NOT_FOUND';
}

/** Resolves with true when `probe` succeeds, false on NOT_FOUND; other errors are real. */
async function exists(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** `NAME=value` strings as an object. */
function envObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function containerView(c: ContainerInfo): WorkloadView {
  const last = c.lastExit;
  let reason: string | null = null;
  if (last && c.status === 'stopped') {
    if (last.oomKilled) reason = 'the memory limit killed its init (OOM)';
    else if (last.signal) reason = `ended by ${last.signal}`;
  }
  return {
    name: c.name,
    status: c.status,
    image: c.image.name,
    pid: c.pid ?? null,
    memoryBytes: c.limits.memoryBytes ?? 0,
    createdAt: c.createdAt,
    exitCode: last && c.status === 'stopped' ? last.code : undefined,
    statusReason: reason,
    container: {
      hostname: c.hostname,
      command: c.command,
      memoryLimitBytes: c.limits.memoryBytes ?? null,
      pidsLimit: c.limits.pids ?? null,
      cpuWeight: c.limits.cpuWeight ?? null,
      cpuQuotaPercent: c.limits.cpuQuotaPercent ?? null,
      oomKills: c.oomKills,
      env: envObject(c.env),
    },
  };
}

/** How containers reach networks: the daemon serves a network on demand and names its switch endpoint. */
export interface ContainerNetworkAccess {
  /** Makes sure network `name` is served; its switch endpoint socket and whether it runs a DHCP server. */
  serve(name: string): Promise<{ endpointPath: string; dhcp: boolean }>;
}

/**
 * A container's network attachment, kept in its folder as `nic.json` (deleted with it): the network, the MAC of its
 * `eth0`, and the pid of the TAP bridge helper of the current run (so a later daemon can end it).
 */
interface NicRecord {
  network: string;
  mac: string;
  helperPid?: number | undefined;
  /** The helper's start time (ContainerNic.startTime): with the pid, it tells a reused pid from the helper. */
  helperStart?: string | undefined;
}

/**
 * The DHCP client run in the container once its `eth0` is attached: busybox `udhcpc` (the busybox image ships the
 * script that applies a lease) or ISC `dhclient` (the Debian image). Either asks for a lease, applies it, then goes
 * to the background inside the container and renews it; it ends with the container.
 */
const DHCP_CLIENT = [
  '/bin/sh',
  '-c',
  // A client left from an interface that went away (its helper ended, see NicWatch) goes first.
  'for p in /proc/[0-9]*; do case "$(cat "$p/comm" 2>/dev/null)" in udhcpc|dhclient) kill "$(basename "$p")" 2>/dev/null;; esac; done; ' +
    'if command -v udhcpc >/dev/null 2>&1; then exec udhcpc -i eth0 -n -t 10 -T 1; ' +
    'elif command -v dhclient >/dev/null 2>&1; then exec dhclient -4 -1 eth0; ' +
    'else echo "no DHCP client (udhcpc or dhclient) in the container" >&2; exit 127; fi',
];

/** A stable MAC for a container's NIC: locally administered, unicast, derived from its name. */
function containerMac(name: string): string {
  const h = createHash('sha256').update(`container:${name}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** How often the TAP bridge helpers of running containers are looked at (one read of /proc/PID/stat each). */
const NIC_CHECK_MS = 1000;
/** A helper that lived this long after being attached again counts as healthy: its failure count starts over. */
const NIC_STABLE_MS = 60_000;
/** Re-attaches in a row that did not last (or failed) before the daemon gives up on a container's NIC. */
const NIC_MAX_TRIES = 5;
/**
 * Wait before the next re-attach after `failures` in a row: none for the first, then 2 s, 4 s, 8 s, 16 s; none either
 * once the tries are used up (the daemon then gives up at once).
 */
function nicBackoffMs(failures: number): number {
  return failures === 0 || failures >= NIC_MAX_TRIES ? 0 : 1000 * 2 ** failures;
}

/**
 * The TAP bridge helper of a running container, watched by pid and start time (it is detached and may have been
 * started by an earlier daemon): when it ends while the container runs, the NIC is attached again with a new helper
 * and a new DHCP client run, a bounded number of times in a row.
 */
interface NicWatch {
  network: string;
  pid: number;
  startTime: string | undefined;
  /** When the current helper was attached (Date.now()). */
  attachedAt: number;
  /** Re-attaches in a row that did not last NIC_STABLE_MS or failed. */
  failures: number;
  /** When the current helper was first seen gone. */
  goneSince?: number | undefined;
  /** Not before this time (Date.now()) is the next re-attach tried. */
  nextTry: number;
  busy: boolean;
  gaveUp: boolean;
}

/** How a container's init ended, as a workload event. */
function containerEnd(exit: ContainerExit): WorkloadEvent {
  if (exit.oomKilled) {
    return { kind: 'ended', exitCode: exit.code, cause: 'oom', reason: 'the memory limit killed its init (OOM)' };
  }
  if (exit.signal) return { kind: 'ended', exitCode: null, cause: 'signal', reason: `ended by ${exit.signal}` };
  return { kind: 'ended', exitCode: exit.code, cause: 'exit', reason: `exited with code ${exit.code ?? 'unknown'}` };
}

/** Containers run by runc as instances of type `container`; images come from the image store. */
export class ContainerWorkloads implements WorkloadBackend {
  /** The NIC of each running container this daemon attached, with the address its DHCP client got. */
  private readonly nics = new Map<string, { nic: ContainerNic; ipv4: string | null }>();
  /** The helper of each running container on a network, this daemon's or an earlier one's (see NicWatch). */
  private readonly watched = new Map<string, NicWatch>();
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(name: string, event: WorkloadEvent) => void>();
  private readonly log: (msg: string) => void;

  constructor(
    private readonly containers: ContainerManager,
    private readonly images: ImageStore,
    private readonly networks?: ContainerNetworkAccess,
    opts: { log?: ((msg: string) => void) | undefined } = {},
  ) {
    this.log = opts.log ?? (() => {});
    containers.onAnyExit((name, exit) => {
      // An init that ended by itself leaves no NIC entry, watch or helper behind (a stop cleans up the same way).
      this.forgetNic(name);
      this.tell(name, containerEnd(exit));
    });
    containers.onOom((name, oomKills) =>
      this.tell(name, { kind: 'oom', oomKills, reason: 'OOM kill: a process went past the memory limit' }),
    );
  }

  /** Init ends and OOM kills inside running containers go to `listener`. */
  onEvent(listener: (name: string, event: WorkloadEvent) => void): void {
    this.listeners.add(listener);
  }

  private tell(name: string, event: WorkloadEvent): void {
    for (const l of this.listeners) l(name, event);
  }

  /** cgroup CPU, memory, pids, block I/O and OOM counters, network bytes, console bytes; undefined when stopped. */
  async usage(name: string): Promise<WorkloadUsage | undefined> {
    const u = await this.containers.usage(name);
    if (!u) return undefined;
    const { memoryCurrentBytes, ...rest } = u;
    return { ...rest, memoryBytes: memoryCurrentBytes };
  }

  /** Undefined when runc, cgroups and overlayfs are there. */
  unavailableReason(): Promise<string | undefined> {
    return this.containers.unavailableReason();
  }

  /** True when a container of that name exists. */
  has(name: string): Promise<boolean> {
    return exists(() => this.containers.info(name));
  }

  /** Every container. */
  async list(): Promise<WorkloadView[]> {
    return Promise.all((await this.containers.list()).map((c) => this.view(c)));
  }

  /** One container; NOT_FOUND when there is none. */
  async info(name: string): Promise<WorkloadView> {
    return this.view(await this.containers.info(name));
  }

  /** Finds the container image (`busybox` or `busybox-container`) and launches a container from it. */
  async launch(spec: WorkloadCreateSpec): Promise<void> {
    const storeName = containerImageStoreName(spec.image);
    const resolved = await this.images.resolve(storeName);
    if (!resolved || imageTypeOf(resolved.manifest) !== 'container') {
      const base = storeName.replace(/-container$/, '');
      throw new StrataError(
        'INVALID_ARGUMENT',
        `invalid image: no container image '${storeName}': pull it first (strata image pull ${base} --type container)`,
      );
    }
    const m = resolved.manifest;
    if (spec.network !== undefined) {
      // Everything a network needs is checked before the container is made.
      const missing = tapBridgeUnavailable();
      if (missing) throw new StrataError('UNAVAILABLE', `containers cannot join networks: ${missing}`);
      await this.serveNetwork(spec.network);
    }
    await this.containers.launch({
      name: spec.name,
      image: {
        name: m.name,
        arch: m.arch,
        rootfsPath: `${this.images.imageDir(storeName)}/${m.rootfs ?? CONTAINER_ROOTFS_DIR}`,
      },
      ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
      ...(spec.command !== undefined ? { command: spec.command } : {}),
      ...(spec.env !== undefined ? { env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
      limits: {
        ...(spec.memoryBytes !== undefined ? { memoryBytes: spec.memoryBytes } : {}),
        ...(spec.cpuWeight !== undefined ? { cpuWeight: spec.cpuWeight } : {}),
        ...(spec.cpuQuotaPercent ? { cpuQuotaPercent: spec.cpuQuotaPercent } : {}),
        ...(spec.pidsLimit !== undefined ? { pids: spec.pidsLimit } : {}),
      },
    });
    if (spec.network === undefined) return;
    try {
      await this.saveNic(spec.name, { network: spec.network, mac: containerMac(spec.name) });
      const nic = await this.attachNic(spec.name);
      if (nic) this.watch(spec.name, spec.network, nic);
    } catch (err) {
      await this.detachNic(spec.name);
      await this.containers.delete(spec.name, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Starts a stopped container (its layer kept) and attaches it to its network again. */
  async start(name: string): Promise<void> {
    await this.containers.start(name);
    await this.attachOrStop(name);
  }

  /** Stops a container (SIGTERM, then SIGKILL after the grace period; at once with `force`); its NIC goes. */
  async stop(name: string, force: boolean): Promise<void> {
    this.unwatch(name);
    await this.containers.stop(name, { force });
    await this.detachNic(name);
  }

  /** Freezes every process of the container. */
  async pause(name: string): Promise<void> {
    await this.containers.pause(name);
  }

  /** Thaws a paused container. */
  async resume(name: string): Promise<void> {
    await this.containers.resume(name);
  }

  /** Removes the container and every trace of it: its NIC helper too. */
  async delete(name: string, force: boolean): Promise<void> {
    this.unwatch(name);
    const rec = await this.loadNic(name).catch(() => undefined);
    await this.containers.delete(name, { force });
    await this.detachNic(name, rec);
  }

  /** `runc exec` in the running container; the exit code passes through. */
  async exec(name: string, command: readonly string[], stdin: Uint8Array | undefined): Promise<WorkloadExecResult> {
    const r = await this.containers.exec(name, command, { stdin });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** Writes a file into the container's layer, resolved inside its root file system. */
  writeFile(name: string, path: string, bytes: Uint8Array): Promise<void> {
    return this.containers.writeFile(name, path, bytes);
  }

  /** Reads a file of the container, resolved inside its root file system. */
  readFile(name: string, path: string): Promise<Uint8Array> {
    return this.containers.readFile(name, path);
  }

  /** New memory, CPU and pids limits: the record, and the cgroups at once when it runs (`runc update`). */
  async updateLimits(name: string, patch: WorkloadLimitsPatch): Promise<void> {
    if (patch.cpuTimeLimitMs !== undefined) {
      throw new StrataError('INVALID_ARGUMENT', 'invalid cpuTimeLimitMs: a container has no CPU time budget');
    }
    await this.containers.updateLimits(name, {
      ...(patch.memoryBytes !== undefined ? { memoryBytes: patch.memoryBytes } : {}),
      ...(patch.cpuWeight !== undefined ? { cpuWeight: patch.cpuWeight } : {}),
      ...(patch.cpuQuotaPercent !== undefined ? { cpuQuotaPercent: patch.cpuQuotaPercent } : {}),
      ...(patch.pidsLimit !== undefined ? { pids: patch.pidsLimit } : {}),
    });
  }

  /** The container's console: its init's output, and its stdin. */
  async openConsole(name: string, listener: (bytes: Uint8Array) => void): Promise<WorkloadConsole> {
    const sub = this.containers.subscribeConsole(name, listener);
    return { ...sub, send: (bytes) => this.containers.sendConsole(name, bytes) };
  }

  // ---- networks ----

  private async view(c: ContainerInfo): Promise<WorkloadView> {
    const rec = await this.loadNic(c.name).catch(() => undefined);
    if (!rec) return containerView(c);
    // The address its DHCP client got when this daemon attached it; never looked up here, since every instance list
    // and metrics scrape comes through (a container adopted from an earlier daemon shows none here; the API then finds its lease by MAC).
    const ipv4 = c.status !== 'stopped' ? (this.nics.get(c.name)?.ipv4 ?? null) : null;
    return { ...containerView(c), network: rec.network, ipv4, mac: rec.mac };
  }

  private async serveNetwork(network: string): Promise<{ endpointPath: string; dhcp: boolean }> {
    if (!this.networks) throw new StrataError('UNAVAILABLE', 'this daemon does not run networks for containers');
    return this.networks.serve(network);
  }

  private nicPath(name: string): string {
    return join(this.containers.containersDir, name, 'nic.json');
  }

  private async loadNic(name: string): Promise<NicRecord | undefined> {
    const text = await readFile(this.nicPath(name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    return text === undefined ? undefined : (JSON.parse(text) as NicRecord);
  }

  private async saveNic(name: string, rec: NicRecord): Promise<void> {
    const path = this.nicPath(name);
    await writeFile(`${path}.tmp`, `${JSON.stringify(rec)}\n`);
    await rename(`${path}.tmp`, path);
  }

  /**
   * Attaches a running container to its network, if it has one: TAP bridge helper, then the DHCP client. Resolves
   * with the new NIC (undefined when the container has no network).
   */
  private async attachNic(name: string): Promise<ContainerNic | undefined> {
    const rec = await this.loadNic(name);
    if (!rec) return undefined;
    const info = await this.containers.info(name);
    if (!info.netnsPath || !info.pid) throw new StrataError('CONFLICT', `container '${name}' is not running`);
    const net = await this.serveNetwork(rec.network);
    const nic = await attachContainerNic({
      netnsPath: info.netnsPath,
      watchPid: info.pid,
      endpointPath: net.endpointPath,
      network: rec.network,
      portName: name,
      mac: rec.mac,
    });
    const entry = { nic, ipv4: null as string | null };
    this.nics.set(name, entry);
    await this.saveNic(name, { ...rec, helperPid: nic.pid, helperStart: nic.startTime });
    if (!net.dhcp) return nic;
    const r = await this.containers.exec(name, DHCP_CLIENT, { signal: AbortSignal.timeout(60_000) }).catch((err) => {
      throw new StrataError('UNAVAILABLE', `container '${name}': DHCP client failed: ${errorMessage(err)}`);
    });
    if (r.exitCode !== 0) {
      const why = r.stderr.toString('utf8').trim().split('\n').pop() || `exit ${r.exitCode}`;
      throw new StrataError('UNAVAILABLE', `container '${name}' got no address from network '${rec.network}': ${why}`);
    }
    entry.ipv4 = await readInterfaceIpv4(info.netnsPath);
    return nic;
  }

  /** attachNic for a container just started; on failure stops it again (no half-attached container). */
  private async attachOrStop(name: string): Promise<void> {
    try {
      const nic = await this.attachNic(name);
      const rec = nic && (await this.loadNic(name));
      if (nic && rec) this.watch(name, rec.network, nic);
    } catch (err) {
      await this.containers.stop(name, { force: true }).catch(() => undefined);
      await this.detachNic(name);
      throw err;
    }
  }

  /** Ends the container's TAP bridge helper (the one this daemon started, or the one its record names). */
  private async detachNic(name: string, rec?: NicRecord): Promise<void> {
    const known = this.nics.get(name);
    this.nics.delete(name);
    if (known) await known.nic.remove();
    const r = rec ?? (await this.loadNic(name).catch(() => undefined));
    if (r?.helperPid && r.helperPid !== known?.nic.pid) await removeHelperByPid(r.helperPid, r.helperStart);
  }

  /** After a container's init ended: its NIC entry and watch go, and its helper if it is still there. */
  private forgetNic(name: string): void {
    const w = this.watched.get(name);
    this.unwatch(name);
    const known = this.nics.get(name);
    this.nics.delete(name);
    if (known) void known.nic.remove().catch(() => undefined);
    else if (w) void removeHelperByPid(w.pid, w.startTime).catch(() => undefined);
  }

  /**
   * Watches the helpers of containers an earlier daemon attached (after `ContainerManager.recover` adopted them):
   * their pid and start time are in `nic.json`. A helper already gone is replaced at the first check.
   */
  async adopt(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const rec = await this.loadNic(name).catch(() => undefined);
      if (!rec?.helperPid || this.watched.has(name)) continue;
      this.watchPid(name, rec.network, rec.helperPid, rec.helperStart);
    }
  }

  /** Stops watching helpers (daemon shutdown that keeps containers running: the next daemon adopts them). */
  detach(): void {
    for (const name of [...this.watched.keys()]) this.unwatch(name);
  }

  private watch(name: string, network: string, nic: ContainerNic): void {
    this.watchPid(name, network, nic.pid, nic.startTime);
  }

  private watchPid(name: string, network: string, pid: number, startTime: string | undefined): void {
    const w: NicWatch = {
      network,
      pid,
      startTime,
      attachedAt: Date.now(),
      failures: 0,
      nextTry: 0,
      busy: false,
      gaveUp: false,
    };
    this.watched.set(name, w);
    if (!this.watchTimer) {
      this.watchTimer = setInterval(() => this.checkNics(), NIC_CHECK_MS);
      this.watchTimer.unref();
    }
  }

  private unwatch(name: string): void {
    this.watched.delete(name);
    if (this.watched.size === 0 && this.watchTimer) {
      clearInterval(this.watchTimer);
      this.watchTimer = undefined;
    }
  }

  /** One look at every watched helper; a gone one is re-attached when its back-off allows. */
  private checkNics(): void {
    const now = Date.now();
    for (const [name, w] of this.watched) {
      if (w.busy || w.gaveUp) continue;
      if (helperRunning(w.pid, w.startTime)) {
        if (w.failures > 0 && now - w.attachedAt >= NIC_STABLE_MS) w.failures = 0;
        continue;
      }
      if (w.goneSince === undefined) {
        w.goneSince = now;
        w.nextTry = now + nicBackoffMs(w.failures);
      }
      if (now < w.nextTry) continue;
      w.busy = true;
      void this.reattach(name, w)
        .catch((err) => this.log(`container '${name}': network interface check failed: ${errorMessage(err)}`))
        .finally(() => {
          w.busy = false;
        });
    }
  }

  /** Replaces the ended helper of a running container: a new helper, a new DHCP client; an event either way. */
  private async reattach(name: string, w: NicWatch): Promise<void> {
    const info = await this.containers.info(name).catch(() => undefined);
    if (this.watched.get(name) !== w) return;
    if (!info || info.status === 'stopped') {
      // Its init ended before the watch began: nothing to attach any more.
      this.unwatch(name);
      return;
    }
    // An init that is gone (its helper follows it) is cleaned up by its end; a paused one is tried once resumed
    // (its DHCP client cannot run while it is frozen).
    if (!info.pid || info.status !== 'running' || !processRuns(info.pid)) return;
    const gone = w.pid;
    if (w.failures >= NIC_MAX_TRIES) {
      w.gaveUp = true;
      const reason =
        `its TAP bridge helper ended again (pid ${gone}); ${NIC_MAX_TRIES} re-attaches in a row did not last, ` +
        'no more tries until the container is started again';
      this.log(`container '${name}': network interface on '${w.network}' lost: ${reason}`);
      this.tell(name, { kind: 'nic', action: 'lost', network: w.network, reason });
      return;
    }
    w.failures++;
    // The ended helper's entry goes (it is reaped if it was this daemon's child).
    const old = this.nics.get(name);
    this.nics.delete(name);
    if (old) await old.nic.remove().catch(() => undefined);
    let nic: ContainerNic | undefined;
    try {
      nic = await this.attachNic(name);
    } catch (err) {
      // Nothing half-made: the new helper, if there was one, goes; the next try waits its back-off.
      const made = this.nics.get(name);
      if (made && made.nic.pid !== gone) {
        this.nics.delete(name);
        await made.nic.remove().catch(() => undefined);
      }
      w.nextTry = Date.now() + nicBackoffMs(w.failures);
      this.log(`container '${name}': network interface not attached again (try ${w.failures}): ${errorMessage(err)}`);
      return;
    }
    if (!nic) return;
    if (this.watched.get(name) !== w) {
      // Stopped or deleted meanwhile: the helper just started goes too.
      if (this.nics.get(name)?.nic === nic) this.nics.delete(name);
      await nic.remove().catch(() => undefined);
      return;
    }
    w.pid = nic.pid;
    w.startTime = nic.startTime;
    w.attachedAt = Date.now();
    w.goneSince = undefined;
    const ipv4 = this.nics.get(name)?.ipv4;
    const reason = `its TAP bridge helper (pid ${gone}) ended; attached again by helper pid ${nic.pid}${ipv4 ? `, address ${ipv4}` : ''}`;
    this.log(`container '${name}': network interface on '${w.network}' re-attached: ${reason}`);
    this.tell(name, { kind: 'nic', action: 'reattached', network: w.network, reason });
  }
}

/** True while process `pid` exists (not a zombie). */
function processRuns(pid: number): boolean {
  return helperRunning(pid, undefined);
}

/** How a sandbox run ended, as a workload event. */
function sandboxEnd(exit: SandboxExit): WorkloadEvent {
  const reason =
    exit.reason === 'exit' ? `exited with code ${exit.code}` : `${exit.reason}: ${exit.message ?? ''}`.trim();
  return { kind: 'ended', exitCode: exit.code, cause: exit.reason, reason };
}

function sandboxView(s: SandboxInfo): WorkloadView {
  const last = s.lastExit;
  return {
    name: s.name,
    status: s.status,
    image: 'module.wasm',
    pid: null,
    memoryBytes: s.limits.memoryBytes,
    createdAt: s.createdAt,
    exitCode: s.status === 'stopped' && last ? last.code : undefined,
    statusReason:
      s.status === 'stopped' && last && last.reason !== 'exit' ? `${last.reason}: ${last.message ?? ''}`.trim() : null,
    sandbox: {
      cpuTimeLimitMs: s.limits.cpuTimeMs,
      memoryLimitBytes: s.limits.memoryBytes,
      lastEnd: last?.reason ?? null,
      args: s.args,
      env: s.env,
    },
  };
}

/** WebAssembly/WASI modules as instances of type `sandbox`. */
export class SandboxWorkloads implements WorkloadBackend {
  /** The module label each launched sandbox showed as its image (kept while the daemon runs). */
  private readonly labels = new Map<string, string>();
  private readonly listeners = new Set<(name: string, event: WorkloadEvent) => void>();

  constructor(private readonly sandboxes: SandboxManager) {
    sandboxes.onExit((name, exit) => {
      for (const l of this.listeners) l(name, sandboxEnd(exit));
    });
  }

  /** Run ends (exit, trap, CPU or memory limit, stop) go to `listener`. */
  onEvent(listener: (name: string, event: WorkloadEvent) => void): void {
    this.listeners.add(listener);
  }

  /** CPU time of the worker thread, the module's linear memory, console bytes; undefined when stopped. */
  async usage(name: string): Promise<WorkloadUsage | undefined> {
    const s = await this.sandboxes.info(name);
    if (s.status !== 'running') return undefined;
    return {
      cpuSeconds: (s.cpuMs ?? 0) / 1000,
      cpuThrottledSeconds: null,
      memoryBytes: s.memoryBytes ?? 0,
      consoleBytes: s.consoleBytes ?? 0,
    };
  }

  /** Sandboxes run wherever Node runs. */
  async unavailableReason(): Promise<string | undefined> {
    return undefined;
  }

  /** True when a sandbox of that name exists. */
  has(name: string): Promise<boolean> {
    return exists(() => this.sandboxes.info(name));
  }

  /** Every sandbox. */
  async list(): Promise<WorkloadView[]> {
    return (await this.sandboxes.list()).map((s) => this.view(s));
  }

  /** One sandbox; NOT_FOUND when there is none. */
  async info(name: string): Promise<WorkloadView> {
    return this.view(await this.sandboxes.info(name));
  }

  /** Validates the module and runs it (nothing is left behind when it is not valid WebAssembly). */
  async launch(spec: WorkloadCreateSpec): Promise<void> {
    if (!spec.module) throw new StrataError('INVALID_ARGUMENT', 'invalid module: a sandbox needs its module');
    if (spec.cpuWeight !== undefined || spec.cpuQuotaPercent !== undefined) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'invalid limits: a sandbox has a CPU time limit, not a weight or quota',
      );
    }
    await this.sandboxes.launch({
      name: spec.name,
      module: spec.module,
      limits: {
        ...(spec.memoryBytes !== undefined ? { memoryBytes: spec.memoryBytes } : {}),
        ...(spec.cpuTimeLimitMs !== undefined ? { cpuTimeMs: spec.cpuTimeLimitMs } : {}),
      },
      ...(spec.args !== undefined ? { args: spec.args } : {}),
      ...(spec.env !== undefined ? { env: spec.env } : {}),
      ...(spec.files !== undefined ? { files: spec.files } : {}),
    });
    this.labels.set(spec.name, basename(spec.image));
  }

  /** Runs the module again. */
  async start(name: string): Promise<void> {
    await this.sandboxes.start(name);
  }

  /** Ends the running module. */
  async stop(name: string): Promise<void> {
    await this.sandboxes.stop(name);
  }

  /** Refused: WebAssembly in a worker cannot be frozen. */
  async pause(name: string): Promise<void> {
    await this.sandboxes.pause(name);
  }

  /** Refused, like pause. */
  async resume(name: string): Promise<void> {
    await this.sandboxes.info(name);
    throw new StrataError('CONFLICT', `sandbox '${name}' cannot be paused or resumed`);
  }

  /** Stops it and removes its folder. */
  async delete(name: string): Promise<void> {
    await this.sandboxes.delete(name);
    this.labels.delete(name);
  }

  /** Puts a file into the sandbox's folder (no links, never outside it). */
  writeFile(name: string, path: string, bytes: Uint8Array): Promise<void> {
    return this.sandboxes.writeFile(name, path, bytes);
  }

  /** Reads a file of the sandbox's folder. */
  readFile(name: string, path: string): Promise<Uint8Array> {
    return this.sandboxes.readFile(name, path);
  }

  /** A new memory cap or CPU time budget, from the next run; weights, quotas and pids are refused. */
  async updateLimits(name: string, patch: WorkloadLimitsPatch): Promise<void> {
    if (patch.cpuWeight !== undefined || patch.cpuQuotaPercent !== undefined || patch.pidsLimit !== undefined) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'invalid limits: a sandbox has a memory cap and a CPU time limit, not a weight, quota or pids limit',
      );
    }
    await this.sandboxes.updateLimits(name, {
      ...(patch.memoryBytes !== undefined ? { memoryBytes: patch.memoryBytes } : {}),
      ...(patch.cpuTimeLimitMs !== undefined ? { cpuTimeMs: patch.cpuTimeLimitMs } : {}),
    });
  }

  /** Refused: a sandbox runs one module, with its stdin on the console. */
  async exec(name: string): Promise<WorkloadExecResult> {
    await this.sandboxes.info(name);
    throw new StrataError('CONFLICT', `exec needs a container: '${name}' is a sandbox (use its console)`);
  }

  /**
   * The module's stdout and stderr, and its stdin. Once the module has ended, the console still shows the output
   * of its last run (and ends at once), like the kept history of a VM's console.
   */
  async openConsole(name: string, listener: (bytes: Uint8Array) => void): Promise<WorkloadConsole> {
    const info = await this.sandboxes.info(name);
    if (info.status === 'running') {
      try {
        const sub = this.sandboxes.subscribeConsole(name, listener);
        return { ...sub, send: async (bytes) => this.sandboxes.sendConsole(name, bytes) };
      } catch (err) {
        if (!(err instanceof StrataError && err.code === 'CONFLICT')) throw err;
      }
    }
    const last = this.sandboxes.lastConsoleOutput(name);
    if (!last) throw new StrataError('CONFLICT', `sandbox '${name}' is not running`);
    return {
      history: last,
      close: () => {},
      ended: Promise.resolve(),
      send: async () => {
        throw new StrataError('CONFLICT', `sandbox '${name}' is not running`);
      },
    };
  }

  private view(s: SandboxInfo): WorkloadView {
    return { ...sandboxView(s), image: this.labels.get(s.name) ?? 'module.wasm' };
  }
}
