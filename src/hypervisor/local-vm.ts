import { StrataError } from '../base/errors.js';
import { VIRTIO_SLOT_COUNT } from '../machine/board/virt-memmap.js';
import { StopReason } from '../machine/cpu/hart-port.js';
import { WasmHart } from '../machine/cpu/wasm-hart.js';
import type { CharBackend, CharInputListener, Clock } from '../machine/devices/ports.js';
import type { BlockBackend } from '../machine/ports/block-backend.js';
import type { NetBackend } from '../machine/ports/net-backend.js';
import { VirtMachine } from '../machine/virt-machine.js';
import { VirtioBlk } from '../machine/virtio/virtio-blk.js';
import { VirtioConsole } from '../machine/virtio/virtio-console.js';
import { VirtioMmioTransport } from '../machine/virtio/virtio-mmio.js';
import { VirtioNet } from '../machine/virtio/virtio-net.js';
import { VirtioRng } from '../machine/virtio/virtio-rng.js';
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
  /**
   * Disks, attached as virtio-blk devices in virtio-mmio slots 0, 1, … in this order (the guest's vda, vdb, …).
   * The caller opened them and closes them after `done` settles.
   */
  disks?: readonly BlockBackend[] | undefined;
  /** Attaches a virtio entropy device (in the last virtio-mmio slot), fed by Web Crypto. */
  entropy?: boolean | undefined;
  /**
   * Attaches a virtio console (the guest's /dev/hvc0) over this backend, in the highest virtio-mmio slot left
   * free by the entropy device. The serial console stays the kernel's console.
   */
  virtioConsole?: CharBackend | undefined;
  /**
   * Network cards, attached as virtio-net devices in the highest virtio-mmio slots left free by the entropy device
   * and the virtio console, in order (the first NIC in the lowest of them: the guest's eth0). The caller opened the backends and closes them after `done`.
   */
  nics?: readonly LocalVmNic[] | undefined;
}

/** One network card of a local VM. */
export interface LocalVmNic {
  backend: NetBackend;
  /** The guest's MAC (6 bytes); default the backend's, else a random locally administered one. */
  mac?: Uint8Array | undefined;
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
  /** While this returns true no guest instruction runs (pause): the run loop idles until `runner.wake()`. */
  paused?: () => boolean;
}

/** A VM running on this host's event loop. */
export interface LocalVm {
  /** Sends bytes to the guest's console, held until the guest's serial driver is ready to receive them. */
  sendInput(bytes: Uint8Array): void;
  /** Bytes of console input not yet taken by the guest. */
  pendingInputBytes(): number;
  /**
   * Settles when the guest powers off, fails, faults, reports through HTIF, or the signal aborts, and the virtio
   * devices have no host I/O in flight any more (so the disks may be closed).
   */
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
 * until the guest takes input (its driver enabled the receive interrupt, or it polls the line status for input)
 * and has room in the receive FIFO, so input piped in
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
  const disks = spec.disks ?? [];
  const nics = spec.nics ?? [];
  const diskSlots = VIRTIO_SLOT_COUNT - (spec.entropy ? 1 : 0) - (spec.virtioConsole ? 1 : 0) - nics.length;
  if (disks.length > diskSlots) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${disks.length} disks and ${nics.length} NICs given: this machine has ${VIRTIO_SLOT_COUNT} virtio slots` +
        `${spec.entropy ? ' (one for the entropy device)' : ''}`,
    );
  }
  // The runner exists only after the machine; devices that finish host I/O wake it through this late binding.
  let runner: VmRunner | undefined;
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
      onDeviceWake: () => runner?.wake(),
    },
    (mmio, ramBytes) =>
      WasmHart.create(host.hartModule, {
        ramBytes,
        mmio,
        nowTicks: () => clock.monotonicNs() / 100,
      }),
  );

  // The guest takes console input once its driver enabled the receive interrupt, or while it polls for input.
  const guestTakesInput = () => machine.uart.receiveInterruptEnabled || machine.uart.pollingForInput;

  const feedInput = () => {
    if (!inputListener || pendingBytes === 0) return;
    if (!guestTakesInput()) return;
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
      if (host.paused?.()) return StopReason.Wfi;
      feedInput();
      const reason = machine.step(budget);
      feedInput();
      return reason;
    },
    ticksUntilNextEvent() {
      if (host.paused?.()) return Number.POSITIVE_INFINITY;
      const t = machine.ticksUntilNextEvent();
      // While input waits for FIFO room, look again soon (the guest drains the FIFO in its interrupt handler).
      return pendingBytes > 0 && guestTakesInput() ? Math.min(t, 10_000) : t;
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
  };
  if (spec.htif && machine.layout.tohostAddr === undefined) {
    machine.dispose();
    throw new StrataError('INVALID_ARGUMENT', `kernel '${spec.kernel.name}' has no 'tohost' symbol: --htif needs one`);
  }

  const transports: VirtioMmioTransport[] = [];
  disks.forEach((disk, slot) => {
    machine.attachVirtioDevice(slot, (ctx) => {
      const t = new VirtioMmioTransport(ctx, new VirtioBlk(disk));
      transports.push(t);
      return t;
    });
  });
  // Other devices take slots from the top, so disks keep slots 0.. and their vda, vdb, … names.
  let topSlot = VIRTIO_SLOT_COUNT - 1;
  if (spec.entropy) {
    machine.attachVirtioDevice(topSlot--, (ctx) => new VirtioMmioTransport(ctx, new VirtioRng()));
  }
  let hvc: VirtioConsole | undefined;
  if (spec.virtioConsole) {
    const backend = spec.virtioConsole;
    machine.attachVirtioDevice(topSlot--, (ctx) => {
      hvc = new VirtioConsole(backend);
      return new VirtioMmioTransport(ctx, hvc);
    });
  }

  // Linux probes virtio-mmio devices from the lowest slot up, so the first NIC takes the lowest of the slots left
  // for NICs and becomes eth0.
  const nets: VirtioNet[] = [];
  const firstNicSlot = topSlot - nics.length + 1;
  topSlot -= nics.length;
  for (const [i, nic] of nics.entries()) {
    machine.attachVirtioDevice(firstNicSlot + i, (ctx) => {
      const net = new VirtioNet(nic.backend, nic.mac ? { mac: nic.mac } : {});
      nets.push(net);
      return new VirtioMmioTransport(ctx, net);
    });
  }

  const vmRunner = new VmRunner(
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
  runner = vmRunner;
  const done = vmRunner.run().finally(async () => {
    machine.dispose();
    hvc?.dispose();
    for (const n of nets) n.dispose();
    await Promise.all(transports.map((t) => t.settled()));
  });
  return {
    sendInput(bytes) {
      if (bytes.length === 0) return;
      pending.push(bytes.slice());
      pendingBytes += bytes.length;
      vmRunner.wake();
    },
    pendingInputBytes: () => pendingBytes,
    done,
    machine,
    runner: vmRunner,
  };
}
