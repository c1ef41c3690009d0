import { TIMEBASE_FREQUENCY_HZ } from '../machine/board/virt-memmap.js';
import { StopReason } from '../machine/cpu/hart-port.js';

/** How a machine's power ended, as the runner reports it. */
export type VmExit =
  | { kind: 'poweroff' }
  | { kind: 'reset' }
  | { kind: 'fail'; code: number }
  | { kind: 'htif'; value: number }
  | { kind: 'fault'; reason: string }
  | { kind: 'aborted' };

/** What the runner needs of a machine: run a slice, say when the next timer event is, say if power ended. */
export interface SteppableMachine {
  /** Runs the hart for about `budget` instructions and services the devices. */
  step(budget: number): StopReason;
  /** `mtime` ticks until the next timer interrupt the hart can take (Infinity when none). */
  ticksUntilNextEvent(): number;
  /** The exit once the guest has powered off, reset, or failed; undefined while it runs. */
  exitState(): VmExit | undefined;
  /** Text describing a hart fault. */
  faultText(): string;
}

/** Knobs of the run loop. */
export interface VmRunnerOptions {
  /** Instructions per `step()` call. */
  sliceInstructions?: number;
  /** Wall time the loop runs before it yields to the host event loop (console input, I/O). */
  yieldEveryMs?: number;
  /** Longest single host sleep while the guest idles, so devices are looked at now and then. */
  maxSleepMs?: number;
  /** Ends the run with `{ kind: 'aborted' }`. */
  signal?: AbortSignal;
  /** Monotonic milliseconds (injected for tests). */
  nowMs?: () => number;
}

/**
 * Drives one machine on the host's event loop: runs slices of guest instructions, yields to the event loop every
 * few milliseconds so host I/O reaches the devices, and turns guest idleness (WFI) into a host sleep that ends at
 * the next timer deadline or when `wake()` is called (host input arrived). An idle guest so costs almost no host
 * CPU, and guest time follows real time.
 */
export class VmRunner {
  private wakeResolve: (() => void) | undefined;
  private readonly slice: number;
  private readonly yieldEveryMs: number;
  private readonly maxSleepMs: number;
  private readonly nowMs: () => number;
  /** Milliseconds spent sleeping in WFI so far (for idle figures). */
  idleMs = 0;

  constructor(
    private readonly machine: SteppableMachine,
    private readonly opts: VmRunnerOptions = {},
  ) {
    this.slice = opts.sliceInstructions ?? 200_000;
    this.yieldEveryMs = opts.yieldEveryMs ?? 15;
    this.maxSleepMs = opts.maxSleepMs ?? 50;
    this.nowMs = opts.nowMs ?? (() => performance.now());
  }

  /** Ends a WFI sleep early: call it when the host has new input for a device. */
  wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  }

  /** Runs until the guest powers off, resets, fails, reports through HTIF, faults, or the signal aborts. */
  async run(): Promise<VmExit> {
    const signal = this.opts.signal;
    const onAbort = () => this.wake();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const sliceStart = this.nowMs();
        let idle = false;
        while (this.nowMs() - sliceStart < this.yieldEveryMs) {
          const reason = this.machine.step(this.slice);
          const exit = this.machine.exitState();
          if (exit) return exit;
          // An HTIF stop that did not end the machine (a command other than exit) needs nothing from the runner.
          if (reason === StopReason.Fault) return { kind: 'fault', reason: this.machine.faultText() };
          if (reason === StopReason.Wfi) {
            idle = true;
            break;
          }
        }
        if (signal?.aborted) return { kind: 'aborted' };
        if (idle) {
          const ticks = this.machine.ticksUntilNextEvent();
          const ms = Math.min(this.maxSleepMs, (ticks * 1000) / TIMEBASE_FREQUENCY_HZ);
          if (ms >= 0.5) await this.sleep(ms);
          else await yieldToHost();
        } else {
          await yieldToHost();
        }
        if (signal?.aborted) return { kind: 'aborted' };
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private sleep(ms: number): Promise<void> {
    const start = this.nowMs();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeResolve = undefined;
        self.idleMs += self.nowMs() - start;
        resolve();
      }
      this.wakeResolve = done;
    });
  }
}

/** Lets pending host I/O callbacks run (setImmediate runs after I/O polling). */
function yieldToHost(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
