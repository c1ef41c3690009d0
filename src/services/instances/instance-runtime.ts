import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, StrataError } from '../../base/errors.js';
import { hasVmm } from '../../hypervisor/vm-action.js';
import type { VmmExit, VmmStats } from '../../hypervisor/vmm-protocol.js';
import type { ConsoleListener, ConsoleSubscription, VmHandle } from './engine.js';
import type { InstanceManagerDeps } from './instance-deps.js';
import { readProcUsage } from './proc-stats.js';
import type { InstanceRecord } from './state-store.js';

/** Usage of a running instance, next to its limits. */
export interface InstanceUsage {
  cpuSeconds: number;
  memoryRssBytes: number;
  guestMemoryBytes: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  diskReadOps: number;
  diskWriteOps: number;
  nicRxBytes: number;
  nicTxBytes: number;
  /** Frames the instance's NIC received. */
  nicRxPackets?: number | undefined;
  /** Frames the instance's NIC sent. */
  nicTxPackets?: number | undefined;
  consoleBytes: number;
  cpuThrottledSeconds: number | null;
}

/** A console of an instance: history, live output, and input. */
export interface InstanceConsole extends ConsoleSubscription {
  send(bytes: Uint8Array): Promise<void>;
}

/**
 * The live side of instances: one VM handle per running instance, boot and stop, watching VMMs (a VMM that dies
 * marks only its own instance failed, with the reason, and emits an event), and re-attaching after a daemon restart.
 */
export class InstanceRuntime {
  private readonly handles = new Map<string, VmHandle>();
  /** Instances whose VMM is being stopped on purpose: its end is not a failure. */
  private readonly stopping = new Set<string>();
  /** Boots in progress, so a forced stop can cancel one and wait for it to unwind. */
  private readonly starts = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(private readonly deps: InstanceManagerDeps) {}

  /** The runtime folder of an instance (sockets, definition, VMM log). */
  runDir(name: string): string {
    return join(this.deps.home, 'run', name);
  }

  private lifecycle(name: string, action: string, extra: Record<string, unknown> = {}): void {
    this.deps.events.emit('lifecycle', `/1.0/instances/${name}`, { action, name, ...extra });
  }

