import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { instancePathComponents } from '../../base/instance-path.js';
import { planAction, type VmAction } from '../../hypervisor/vm-action.js';
import { exportRawDisk } from './disk-export.js';
import type {
  InstanceManagerDeps,
  InstanceType,
  WorkloadBackend,
  WorkloadConsole,
  WorkloadContainerSettings,
  WorkloadEvent,
  WorkloadExecResult,
  WorkloadSandboxSettings,
  WorkloadType,
  WorkloadUsage,
  WorkloadView,
} from './instance-deps.js';
import { InstanceRuntime } from './instance-runtime.js';
import {
  type CreateInstanceInput,
  checkInstanceName,
  fieldError,
  instanceTypeOf,
  type PatchInput,
  validateCreate,
  validateLimits,
  validateWorkloadCreate,
  validateWorkloadPatch,
} from './instance-validation.js';
import type { OperationView } from './operations.js';
import type { InstanceLimits, InstanceRecord } from './state-store.js';

/** The actions `act` applies (delete, limits and export have their own methods). */
export type LifecycleAction = Exclude<VmAction, { kind: 'delete' } | { kind: 'update-limits' } | { kind: 'export' }>;

/** An instance of any type as the API shows it: a VM's record, or a container or sandbox in the same shape. */
export type InstanceView = Omit<InstanceRecord, 'engine'> & {
  type: InstanceType;
  /** `builtin`/`qemu` for VMs, `runc` for containers, `wasi` for sandboxes. */
  engine: string;
  /** Exit code of the last run of a container or sandbox (null: a signal or limit ended it). */
  exitCode?: number | null | undefined;
  /** Containers: hostname, init command, limits, OOM kills. */
  container?: WorkloadContainerSettings | undefined;
  /** Sandboxes: CPU time and memory limits, how the last run ended. */
  sandbox?: WorkloadSandboxSettings | undefined;
};

/** Input of `exec`. */
export interface ExecInput {
  command: string[];
  /** Bytes for the process's stdin (default: none). */
  stdin?: Uint8Array | undefined;
}

/** The engine label of a workload type. */
const WORKLOAD_ENGINE: Record<WorkloadType, string> = { container: 'runc', sandbox: 'wasi' };

/**
 * Instances: their records in the state store, their folders (`instances/<name>/disk.raw`), and their VMMs. Every
 * change is a {@link VmAction} checked by the lifecycle state machine before anything happens (a refused action is
 * a CONFLICT, never a failed operation); long work runs as an operation.
 */
export class InstanceManager {
  private readonly creating = new Set<string>();
  /**
   * Workloads being started (launch, start, the start half of a restart): the events they send meanwhile wait here
   * and are told once the start's own event (`instance-started`, `instance-restarted`) is out, so an init that ends
   * at once is told as stopped after it was told as started, never before and never not at all.
   */
  private readonly holds = new Map<string, { depth: number; events: WorkloadEvent[] }>();
  /** Workloads being stopped or deleted on request (also the stop half of a restart): their end is that request's event. */
  private readonly endsAsked = new Map<string, number>();
  /** Live VMMs and the lifecycle work on them. */
  readonly runtime: InstanceRuntime;

  constructor(private readonly deps: InstanceManagerDeps) {
    this.runtime = new InstanceRuntime(deps);
    for (const [type, backend] of this.backends()) {
      backend.onEvent((name, event) => this.workloadEvent(type, name, event));
    }
  }

  /** Turns what a workload did by itself into the instance events VMs emit (with the reason). */
  private workloadEvent(type: WorkloadType, name: string, event: WorkloadEvent): void {
    const hold = this.holds.get(name);
    if (hold) {
      hold.events.push(event);
      return;
    }
    const resource = `/1.0/instances/${name}`;
    if (event.kind === 'nic') {
      this.deps.events.emit('lifecycle', resource, {
        action: event.action === 'reattached' ? 'instance-nic-reattached' : 'instance-nic-lost',
        name,
        type,
        network: event.network,
        reason: event.reason,
      });
      return;
    }
    if (event.kind === 'oom') {
      this.deps.events.emit('lifecycle', resource, {
        action: 'instance-oom-kill',
        name,
        type,
        reason: event.reason,
        oomKills: event.oomKills,
      });
      return;
    }
    if (this.endsAsked.has(name)) return;
    this.deps.events.emit('lifecycle', resource, {
      action: 'instance-stopped',
      name,
      type,
      reason: event.reason,
      cause: event.cause,
      exitCode: event.exitCode,
    });
  }

