// The instance events of containers and sandboxes, with a scripted WorkloadBackend: what a workload does by itself
// during a launch, start or restart is told after that request's own event, in order, and never lost; the end a
// stop, restart or delete causes is that request's event, not an `instance-stopped` of its own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StrataError } from '../../base/errors.js';
import { EventLog } from './event-log.js';
import type { WorkloadBackend, WorkloadEvent, WorkloadView } from './instance-deps.js';
import { InstanceManager } from './instance-manager.js';
import { OperationManager } from './operations.js';
import { StateStore } from './state-store.js';

type Step = (tell: (event: WorkloadEvent) => void) => void;

const exited = (code: number): WorkloadEvent => ({
  kind: 'ended',
  exitCode: code,
  cause: 'exit',
  reason: `exited with code ${code}`,
});

/**
 * A container backend that keeps one workload's status and runs a scripted step inside start and stop, before they
 * resolve, as the real backends tell the end of a run from inside its stop and the quick end of an init from
 * inside its start.
 */
class ScriptedBackend implements WorkloadBackend {
  status: WorkloadView['status'] | undefined;
  onStart: Step[] = [];
  onStop: Step[] = [];
  failStart: string | undefined;
  private listener: ((name: string, event: WorkloadEvent) => void) | undefined;

  constructor(private readonly name: string) {}

  /** Sends `event` as the backend does when something happens by itself. */
  tell(event: WorkloadEvent): void {
    if (event.kind === 'ended') this.status = 'stopped';
    this.listener?.(this.name, event);
  }

  onEvent(listener: (name: string, event: WorkloadEvent) => void): void {
    this.listener = listener;
  }
  async unavailableReason(): Promise<string | undefined> {
    return undefined;
  }
  async has(name: string): Promise<boolean> {
    return name === this.name && this.status !== undefined;
  }
  async list(): Promise<WorkloadView[]> {
    return this.status ? [await this.info(this.name)] : [];
  }
  async info(name: string): Promise<WorkloadView> {
    if (name !== this.name || !this.status) throw new StrataError('NOT_FOUND', `no container '${name}'`);
    return {
      name,
      status: this.status,
      image: 'busybox',
      pid: null,
      memoryBytes: 0,
      createdAt: '2026-01-01T00:00:00.000Z',
      statusReason: null,
    };
  }
  async launch(): Promise<void> {
    this.status = 'running';
    await this.run(this.onStart);
  }
  async start(): Promise<void> {
    this.status = 'running';
    await this.run(this.onStart);
    if (this.failStart) throw new StrataError('UNAVAILABLE', this.failStart);
  }
  async stop(): Promise<void> {
    const wasRunning = this.status !== 'stopped';
    this.status = 'stopped';
    if (wasRunning) await this.run(this.onStop);
  }
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async delete(): Promise<void> {
    await this.stop();
    this.status = undefined;
  }
  async exec(): Promise<never> {
    throw new Error('not scripted');
  }
  async openConsole(): Promise<never> {
    throw new Error('not scripted');
  }
  async writeFile(): Promise<void> {}
  async readFile(): Promise<Uint8Array> {
    return new Uint8Array();
  }
  async updateLimits(): Promise<void> {}
  async usage(): Promise<undefined> {
    return undefined;
  }

  private async run(steps: Step[]): Promise<void> {
    for (const step of steps) {
      // A turn of the event loop between steps, as between the runtime's callbacks.
      await new Promise((r) => setImmediate(r));
      step((event) => this.tell(event));
    }
  }
}

function setup(t: { after: (fn: () => void) => void }, name: string) {
  const home = mkdtempSync(join(tmpdir(), 'im-events-'));
  const store = new StateStore(join(home, 'state.db'));
  const events = new EventLog(store);
  const operations = new OperationManager(store, events);
  const backend = new ScriptedBackend(name);
  const manager = new InstanceManager({
    home,
    store,
    events,
    operations,
    engines: new Map(),
    images: { resolve: async () => undefined },
    controls: {
      support: { kind: 'none', summary: 'none' },
      apply: () => [],
      throttledSeconds: () => undefined,
      remove: () => {},
    },
    workloads: { container: backend },
  });
  t.after(() => {
    store.close();
    rmSync(home, { recursive: true, force: true });
  });
  /** The lifecycle events of the workload so far: action, and the reason when there is one. */
  const told = () =>
    events
      .after(0)
      .filter((e) => e.type === 'lifecycle' && e.resource === `/1.0/instances/${name}`)
      .map((e) => {
        const d = e.data as { action: string; reason?: string };
        return d.reason ? `${d.action}: ${d.reason}` : d.action;
      });
  const done = async (op: { id: string }) => {
    const end = await operations.wait(op.id, 5000);
    return end.status;
  };
  return { manager, backend, told, done };
}