  /** Boots instance `name` (already marked `starting`); marks it failed with the reason when the boot fails. */
  async start(name: string, signal?: AbortSignal): Promise<void> {
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = this.boot(name, abort.signal);
    const entry = { abort, done: done.catch(() => undefined) };
    this.starts.set(name, entry);
    try {
      await done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.starts.get(name) === entry) this.starts.delete(name);
    }
  }

  private async boot(name: string, signal: AbortSignal): Promise<void> {
    const r = this.deps.store.getInstance(name);
    if (!r) throw new StrataError('NOT_FOUND', `no instance named '${name}'`);
    let handle: VmHandle | undefined;
    try {
      const image = await this.deps.images.resolve(r.image);
      if (!image) throw new StrataError('NOT_FOUND', `image '${r.image}' of instance '${name}' is gone`);
      const engine = this.deps.engines.get(r.engine);
      if (!engine) throw new StrataError('UNAVAILABLE', `the ${r.engine} engine is not configured in this daemon`);
      if (r.network !== null) await this.deps.serveNetwork?.(r.network);
      const runDir = this.runDir(name);
      rmSync(runDir, { recursive: true, force: true });
      mkdirSync(runDir, { recursive: true, mode: 0o700 });
      handle = await engine.create(
        {
          name,
          runDir,
          memoryBytes: r.memoryBytes,
          cpus: r.cpus,
          kernelPath: image.kernelPath,
          initrdPath: image.initrdPath,
          firmwarePath: image.firmwarePath,
          cmdline: image.cmdline,
          diskPath: join(this.deps.home, 'instances', name, 'disk.raw'),
          arch: image.arch,
          nics:
            r.network === null ? [] : [{ network: r.network, home: this.deps.home, port: r.name, mac: macOf(r.id) }],
          limits: rateLimits(r),
        },
        signal,
      );
      const notes = this.deps.controls.apply(name, handle.pid, r.limits, r.memoryBytes);
      for (const n of notes) this.deps.log?.(`instance ${name}: ${n}`);
      signal?.throwIfAborted();
      await handle.start(signal);
      this.watch(name, handle);
      this.deps.store.updateInstance(name, {
        status: 'running',
        statusReason: null,
        vmmPid: handle.pid,
        lastStartedAt: new Date().toISOString(),
      });
      this.lifecycle(name, 'instance-started', { pid: handle.pid });
    } catch (err) {
      if (handle) {
        this.stopping.add(name);
        await handle.stop(true).catch(() => undefined);
        this.stopping.delete(name);
        this.handles.delete(name);
      }
      const reason = `start failed: ${errorMessage(err)}`;
      this.deps.store.updateInstance(name, { status: 'failed', statusReason: reason, vmmPid: null });
      this.lifecycle(name, 'instance-failed', { reason });
      throw err;
    }
  }

  private watch(name: string, handle: VmHandle): void {
    this.handles.set(name, handle);
    handle.onGone((exit) => this.onGone(name, handle, exit));
  }

  private onGone(name: string, handle: VmHandle, exit: VmmExit): void {
    if (this.handles.get(name) !== handle) return;
    this.handles.delete(name);
    if (this.stopping.has(name)) return;
    const r = this.deps.store.getInstance(name);
    if (!r) return;
    const clean = exit.kind === 'poweroff' || exit.kind === 'stopped';
    this.deps.controls.remove(name);
    this.deps.store.updateInstance(name, {
      status: clean ? 'stopped' : 'failed',
      statusReason: exit.reason,
      vmmPid: null,
    });
    this.deps.log?.(`instance ${name}: VMM gone: ${exit.kind}: ${exit.reason}`);
    this.lifecycle(name, clean ? 'instance-stopped' : 'instance-failed', { reason: exit.reason });
  }

  /** Stops instance `name` (already marked `stopping`) and records it stopped. */
  async stop(name: string, force: boolean, signal?: AbortSignal): Promise<void> {
    const booting = this.starts.get(name);
    if (booting) {
      // A forced stop during a boot cancels the boot and waits for it to unwind before it records the stop.
      booting.abort.abort(new StrataError('ABORTED', `instance '${name}' was stopped while it started`));
      await booting.done;
    }
    const handle = this.handles.get(name);
    this.stopping.add(name);
    try {
      if (handle) await handle.stop(force, signal);
      const pid = this.deps.store.getInstance(name)?.vmmPid;
      if (!handle && pid) {
        // A VMM we lost contact with (it stopped answering): end it so no stray guest stays behind.
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    } finally {
      this.stopping.delete(name);
      this.handles.delete(name);
    }
    this.deps.controls.remove(name);
    this.deps.store.updateInstance(name, { status: 'stopped', statusReason: 'stopped', vmmPid: null });
    this.lifecycle(name, 'instance-stopped', { reason: force ? 'stopped (forced)' : 'stopped' });
  }

  private requireHandle(name: string): VmHandle {
    const h = this.handles.get(name);
    if (!h) throw new StrataError('CONFLICT', `instance '${name}' has no running VMM`);
    return h;
  }

  /** Pauses a running instance. */
  async pause(name: string): Promise<void> {
    await this.requireHandle(name).pause();
    this.deps.store.updateInstance(name, { status: 'paused' });
    this.lifecycle(name, 'instance-paused');
  }

  /** Resumes a paused instance. */
  async resume(name: string): Promise<void> {
    await this.requireHandle(name).resume();
    this.deps.store.updateInstance(name, { status: 'running' });
    this.lifecycle(name, 'instance-resumed');
  }

  /** Sends new limits to a running VMM and its cgroup. */
  async applyLimits(r: InstanceRecord): Promise<void> {
    const h = this.handles.get(r.name);
    if (!h) return;
    await h.setLimits(rateLimits(r));
    this.deps.controls.apply(r.name, h.pid, r.limits, r.memoryBytes);
  }

  /** Usage of a running instance (undefined when it has no VMM). CPU and memory come from /proc for every engine. */
  async usage(name: string): Promise<InstanceUsage | undefined> {
    const h = this.handles.get(name);
    if (!h) return undefined;
    const stats: VmmStats | undefined = await h.stats().catch(() => undefined);
    const proc = readProcUsage(h.pid);
    return {
      cpuSeconds: proc?.cpuSeconds ?? stats?.cpuSeconds ?? 0,
      memoryRssBytes: proc?.rssBytes ?? stats?.rssBytes ?? 0,
      guestMemoryBytes: stats?.guestMemoryBytes ?? 0,
      diskReadBytes: stats?.diskReadBytes ?? 0,
      diskWriteBytes: stats?.diskWriteBytes ?? 0,
      diskReadOps: stats?.diskReadOps ?? 0,
      diskWriteOps: stats?.diskWriteOps ?? 0,
      nicRxBytes: stats?.nicRxBytes ?? 0,
      nicTxBytes: stats?.nicTxBytes ?? 0,
      nicRxPackets: stats?.nicRxPackets ?? 0,
      nicTxPackets: stats?.nicTxPackets ?? 0,
      consoleBytes: stats?.consoleBytes ?? 0,
      cpuThrottledSeconds: this.deps.controls.throttledSeconds(name) ?? null,
    };
  }

  /** Opens the console of a running instance: its kept history, then live output to `listener`. */
  async openConsole(name: string, listener: ConsoleListener): Promise<InstanceConsole> {
    const h = this.requireHandle(name);
    const sub = await h.subscribeConsole(listener);
    return { ...sub, send: (bytes) => h.sendConsole(bytes) };
  }

  /**
   * After a daemon (re)start: re-attaches to the VMM of every instance that should have one. A VMM that is gone
   * marks its instance stopped (the guest powered off while we were away) or failed (it crashed), with the reason.
   */
  async recover(): Promise<{ attached: string[]; lost: string[] }> {
    const attached: string[] = [];
    const lost: string[] = [];
    for (const r of this.deps.store.listInstances()) {
      if (!hasVmm(r.status)) continue;
      const engine = this.deps.engines.get(r.engine);
      const result = engine
        ? await engine.attach(this.runDir(r.name)).catch((err: unknown) => ({
            gone: { kind: 'error' as const, reason: errorMessage(err) },
          }))
        : { gone: { kind: 'error' as const, reason: `the ${r.engine} engine is not configured` } };
      if ('gone' in result) {
        lost.push(r.name);
        const clean = result.gone.kind === 'poweroff' || result.gone.kind === 'stopped';
        this.deps.store.updateInstance(r.name, {
          status: clean ? 'stopped' : 'failed',
          statusReason: result.gone.reason,
          vmmPid: null,
        });
        this.lifecycle(r.name, clean ? 'instance-stopped' : 'instance-failed', { reason: result.gone.reason });
        continue;
      }
      const state = await result.state().catch(() => 'running' as const);
      if (state === 'configured' || state === 'exited') {
        // The previous daemon went away in the middle of a boot (or the guest just ended): nothing runs to keep.
        await result.stop(true).catch(() => undefined);
        const reason = 'the daemon restarted while the instance was starting';
        this.deps.store.updateInstance(r.name, { status: 'failed', statusReason: reason, vmmPid: null });
        this.lifecycle(r.name, 'instance-failed', { reason });
        lost.push(r.name);
        continue;
      }
      this.watch(r.name, result);
      const status = state === 'paused' ? 'paused' : 'running';
      this.deps.store.updateInstance(r.name, { status, vmmPid: result.pid });
      attached.push(r.name);
      this.lifecycle(r.name, 'instance-reattached', { pid: result.pid });
    }
    return { attached, lost };
  }

  /** Lets go of every VMM without stopping it (daemon shutdown): the VMs keep running. */
  detachAll(): void {
    for (const h of this.handles.values()) h.detach();
    this.handles.clear();
  }

  /** Names of instances with a live handle. */
  runningNames(): string[] {
    return [...this.handles.keys()];
  }
}

function rateLimits(r: InstanceRecord) {
  return {
    diskIops: r.limits.diskIops,
    diskBytesPerSec: r.limits.diskBytesPerSec,
    nicBytesPerSec: r.limits.nicBytesPerSec,
  };
}

/** A stable MAC for an instance's NIC: locally administered, unicast, derived from the instance id. */
export function macOf(id: string): string {
  const h = createHash('sha256').update(id).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