  /** Runs `fn` (a stop or delete, or the stop half of a restart) with the workload's end counted as asked for. */
  private async askedEnd<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.endsAsked.set(name, (this.endsAsked.get(name) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (this.endsAsked.get(name) ?? 1) - 1;
      if (n > 0) this.endsAsked.set(name, n);
      else this.endsAsked.delete(name);
    }
  }

  /** From now on the events of workload `name` wait (see `holds`) until as many `release` calls as `hold` calls. */
  private hold(name: string): void {
    const h = this.holds.get(name);
    if (h) h.depth++;
    else this.holds.set(name, { depth: 1, events: [] });
  }

  /** Ends one `hold`; after the last, tells the waiting events in order (or forgets them with `drop`). */
  private release(type: WorkloadType, name: string, drop = false): void {
    const h = this.holds.get(name);
    if (!h) return;
    if (--h.depth > 0 && !drop) return;
    this.holds.delete(name);
    if (!drop) for (const event of h.events) this.workloadEvent(type, name, event);
  }

  /**
   * Starts workload `name` with its events held, emits `action` (`instance-started`, `instance-restarted`), then
   * tells what the new run did meanwhile. A start that fails tells them too (its run may have begun and ended).
   */
  private async heldStart(type: WorkloadType, name: string, backend: WorkloadBackend, action: string): Promise<void> {
    this.hold(name);
    try {
      await backend.start(name);
    } catch (err) {
      this.release(type, name);
      throw err;
    }
    this.deps.events.emit('lifecycle', `/1.0/instances/${name}`, { action, name, type });
    this.release(type, name);
  }

  /** Usage of a running container or sandbox; undefined when it is stopped or a VM. */
  async workloadUsage(name: string): Promise<WorkloadUsage | undefined> {
    const found = await this.workloadOf(name);
    return found ? found.backend.usage(name) : undefined;
  }

  /** The MAC and IPv4 address (no prefix length) of a container's NIC; nulls when it has none. */
  async workloadNic(name: string): Promise<{ mac: string | null; ipv4: string | null }> {
    const found = await this.workloadOf(name);
    const w = found ? await found.backend.info(name) : undefined;
    return { mac: w?.mac ?? null, ipv4: w?.ipv4?.split('/')[0] ?? null };
  }

  /** Every container and sandbox with its usage (undefined when stopped), for metrics. */
  async workloadUsages(): Promise<{ view: InstanceView; usage: WorkloadUsage | undefined }[]> {
    const out: { view: InstanceView; usage: WorkloadUsage | undefined }[] = [];
    for (const [type, backend] of this.backends()) {
      for (const w of await backend.list()) {
        const usage = w.status === 'stopped' ? undefined : await backend.usage(w.name).catch(() => undefined);
        out.push({ view: workloadView(type, w), usage });
      }
    }
    return out;
  }

  /** The folder of instance `name`. */
  instanceDir(name: string): string {
    checkInstanceName(name);
    return join(this.deps.home, 'instances', name);
  }

  /** Every instance. */
  list(): InstanceRecord[] {
    return this.deps.store.listInstances();
  }

  /** The instance `name`; NOT_FOUND naming it. */
  get(name: string): InstanceRecord {
    checkInstanceName(name);
    const r = this.deps.store.getInstance(name);
    if (!r) throw new StrataError('NOT_FOUND', `no instance named '${name}'`);
    return r;
  }

  /** Every instance of every type: VMs first, then containers and sandboxes. */
  async listAll(): Promise<InstanceView[]> {
    const out: InstanceView[] = this.list().map(vmView);
    for (const [type, backend] of this.backends()) {
      for (const w of await backend.list()) out.push(workloadView(type, w));
    }
    return out;
  }