test('an init that ends right after a restart started it is told as stopped, after instance-restarted', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-r1');
  assert.equal(await done(await manager.create({ name: 'ev-r1', type: 'container', image: 'busybox' })), 'success');
  // The stop half ends the old run (told from inside the stop); the new run's init exits at once, before the start
  // half has returned.
  backend.onStop = [(tell) => tell({ kind: 'ended', exitCode: null, cause: 'signal', reason: 'ended by SIGTERM' })];
  backend.onStart = [(tell) => tell(exited(3))];
  assert.equal(await done(await manager.actAny('ev-r1', { kind: 'restart', force: false })), 'success');
  assert.deepEqual(told(), [
    'instance-created',
    'instance-started',
    'instance-restarted',
    'instance-stopped: exited with code 3',
  ]);
  assert.equal((await manager.show('ev-r1')).status, 'stopped', 'the list says stopped, and so did an event');
});

test('an end during a start is told after instance-started, an OOM kill before it in its order', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-s1');
  assert.equal(await done(await manager.create({ name: 'ev-s1', type: 'container', image: 'busybox' })), 'success');
  assert.equal(await done(await manager.actAny('ev-s1', { kind: 'stop', force: false })), 'success');
  backend.onStart = [
    (tell) => tell({ kind: 'oom', oomKills: 1, reason: 'OOM kill: a process went past the memory limit' }),
    (tell) => tell(exited(0)),
  ];
  assert.equal(await done(await manager.actAny('ev-s1', { kind: 'start' })), 'success');
  assert.deepEqual(told(), [
    'instance-created',
    'instance-started',
    'instance-stopped',
    'instance-started',
    'instance-oom-kill: OOM kill: a process went past the memory limit',
    'instance-stopped: exited with code 0',
  ]);
});

test('a launch whose init ends at once: created, started, then stopped with the reason', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-l1');
  backend.onStart = [(tell) => tell(exited(1))];
  assert.equal(await done(await manager.create({ name: 'ev-l1', type: 'container', image: 'busybox' })), 'success');
  assert.deepEqual(told(), ['instance-created', 'instance-started', 'instance-stopped: exited with code 1']);
});

test('the end a stop or delete causes is that request event only; a later end by itself is told', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-p1');
  assert.equal(await done(await manager.create({ name: 'ev-p1', type: 'container', image: 'busybox' })), 'success');
  backend.onStop = [(tell) => tell({ kind: 'ended', exitCode: null, cause: 'signal', reason: 'ended by SIGTERM' })];
  assert.equal(await done(await manager.actAny('ev-p1', { kind: 'stop', force: false })), 'success');
  backend.onStart = [];
  assert.equal(await done(await manager.actAny('ev-p1', { kind: 'start' })), 'success');
  backend.tell(exited(9));
  assert.equal(await done(await manager.actAny('ev-p1', { kind: 'start' })), 'success');
  assert.equal(await done(await manager.deleteAny('ev-p1', true)), 'success');
  assert.deepEqual(told(), [
    'instance-created',
    'instance-started',
    'instance-stopped',
    'instance-started',
    'instance-stopped: exited with code 9',
    'instance-started',
    'instance-deleted',
  ]);
});

test('a start that fails still tells the end of the run it began', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-f1');
  assert.equal(await done(await manager.create({ name: 'ev-f1', type: 'container', image: 'busybox' })), 'success');
  assert.equal(await done(await manager.actAny('ev-f1', { kind: 'stop', force: false })), 'success');
  backend.onStart = [(tell) => tell({ kind: 'ended', exitCode: null, cause: 'signal', reason: 'ended by SIGKILL' })];
  backend.failStart = 'no address from the network';
  assert.equal(await done(await manager.actAny('ev-f1', { kind: 'start' })), 'failure');
  assert.deepEqual(told(), [
    'instance-created',
    'instance-started',
    'instance-stopped',
    'instance-stopped: ended by SIGKILL',
  ]);
});

test('a NIC re-attach or loss of a running container becomes an instance event with the network', async (t) => {
  const { manager, backend, told, done } = setup(t, 'ev-n1');
  assert.equal(await done(await manager.create({ name: 'ev-n1', type: 'container', image: 'busybox' })), 'success');
  backend.tell({ kind: 'nic', action: 'reattached', network: 'lan', reason: 'its TAP bridge helper (pid 7) ended' });
  backend.tell({ kind: 'nic', action: 'lost', network: 'lan', reason: 'no more tries' });
  assert.deepEqual(told().slice(2), [
    'instance-nic-reattached: its TAP bridge helper (pid 7) ended',
    'instance-nic-lost: no more tries',
  ]);
});
