import { StrataError } from '../base/errors.js';
import { WasmHart } from '../machine/cpu/wasm-hart.js';
import type { CharBackend, CharInputListener, Clock } from '../machine/devices/ports.js';
import { VirtMachine } from '../machine/virt-machine.js';
import { type SteppableMachine, type VmExit, VmRunner } from './vm-runner.js';

/** A named input file of a VM. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** What to boot: memory, firmware, kernel, initrd, command line, and whether HTIF reports the result. */
export interface LocalVmSpec {
  memoryBytes: number;
  kernel: NamedBytes;
  initrd?: NamedBytes | undefined;
  firmware?: NamedBytes | undefined;
  cmdline: string;
  htif: boolean;
}

/** How the host side of a local VM is wired. */
export interface LocalVmHost {
  /** The compiled hart (build/hart.wasm). */
  hartModule: WebAssembly.Module;
  /** Receives everything the guest writes to its serial console. */
  onConsoleOutput: (bytes: Uint8Array) => void;
  /** Stops the VM (the run then ends with `{ kind: 'aborted' }`). */
  signal?: AbortSignal;
  /** The host clock (default: performance.now and Date.now). */
  clock?: Clock;
}

/** A VM running on this host's event loop. */
export interface LocalVm {
  /** Sends bytes to the guest's console, held until the guest's serial driver is ready to receive them. */
  sendInput(bytes: Uint8Array): void;
  /** Bytes of console input not yet taken by the guest. */
  pendingInputBytes(): number;
  /** Settles when the guest powers off, fails, faults, reports through HTIF, or the signal aborts. */
  done: Promise<VmExit>;
  /** The machine (for figures and tests). */
  machine: VirtMachine;
  runner: VmRunner;
}

/** The host's real clocks. */
export const hostClock: Clock = {
  monotonicNs: () => Math.round(performance.now() * 1e6),
  wallClockNs: () => Date.now() * 1e6,
};

/** Receive FIFO depth of the 16550A: input is handed over at most this much at a time. */
const UART_FIFO_BYTES = 16;

/**
 * Builds a `virt` machine on the WebAssembly hart and runs it on the event loop. Bad inputs (malformed kernel,
 * firmware or initrd, too little memory) throw before anything runs. A guest reset reboots the machine in place.
 *
 * Console input is flow-controlled like a real serial line with hardware handshake: bytes wait on the host side
 * until the guest's driver has enabled the receive interrupt and has room in the receive FIFO, so input piped in
 * before the guest is ready is neither lost nor overruns the FIFO.
 */
export function startLocalVm(spec: LocalVmSpec, host: LocalVmHost): LocalVm {
  let inputListener: CharInputListener | null = null;
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const console: CharBackend = {
    write: (bytes) => host.onConsoleOutput(bytes.slice()),
    setInputListener: (listener) => {
      inputListener = listener;
    },
  };
  const clock = host.clock ?? hostClock;
  const machine = VirtMachine.create(
    {
      memoryBytes: spec.memoryBytes,
      kernel: spec.kernel.bytes,
      kernelName: spec.kernel.name,
      initrd: spec.initrd?.bytes,
      initrdName: spec.initrd?.name,
      firmware: spec.firmware?.bytes,
      firmwareName: spec.firmware?.name,
      cmdline: spec.cmdline,
      console,
      clock,
    },
    (mmio, ramBytes) =>
      WasmHart.create(host.hartModule, {
        ramBytes,
        mmio,
        nowTicks: () => clock.monotonicNs() / 100,
      }),
  );

  const feedInput = () => {
    if (!inputListener || pendingBytes === 0) return;
    if (!machine.uart.receiveInterruptEnabled) return;
    let room = UART_FIFO_BYTES - machine.uart.queuedInputBytes;
    while (room > 0 && pending.length > 0) {
      const head = pending[0]!;
      const n = Math.min(room, head.length);
      inputListener(head.subarray(0, n));
      room -= n;
      pendingBytes -= n;
      if (n === head.length) pending.shift();
      else pending[0] = head.subarray(n);
    }
  };

  let rebooting = false;
  const steppable: SteppableMachine = {
    step(budget) {
      feedInput();
      const reason = machine.step(budget);
      feedInput();
      return reason;
    },
    ticksUntilNextEvent() {
      const t = machine.ticksUntilNextEvent();
      // While input waits for FIFO room, look again soon (the guest drains the FIFO in its interrupt handler).
      return pendingBytes > 0 && machine.uart.receiveInterruptEnabled ? Math.min(t, 10_000) : t;
    },
    exitState() {
      const htif = machine.htifResult;
      if (htif) return { kind: 'htif', value: htif.toHost };
      const s = machine.powerState;
      if (s === 'running') return undefined;
      if (s === 'poweroff') return { kind: 'poweroff' };
      if (s === 'reset') {
        rebooting = true;
        return undefined;
      }
      return { kind: 'fail', code: s.fail };
    },
    faultText: () => machine.hart.faultText(),
    htifValue: () => machine.hart.htifToHost(),
  };
  if (spec.htif && machine.layout.tohostAddr === undefined) {
    machine.dispose();
    throw new StrataError('INVALID_ARGUMENT', `kernel '${spec.kernel.name}' has no 'tohost' symbol: --htif needs one`);
  }

  const runner = new VmRunner(
    {
      ...steppable,
      step(budget) {
        if (rebooting) {
          rebooting = false;
          machine.reset();
        }
        return steppable.step(budget);
      },
    },
    { signal: host.signal },
  );
  const done = runner.run().finally(() => machine.dispose());
  return {
    sendInput(bytes) {
      if (bytes.length === 0) return;
      pending.push(bytes.slice());
      pendingBytes += bytes.length;
      runner.wake();
    },
    pendingInputBytes: () => pendingBytes,
    done,
    machine,
    runner,
  };
}