  /** The instance `name` of any type; NOT_FOUND naming it. */
  async show(name: string): Promise<InstanceView> {
    checkInstanceName(name);
    const r = this.deps.store.getInstance(name);
    if (r) return vmView(r);
    const found = await this.workloadOf(name);
    if (!found) throw new StrataError('NOT_FOUND', `no instance named '${name}'`);
    return workloadView(found.type, await found.backend.info(name));
  }

  /** The container or sandbox named `name`, or undefined when there is none (a VM or nothing). */
  async workloadOf(name: string): Promise<{ type: WorkloadType; backend: WorkloadBackend } | undefined> {
    checkInstanceName(name);
    if (this.deps.store.getInstance(name)) return undefined;
    for (const [type, backend] of this.backends()) {
      if (await backend.has(name)) return { type, backend };
    }
    return undefined;
  }

  /** Runs `command` in a container; CONFLICT for VMs and sandboxes; the exit code is the process's. */
  async exec(name: string, input: ExecInput): Promise<WorkloadExecResult> {
    if (!Array.isArray(input.command) || input.command.length === 0) {
      throw fieldError('command', 'give the program and its arguments');
    }
    const found = await this.workloadOf(name);
    if (!found) {
      this.get(name);
      throw new StrataError('CONFLICT', `exec needs a container: '${name}' is a VM (use its console)`);
    }
    return found.backend.exec(name, input.command, input.stdin);
  }

