import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { planAction, type VmAction } from '../../hypervisor/vm-action.js';
import { exportRawDisk } from './disk-export.js';
import type { InstanceManagerDeps } from './instance-deps.js';
import { InstanceRuntime } from './instance-runtime.js';
import {
  type CreateInstanceInput,
  checkInstanceName,
  fieldError,
  validateCreate,
  validateLimits,
} from './instance-validation.js';
import type { OperationView } from './operations.js';
import type { InstanceLimits, InstanceRecord } from './state-store.js';

/** The actions `act` applies (delete, limits and export have their own methods). */
export type LifecycleAction = Exclude<VmAction, { kind: 'delete' } | { kind: 'update-limits' } | { kind: 'export' }>;

/**
 * Instances: their records in the state store, their folders (`instances/<name>/disk.raw`), and their VMMs. Every
 * change is a {@link VmAction} checked by the lifecycle state machine before anything happens (a refused action is
 * a CONFLICT, never a failed operation); long work runs as an operation.
 */
export class InstanceManager {
  private readonly creating = new Set<string>();
  /** Live VMMs and the lifecycle work on them. */
  readonly runtime: InstanceRuntime;

  constructor(private readonly deps: InstanceManagerDeps) {
    this.runtime = new InstanceRuntime(deps);
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

  /**
   * Creates an instance (and boots it when `start` is set). Everything a client can get wrong is checked before the
   * operation starts and fails with a message naming the field; the operation then makes the folder, the disk and
   * the row, and removes whatever it made if any step fails.
   */
  async create(input: CreateInstanceInput): Promise<OperationView> {
    const spec = validateCreate(input);
    if (this.creating.has(spec.name) || this.deps.store.getInstance(spec.name)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid name: instance '${spec.name}' already exists`);
    }
    const image = await this.deps.images.resolve(spec.image);
    if (!image) throw fieldError('image', `no image named '${spec.image}': pull it first (strata image pull)`);
    if (spec.network !== null && !(await this.deps.networkExists?.(spec.network))) {
      throw fieldError('network', `no network named '${spec.network}'`);
    }
    if (spec.network !== null && spec.engine !== 'builtin') {
      throw fieldError('network', `networks are supported on the builtin engine only, not on ${spec.engine}`);
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

export type { ImageBootFiles, ImageResolver, InstanceManagerDeps } from './instance-deps.js';
