import { readFileSync } from 'node:fs';
import type { VmmExit, VmmRateLimits, VmmState, VmmStats } from '../../hypervisor/vmm-protocol.js';
import type { ConsoleListener, ConsoleSubscription, VmHandle } from './engine.js';
import { VmmClient } from './vmm-client.js';

/** How the handle learns why a VMM process ended, when the daemon is its parent. */
export type ProcessExitInfo = Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>;

/**
 * A VM driven over the VMM protocol (the builtin engine's `strata vmm` process). The control connection watches
 * the VMM: when it closes, the exit record (`exit.json`) says how the guest ended; without one the VMM crashed, and
 * the reason names the pid and, when this daemon started it, the signal or exit code.
 */
export class VmmHandle implements VmHandle {
  private readonly goneListeners = new Set<(exit: VmmExit) => void>();
  private goneExit: VmmExit | undefined;
  private detached = false;

  constructor(
    private readonly control: VmmClient,
    private readonly exitFile: string,
    private readonly processExit?: ProcessExitInfo,
  ) {
    control.onClose(() => void this.onControlClosed());
  }

  get pid(): number {
    return this.control.pid;
  }

  private async onControlClosed(): Promise<void> {
    if (this.detached) return;
    const info = await Promise.race([
      this.processExit ?? Promise.resolve(undefined),
      new Promise<undefined>((r) => setTimeout(r, 2000)),
    ]);
    const recorded = readExitRecord(this.exitFile);
    const how = info?.signal
      ? `was killed by ${info.signal}`
      : info
        ? `exited with code ${info.code}`
        : 'ended without recording why (crashed or killed)';
    const exit: VmmExit = recorded ?? { kind: 'error', reason: `the VMM process (pid ${this.pid}) ${how}` };
    this.goneExit = exit;
    for (const l of this.goneListeners) l(exit);
    this.goneListeners.clear();
  }

  async start(): Promise<void> {
    await this.control.call({ op: 'start' });
  }

  async pause(): Promise<void> {
    await this.control.call({ op: 'pause' });
  }

  async resume(): Promise<void> {
    await this.control.call({ op: 'resume' });
  }

  async stop(force: boolean, signal?: AbortSignal): Promise<void> {
    if (this.control.isClosed) return;
    const gone = new Promise<void>((resolve) => this.onGone(() => resolve()));
    await this.control.call({ op: 'shutdown' }).catch(() => {
      // The VMM may close the connection before its answer arrives: being gone is what we asked for.
    });
    // A VMM that does not end in time is killed: with force at once after a short grace, else after a longer one.
    const graceMs = force ? 3000 : 15_000;
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // Already gone: the close of the control connection reports it.
      }
    }, graceMs);
    try {
      await abortable(gone, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async state(): Promise<VmmState> {
    const r = await this.control.call<{ state: VmmState }>({ op: 'state' });
    return r.state;
  }

  stats(): Promise<VmmStats> {
    return this.control.call<VmmStats>({ op: 'stats' });
  }

  async setLimits(limits: VmmRateLimits): Promise<void> {
    await this.control.call({ op: 'configure', config: { limits } });
  }

  async subscribeConsole(listener: ConsoleListener): Promise<ConsoleSubscription> {
    // One connection per viewer: its history answer and live output arrive in order on that connection.
    const viewer = await VmmClient.connect(this.control.socketPath);
    viewer.onEvent((e) => {
      if (e.event === 'console') listener(new Uint8Array(Buffer.from(e.data, 'base64')));
    });
    try {
      const r = await viewer.call<{ history: string }>({ op: 'console.subscribe' });
      const ended = new Promise<void>((resolve) => viewer.onClose(resolve));
      return { history: new Uint8Array(Buffer.from(r.history, 'base64')), close: () => viewer.close(), ended };
    } catch (err) {
      viewer.close();
      throw err;
    }
  }

  async sendConsole(bytes: Uint8Array): Promise<void> {
    await this.control.call({ op: 'console.input', data: Buffer.from(bytes).toString('base64') });
  }

  onGone(listener: (exit: VmmExit) => void): void {
    if (this.goneExit) listener(this.goneExit);
    else this.goneListeners.add(listener);
  }

  detach(): void {
    this.detached = true;
    this.control.close();
  }
}

/** The exit record a VMM wrote when its guest ended, or undefined. */
export function readExitRecord(path: string): VmmExit | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as VmmExit;
    if (typeof v.kind === 'string' && typeof v.reason === 'string') return { kind: v.kind, reason: v.reason };
  } catch {
    // No record (the VMM is running or crashed) or a torn one (it crashed while writing): both mean "no record".
  }
  return undefined;
}

/** Waits for `p`, or rejects with ABORTED-style reason when `signal` aborts first. */
export function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
