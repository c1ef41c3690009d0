import type { VmmExit, VmmRateLimits, VmmState, VmmStats } from '../../src/hypervisor/vmm-protocol.js';
import type {
  ConsoleListener,
  ConsoleSubscription,
  Engine,
  EngineName,
  EngineVmSpec,
  VmHandle,
} from '../../src/services/instances/engine.js';

/** Pids above Linux's largest pid_max (2^22): a kill aimed at one can never hit a real process. */
let nextPid = 2 ** 22 + 1000;

/**
 * A VM of the fake engine: boots at once, prints a prompt, echoes console input, and can be made to crash. Lets API
 * and CLI tests drive the whole daemon in milliseconds.
 */
export class FakeVm implements VmHandle {
  readonly pid = nextPid++;
  vmmState: VmmState = 'configured';
  limits: VmmRateLimits;
  private history = '';
  private readonly viewers = new Set<ConsoleListener>();
  private readonly goneListeners = new Set<(e: VmmExit) => void>();
  private goneExit: VmmExit | undefined;
  private readonly enders = new Set<() => void>();

  constructor(readonly spec: EngineVmSpec) {
    this.limits = spec.limits;
  }

  private emit(text: string): void {
    this.history += text;
    const bytes = new TextEncoder().encode(text);
    for (const v of this.viewers) v(bytes);
  }

  async start(): Promise<void> {
    this.vmmState = 'running';
    this.emit(`fake boot of ${this.spec.name}\r\n# `);
  }
  async pause(): Promise<void> {
    this.vmmState = 'paused';
  }
  async resume(): Promise<void> {
    this.vmmState = 'running';
  }
  async stop(): Promise<void> {
    this.end({ kind: 'stopped', reason: 'stopped' });
  }
  async state(): Promise<VmmState> {
    return this.vmmState;
  }
  async stats(): Promise<VmmStats> {
    return {
      state: this.vmmState,
      pid: this.pid,
      guestMemoryBytes: this.spec.memoryBytes,
      rssBytes: 1024,
      cpuSeconds: 0.5,
      diskReadBytes: 1,
      diskWriteBytes: 2,
      diskReadOps: 3,
      diskWriteOps: 4,
      nicRxBytes: 5,
      nicTxBytes: 6,
      consoleBytes: this.history.length,
    };
  }
  async setLimits(limits: VmmRateLimits): Promise<void> {
    this.limits = limits;
  }
  async subscribeConsole(listener: ConsoleListener): Promise<ConsoleSubscription> {
    this.viewers.add(listener);
    let end = () => {};
    const ended = new Promise<void>((r) => {
      end = r;
    });
    this.enders.add(end);
    return {
      history: new TextEncoder().encode(this.history),
      close: () => {
        this.viewers.delete(listener);
        end();
      },
      ended,
    };
  }
  async sendConsole(bytes: Uint8Array): Promise<void> {
    this.emit(new TextDecoder().decode(bytes));
  }
  onGone(listener: (exit: VmmExit) => void): void {
    if (this.goneExit) listener(this.goneExit);
    else this.goneListeners.add(listener);
  }
  detach(): void {}

  /** Ends the VM as a crash (or any exit) would. */
  end(exit: VmmExit): void {
    if (this.goneExit) return;
    this.vmmState = 'exited';
    this.goneExit = exit;
    for (const e of this.enders) e();
    for (const l of this.goneListeners) l(exit);
  }
}

/** An engine whose VMs live in this process (see FakeVm); `attach` finds VMs of an earlier daemon in the same process. */
export class FakeEngine implements Engine {
  readonly vms = new Map<string, FakeVm>();
  /** How long `create` takes (a slow VMM start), unless its signal aborts first. */
  createDelayMs = 0;

  constructor(readonly name: EngineName = 'builtin') {}

  async unavailableReason(): Promise<string | undefined> {
    return undefined;
  }
  async create(spec: EngineVmSpec, signal?: AbortSignal): Promise<VmHandle> {
    if (this.createDelayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.createDelayMs);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    }
    const vm = new FakeVm(spec);
    this.vms.set(spec.runDir, vm);
    return vm;
  }
  async attach(runDir: string): Promise<VmHandle | { gone: VmmExit }> {
    const vm = this.vms.get(runDir);
    if (!vm || vm.vmmState === 'exited') return { gone: { kind: 'error', reason: 'fake VMM gone' } };
    return vm;
  }
  /** The VM of instance `name`. */
  vm(name: string): FakeVm | undefined {
    return [...this.vms.values()].reverse().find((v) => v.spec.name === name);
  }
}