  /**
   * The backend of the container or sandbox `name` for a file push or pull: NOT_FOUND when there is no such
   * instance, INVALID_ARGUMENT for a VM (its files live on its disk, inside the guest).
   */
  private async fileBackend(name: string): Promise<WorkloadBackend> {
    const found = await this.workloadOf(name);
    if (found) return found.backend;
    this.get(name);
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid instance: file push and pull are not supported for a vm ('${name}'): its files are on its disk, inside the guest`,
    );
  }

  /** Writes a file into a container's layer or a sandbox's folder, at `path` relative to its root. */
  async writeFile(name: string, path: string, bytes: Uint8Array): Promise<void> {
    const backend = await this.fileBackend(name);
    instancePathComponents(path);
    await backend.writeFile(name, path, bytes);
  }

  /** Reads a file of a container or of a sandbox's folder, at `path` relative to its root. */
  async readFile(name: string, path: string): Promise<Uint8Array> {
    const backend = await this.fileBackend(name);
    instancePathComponents(path);
    return backend.readFile(name, path);
  }

  /**
   * Changes the limits of an instance of any type. A VM takes `limits` (rate limits, CPU weight and quota); a
   * container memory, CPU weight and quota and pids, applied to its cgroups at once when it runs; a sandbox its
   * memory cap and CPU time budget, from its next run. A field the type does not have is refused naming it.
   */
  async patchAny(name: string, input: PatchInput): Promise<InstanceView> {
    const found = await this.workloadOf(name);
    if (!found) {
      for (const field of ['memory', 'pidsLimit', 'cpuTimeLimitMs'] as const) {
        if (input[field] !== undefined) throw fieldError(field, 'cannot be changed for a vm');
      }
      if (!input.limits) throw fieldError('limits', 'nothing to change');
      return vmView(await this.updateLimits(name, input.limits));
    }
    const patch = validateWorkloadPatch(input, found.type);
    await found.backend.updateLimits(name, patch);
    this.deps.events.emit('lifecycle', `/1.0/instances/${name}`, {
      action: 'instance-updated',
      name,
      type: found.type,
    });
    return workloadView(found.type, await found.backend.info(name));
  }

  /** Opens the console of a running instance of any type: the kept history, then live output to `listener`. */
  async openConsole(name: string, listener: (bytes: Uint8Array) => void): Promise<WorkloadConsole> {
    const found = await this.workloadOf(name);
    if (found) return found.backend.openConsole(name, listener);
    this.get(name);
    return this.runtime.openConsole(name, listener);
  }

  private backends(): [WorkloadType, WorkloadBackend][] {
    return Object.entries(this.deps.workloads ?? {}).filter((e): e is [WorkloadType, WorkloadBackend] => !!e[1]);
  }

  private async nameTaken(name: string): Promise<boolean> {
    if (this.creating.has(name) || this.deps.store.getInstance(name)) return true;
    for (const [, backend] of this.backends()) if (await backend.has(name)) return true;
    return false;
  }

  /** Creates (and starts) a container or sandbox as an operation; a failure leaves nothing behind. */
  private async createWorkload(input: CreateInstanceInput, type: WorkloadType): Promise<OperationView> {
    const spec = validateWorkloadCreate(input, type);
    const backend = this.deps.workloads?.[type];
    const why = backend ? await backend.unavailableReason() : 'not configured in this daemon';
    if (!backend || why) throw fieldError('type', `${type}s cannot run here: ${why}`);
    if (spec.network !== undefined && !(await this.deps.networkExists?.(spec.network))) {
      throw fieldError('network', `no network named '${spec.network}'`);
    }
    if (await this.nameTaken(spec.name)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid name: instance '${spec.name}' already exists`);
    }
    this.creating.add(spec.name);
    this.hold(spec.name);
    const resource = `/1.0/instances/${spec.name}`;
    return this.deps.operations.run('instance.launch', resource, async () => {
      try {
        await backend.launch(spec);
      } catch (err) {
        this.creating.delete(spec.name);
        // A launch that fails leaves no instance: nothing of it is told.
        this.release(type, spec.name, true);
        throw err;
      }
      this.deps.events.emit('lifecycle', resource, { action: 'instance-created', name: spec.name, type });
      this.deps.events.emit('lifecycle', resource, { action: 'instance-started', name: spec.name, type });
      this.creating.delete(spec.name);
      this.release(type, spec.name);
    });
  }

  /**
   * Creates an instance (and boots it when `start` is set). Everything a client can get wrong is checked before the
   * operation starts and fails with a message naming the field; the operation then makes the folder, the disk and
   * the row, and removes whatever it made if any step fails.
   */
  async create(input: CreateInstanceInput): Promise<OperationView> {
    const type = instanceTypeOf(input);
    if (type !== 'vm') return this.createWorkload(input, type);
    const spec = validateCreate(input);
    for (const [, backend] of this.backends()) {
      if (await backend.has(spec.name)) {
        throw new StrataError('INVALID_ARGUMENT', `invalid name: instance '${spec.name}' already exists`);
      }
    }
    if (this.creating.has(spec.name) || this.deps.store.getInstance(spec.name)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid name: instance '${spec.name}' already exists`);
    }
    const image = await this.deps.images.resolve(spec.image);
    if (!image) throw fieldError('image', `no image named '${spec.image}': pull it first (strata image pull)`);
    if (spec.network !== null && !(await this.deps.networkExists?.(spec.network))) {
      throw fieldError('network', `no network named '${spec.network}'`);
    }
    const engine = this.deps.engines.get(spec.engine);
    const why = engine ? await engine.unavailableReason() : 'not configured in this daemon';
    if (why) throw fieldError('engine', `the ${spec.engine} engine cannot run here: ${why}`);
    if (this.creating.has(spec.name) || this.deps.store.getInstance(spec.name)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid name: instance '${spec.name}' already exists`);
    }
    this.creating.add(spec.name);
    const resource = `/1.0/instances/${spec.name}`;
    return this.deps.operations.run(spec.start ? 'instance.launch' : 'instance.create', resource, async (ctx) => {
      const dir = this.instanceDir(spec.name);
      try {
        try {
          mkdirSync(join(this.deps.home, 'instances'), { recursive: true, mode: 0o700 });
          mkdirSync(dir, { recursive: false, mode: 0o700 });
          const disk = await open(join(dir, 'disk.raw'), 'wx', 0o600);
          try {
            await disk.truncate(spec.diskSizeBytes);
          } finally {
            await disk.close();
          }
          ctx.signal.throwIfAborted();
          const now = new Date().toISOString();
          this.deps.store.insertInstance({
            name: spec.name,
            id: randomUUID(),
            image: spec.image,
            engine: spec.engine,
            cpus: spec.cpus,
            memoryBytes: spec.memoryBytes,
            diskSizeBytes: spec.diskSizeBytes,
            network: spec.network,
            limits: spec.limits,
            status: 'stopped',
            statusReason: null,
            vmmPid: null,
            createdAt: now,
            updatedAt: now,
            lastStartedAt: null,
          });
        } catch (err) {
          rmSync(dir, { recursive: true, force: true });
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw new StrataError('ALREADY_EXISTS', `instance folder ${dir} already exists`);
          if (code === 'ENOSPC') throw new StrataError('NO_SPACE', `no space for instance '${spec.name}' in ${dir}`);
          if (code)
            throw new StrataError('IO', `cannot create instance '${spec.name}' in ${dir}: ${(err as Error).message}`);
          throw err;
        }
      } finally {
        this.creating.delete(spec.name);
      }
      this.deps.events.emit('lifecycle', resource, { action: 'instance-created', name: spec.name });
      if (spec.start) {
        this.deps.store.updateInstance(spec.name, { status: 'starting' });
        await this.runtime.start(spec.name, ctx.signal);
      }
    });
  }

  /** Applies a lifecycle action to an instance of any type (containers and sandboxes through their backend). */
  async actAny(name: string, action: LifecycleAction): Promise<OperationView> {
    const found = await this.workloadOf(name);
    if (!found) return this.act(name, action);
    const { backend, type } = found;
    const before = await backend.info(name);
    const refuse = (why: string) => new StrataError('CONFLICT', `cannot ${action.kind} ${type} '${name}': ${why}`);
    if (action.kind === 'start' && before.status !== 'stopped') throw refuse(`it is ${before.status}`);
    if (action.kind === 'pause' && before.status !== 'running') throw refuse(`it is ${before.status}`);
    if (action.kind === 'resume' && before.status !== 'paused') throw refuse(`it is ${before.status}`);
    const resource = `/1.0/instances/${name}`;
    return this.deps.operations.run(`instance.${action.kind}`, resource, async () => {
      switch (action.kind) {
        case 'start':
          return this.heldStart(type, name, backend, 'instance-started');
        case 'stop':
          await this.askedEnd(name, () => backend.stop(name, action.force));
          break;
        case 'restart':
          // The end the stop causes is the restart's; whatever the new run does is told after `instance-restarted`.
          await this.askedEnd(name, () => backend.stop(name, action.force));
          return this.heldStart(type, name, backend, 'instance-restarted');
        case 'pause':
          await backend.pause(name);
          break;
        case 'resume':
          await backend.resume(name);
          break;
      }
      const past = { stop: 'stopped', pause: 'paused', resume: 'resumed' };
      this.deps.events.emit('lifecycle', resource, { action: `instance-${past[action.kind]}`, name, type });
    });
  }

  /** Deletes an instance of any type (a running container or sandbox only with `force`). */
  async deleteAny(name: string, force: boolean): Promise<OperationView> {
    const found = await this.workloadOf(name);
    if (!found) return this.delete(name, force);
    const info = await found.backend.info(name);
    if (info.status !== 'stopped' && !force) {
      throw new StrataError('CONFLICT', `${found.type} '${name}' is ${info.status}: stop it first or use force`);
    }
    const resource = `/1.0/instances/${name}`;
    return this.deps.operations.run('instance.delete', resource, async () => {
      await this.askedEnd(name, () => found.backend.delete(name, force));
      this.deps.events.emit('lifecycle', resource, { action: 'instance-deleted', name, type: found.type });
    });
  }

  /** Applies a lifecycle action (start, stop, restart, pause, resume) as an operation. */
  act(name: string, action: LifecycleAction): OperationView {
    const r = this.get(name);
    const plan = planAction(name, r.status, action);
    this.deps.store.updateInstance(name, { status: plan.during });
    const resource = `/1.0/instances/${name}`;
    return this.deps.operations.run(`instance.${action.kind}`, resource, async (ctx) => {
      switch (action.kind) {
        case 'start':
          await this.runtime.start(name, ctx.signal);
          return;
        case 'stop':
          await this.runtime.stop(name, action.force, ctx.signal);
          return;
        case 'restart':
          if (plan.during === 'stopping') await this.runtime.stop(name, action.force, ctx.signal);
          this.deps.store.updateInstance(name, { status: 'starting' });
          await this.runtime.start(name, ctx.signal);
          return;
        case 'pause':
          await this.runtime.pause(name);
          return;
        case 'resume':
          await this.runtime.resume(name);
          return;
      }
    });
  }

  /** Deletes an instance: its VMM (only with `force` when running), its row and its folder. */
  delete(name: string, force: boolean): OperationView {
    const r = this.get(name);
    const plan = planAction(name, r.status, { kind: 'delete', force });
    if (plan.during !== r.status) this.deps.store.updateInstance(name, { status: plan.during });
    const resource = `/1.0/instances/${name}`;
    return this.deps.operations.run('instance.delete', resource, async (ctx) => {
      if (plan.needsVmm) await this.runtime.stop(name, true, ctx.signal);
      this.deps.store.deleteInstance(name);
      rmSync(this.instanceDir(name), { recursive: true, force: true });
      rmSync(this.runtime.runDir(name), { recursive: true, force: true });
      this.deps.controls.remove(name);
      this.deps.events.emit('lifecycle', resource, { action: 'instance-deleted', name });
    });
  }

  /**
   * Exports the root disk of a stopped instance to `exports/<name>-<time>.raw` under `$STRATA_HOME`, sparse, with
   * byte progress; the operation's result names the file. A cancelled or failed export leaves no file.
   */
  export(name: string): OperationView {
    const r = this.get(name);
    planAction(name, r.status, { kind: 'export' });
    const dir = join(this.deps.home, 'exports');
    const dest = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.raw`);
    return this.deps.operations.run('instance.export', `/1.0/instances/${name}`, async (ctx) => {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const sizeBytes = await exportRawDisk(join(this.instanceDir(name), 'disk.raw'), dest, ctx.progress, ctx.signal);
      this.deps.events.emit('lifecycle', `/1.0/instances/${name}`, { action: 'instance-exported', name, path: dest });
      return { path: dest, sizeBytes: String(sizeBytes) };
    });
  }

  /** Changes the resource limits; a running VMM gets the new rate limits and cgroup values at once. */
  async updateLimits(name: string, limits: Partial<InstanceLimits>): Promise<InstanceRecord> {
    const r = this.get(name);
    const plan = planAction(name, r.status, { kind: 'update-limits' });
    const next = validateLimits(limits, r.limits);
    const updated = this.deps.store.updateInstance(name, { limits: next });
    if (plan.needsVmm) await this.runtime.applyLimits(updated);
    this.deps.events.emit('lifecycle', `/1.0/instances/${name}`, { action: 'instance-updated', name });
    return updated;
  }
}

/** A VM's record as an instance view. */
function vmView(r: InstanceRecord): InstanceView {
  return { ...r, type: 'vm' };
}

/** A container or sandbox in the instance shape (VM-only fields get neutral values). */
function workloadView(type: WorkloadType, w: WorkloadView): InstanceView {
  return {
    name: w.name,
    id: `${type}:${w.name}`,
    type,
    image: w.image,
    engine: WORKLOAD_ENGINE[type],
    status: w.status,
    statusReason: w.statusReason,
    cpus: 1,
    memoryBytes: Math.max(1, w.memoryBytes),
    diskSizeBytes: 1,
    network: w.network ?? null,
    limits: {
      cpuWeight: w.container?.cpuWeight ?? 100,
      cpuQuotaPercent: w.container?.cpuQuotaPercent ?? 0,
      diskIops: 0,
      diskBytesPerSec: 0,
      nicBytesPerSec: 0,
    },
    vmmPid: w.pid,
    createdAt: w.createdAt,
    updatedAt: w.createdAt,
    lastStartedAt: null,
    ...(w.exitCode !== undefined ? { exitCode: w.exitCode } : {}),
    ...(w.container ? { container: w.container } : {}),
    ...(w.sandbox ? { sandbox: w.sandbox } : {}),
  };
}

export type {
  ImageBootFiles,
  ImageResolver,
  InstanceManagerDeps,
  InstanceType,
  WorkloadBackend,
  WorkloadType,
  WorkloadView,
} from './instance-deps.js';
