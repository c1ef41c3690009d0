import { StrataError } from '../base/errors.js';
import {
  PLIC_CONTEXTS_PER_HART,
  PLIC_SOURCE_COUNT,
  VIRT_IRQ,
  VIRT_MEMMAP,
  VIRTIO_SLOT_COUNT,
  virtioSlotBase,
} from './board/virt-memmap.js';
import { type BootImages, type BootLayout, planBoot } from './boot-layout.js';
import { Bus } from './bus.js';
import { type HartPort, type MmioHandler, StopReason } from './cpu/hart-port.js';
import { GoldfishRtc, type GoldfishRtcState } from './devices/goldfish-rtc.js';
import type { IrqLine, MmioDevice } from './devices/mmio-device.js';
import { Plic, type PlicState } from './devices/plic.js';
import type { CharBackend, Clock } from './devices/ports.js';
import { type PowerEvent, SifiveTest } from './devices/sifive-test.js';
import { Uart16550a, type UartState } from './devices/uart-16550a.js';
import { VirtioMmioEmptySlot } from './devices/virtio-mmio-empty.js';

/** The machine's power state: running, or stopped by the guest (test device or HTIF) until the VMM acts. */
export type PowerState = 'running' | 'poweroff' | 'reset' | { readonly fail: number };

/** What a bare-metal program reported through HTIF `tohost`. */
export interface HtifResult {
  /** The raw value written to `tohost`. */
  readonly toHost: number;
  /** riscv-tests convention: `tohost = (code << 1) | 1`; 0 means pass. */
  readonly exitCode: number;
}

/**
 * Saved state of the board's own devices (version 1), JSON-safe. RAM, the hart and attached virtio devices are
 * saved by their owners.
 */
export interface VirtBoardState {
  readonly version: 1;
  readonly powerState: PowerState;
  readonly htifResult?: HtifResult;
  readonly plic: PlicState;
  readonly uart: UartState;
  readonly rtc: GoldfishRtcState;
}

/** Everything the `virt` machine is built from (the hart comes from `CreateHart`). */
export interface VirtMachineConfig extends BootImages {
  /** Receives the console UART's output and supplies its input. */
  readonly console: CharBackend;
  readonly clock: Clock;
  /** Called on every change of `powerState` away from 'running' (guest poweroff, reset, failure, HTIF exit). */
  readonly onPowerEvent?: (state: PowerState) => void;
  /** Bound of buffered console input (default 64 KiB); excess input is dropped. */
  readonly consoleInputQueueBytes?: number;
  /**
   * Called when an attached device finished host I/O outside a `step` (its interrupt is raised): the VMM should end
   * a WFI sleep and step again.
   */
  readonly onDeviceWake?: () => void;
}

/** Builds the hart over the bus: `ram` of the returned hart must be exactly `ramBytes` long. */
export type CreateHart = (mmio: MmioHandler, ramBytes: number) => HartPort;

/** What a device plugged into a virtio-mmio slot gets from the machine. */
export interface VirtioSlotContext {
  readonly slot: number;
  /** Physical base of the slot's register window. */
  readonly base: number;
  /** The slot's PLIC line. */
  readonly irq: IrqLine;
  /** Guest RAM (physical `ramBase` at index 0), for virtqueue and buffer access. */
  readonly ram: Uint8Array;
  readonly ramBase: number;
  /** Tells the VMM that the device raised an interrupt from host I/O (ends a WFI sleep). Cheap; call freely. */
  readonly wake: () => void;
}

/**
 * A device plugged into the machine. Besides its registers it may ask to be serviced between hart slices
 * (`service`, with `ticksUntilEvent` saying when it next needs it) and to be told of machine resets.
 */
export interface AttachedDevice extends MmioDevice {
  service?(): void;
  ticksUntilEvent?(): number;
  reset?(): void;
}

/**
 * QEMU's `virt` board around one hart: bus, PLIC, 16550A console, Goldfish RTC, SiFive test device and eight
 * virtio-mmio slots (empty until `attachVirtioDevice`), loaded per `planBoot` (firmware mode or bare-metal mode).
 * The CLINT lives in the hart. Built by `VirtMachine.create`, which validates every image before anything runs.
 *
 * Driving it is the VMM's job: call `step(budget)` in a loop; after each call look at `powerState` (and at
 * `htifResult` in bare-metal mode); when the hart stops for WFI, wait about `ticksUntilNextEvent()` timebase ticks
 * or until console input arrives. The guest's poweroff/reset/fail request takes effect at the end of the current
 * `step`; from then on `step` runs nothing until `reset()`.
 */
export class VirtMachine {
  readonly bus: Bus;
  readonly plic: Plic;
  readonly uart: Uart16550a;
  readonly rtc: GoldfishRtc;
  readonly test: SifiveTest;
  readonly hart: HartPort;
  /** Where the images, the DTB and the fw_dynamic_info were placed. */
  readonly layout: BootLayout;
  private readonly attached: AttachedDevice[] = [];
  private state: PowerState = 'running';
  private htif: HtifResult | undefined;

  private constructor(
    private readonly config: VirtMachineConfig,
    layout: BootLayout,
    createHart: CreateHart,
  ) {
    this.layout = layout;
    let hart: HartPort | undefined;
    // The PLIC exists before the hart (the hart is built over the bus), so its outputs reach the hart late-bound.
    this.plic = new Plic(PLIC_SOURCE_COUNT, PLIC_CONTEXTS_PER_HART, (context, asserted) => {
      hart?.setExternalInterrupt(context % PLIC_CONTEXTS_PER_HART === 0 ? 'machine' : 'supervisor', asserted);
    });
    this.uart = new Uart16550a(config.console, this.plic.line(VIRT_IRQ.uart0), config.consoleInputQueueBytes);
    this.rtc = new GoldfishRtc(config.clock, this.plic.line(VIRT_IRQ.rtc));
    this.test = new SifiveTest((event) => this.onPowerEvent(event));

    this.bus = new Bus();
    this.bus.map('test', VIRT_MEMMAP.test, this.test);
    this.bus.map('rtc', VIRT_MEMMAP.rtc, this.rtc);
    this.bus.map('plic', VIRT_MEMMAP.plic, this.plic);
    this.bus.map('uart0', VIRT_MEMMAP.uart0, this.uart);
    for (let n = 0; n < VIRTIO_SLOT_COUNT; n++) {
      this.bus.map(
        `virtio${n}`,
        { base: virtioSlotBase(n), sizeBytes: VIRT_MEMMAP.virtio.sizeBytes },
        new VirtioMmioEmptySlot(),
      );
    }

    this.hart = createHart(this.bus, layout.ramBytes);
    if (this.hart.ram.length !== layout.ramBytes) {
      throw new StrataError(
        'INTERNAL',
        `the hart's RAM is ${this.hart.ram.length} bytes but the machine asked for ${layout.ramBytes}`,
      );
    }
    hart = this.hart;
    config.console.setInputListener((bytes) => this.pushConsoleInput(bytes));
    this.boot();
  }

  /**
   * Validates `config` and lays out the boot (throws INVALID_ARGUMENT naming the bad file and why), builds the
   * board, asks `createHart` for the hart over the bus, loads RAM and sets the hart at its reset vector.
   */
  static create(config: VirtMachineConfig, createHart: CreateHart): VirtMachine {
    return new VirtMachine(config, planBoot(config), createHart);
  }

  /** 'running', or what the guest asked for last. */
  get powerState(): PowerState {
    return this.state;
  }

  /** The HTIF exit a bare-metal program reported, if any. */
  get htifResult(): HtifResult | undefined {
    return this.htif;
  }

  /**
   * Runs the hart for about `budget` instructions with the devices serviced before and after (UART receive
   * timeout, RTC alarm, attached devices, console output flushed). Returns the hart's stop reason; when the machine
   * is not running it runs nothing and returns StopReason.Wfi.
   */
  step(budget: number): StopReason {
    if (this.state !== 'running') return StopReason.Wfi;
    this.service();
    const reason = this.hart.run(budget);
    if (reason === StopReason.Htif) this.onHtif();
    this.service();
    return reason;
  }

  /**
   * Timebase ticks (10 MHz) until something needs the machine: the hart's next timer interrupt, an RTC alarm, a
   * UART receive timeout or an attached device's event. 0 means step again now; Infinity means only host input
   * (or nothing, when the machine is not running) can wake it.
   */
  ticksUntilNextEvent(): number {
    if (this.state !== 'running') return Number.POSITIVE_INFINITY;
    let ticks = Math.min(this.hart.ticksUntilTimer(), this.uart.ticksUntilEvent(), this.rtc.ticksUntilEvent());
    for (const d of this.attached) if (d.ticksUntilEvent) ticks = Math.min(ticks, d.ticksUntilEvent());
    return Math.max(0, ticks);
  }

  /** Queues host bytes for the console UART (bounded; excess is dropped and shows as an overrun to the guest). */
  pushConsoleInput(bytes: Uint8Array): void {
    this.uart.pushInput(bytes);
  }

  /**
   * Plugs a device into virtio-mmio slot `slot` (0..7, at `virtioSlotBase(slot)`, PLIC line `VIRT_IRQ.virtio0 +
   * slot`), replacing the empty slot. `create` receives the slot's IRQ line and guest RAM. Throws INVALID_ARGUMENT
   * for a slot number outside 0..7 and CONFLICT for a slot already taken.
   */
  attachVirtioDevice(slot: number, create: (context: VirtioSlotContext) => AttachedDevice): AttachedDevice {
    if (!Number.isInteger(slot) || slot < 0 || slot >= VIRTIO_SLOT_COUNT) {
      throw new StrataError('INVALID_ARGUMENT', `virtio-mmio slot ${slot} is outside 0..${VIRTIO_SLOT_COUNT - 1}`);
    }
    const name = `virtio${slot}`;
    if (!(this.bus.device(name) instanceof VirtioMmioEmptySlot)) {
      throw new StrataError('CONFLICT', `virtio-mmio slot ${slot} already has a device`);
    }
    const device = create({
      slot,
      base: virtioSlotBase(slot),
      irq: this.plic.line(VIRT_IRQ.virtio0 + slot),
      ram: this.hart.ram,
      ramBase: this.layout.ramBase,
      wake: () => this.config.onDeviceWake?.(),
    });
    this.bus.replace(name, device);
    this.attached.push(device);
    return device;
  }

  /** Restarts the machine as if powered on again: devices reset, RAM cleared and reloaded, hart at its reset vector. */
  reset(): void {
    this.uart.reset();
    this.rtc.reset();
    this.plic.reset();
    for (const d of this.attached) d.reset?.();
    this.hart.ram.fill(0);
    this.state = 'running';
    this.htif = undefined;
    this.boot();
  }

  /** The board's device state (PLIC, UART, RTC, power state) as a plain, versioned object. */
  saveBoard(): VirtBoardState {
    return {
      version: 1,
      powerState: this.state,
      ...(this.htif ? { htifResult: this.htif } : {}),
      plic: this.plic.save(),
      uart: this.uart.save(),
      rtc: this.rtc.save(),
    };
  }

  /**
   * Restores `saveBoard()` output into this machine (built from the same config) and re-drives the hart's
   * external interrupt lines. Throws INVALID_ARGUMENT for another version.
   */
  restoreBoard(state: VirtBoardState): void {
    if (state.version !== 1) {
      throw new StrataError('INVALID_ARGUMENT', `board state version ${state.version} is not 1`);
    }
    this.plic.restore(state.plic);
    this.uart.restore(state.uart);
    this.rtc.restore(state.rtc);
    this.state = state.powerState;
    this.htif = state.htifResult;
    for (let ctx = 0; ctx < PLIC_CONTEXTS_PER_HART; ctx++) {
      this.hart.setExternalInterrupt(ctx === 0 ? 'machine' : 'supervisor', this.plic.outputAsserted(ctx));
    }
  }

  /** Detaches the console input listener; the machine must not be stepped afterwards. */
  dispose(): void {
    this.uart.flush();
    this.config.console.setInputListener(null);
  }

  private boot(): void {
    const { layout, hart } = this;
    layout.load(hart.ram);
    hart.reset(layout.resetPc);
    // QEMU virt boot protocol: a0 = hart id, a1 = DTB, a2 = fw_dynamic_info (RISC-V psABI: a0..a2 are x10..x12).
    hart.setReg(10, 0);
    hart.setReg(11, layout.dtbAddr);
    hart.setReg(12, layout.dynamicInfoAddr);
    if (layout.tohostAddr !== undefined) hart.setHtif(layout.tohostAddr);
    for (let ctx = 0; ctx < PLIC_CONTEXTS_PER_HART; ctx++) {
      hart.setExternalInterrupt(ctx === 0 ? 'machine' : 'supervisor', this.plic.outputAsserted(ctx));
    }
  }

  private service(): void {
    this.uart.service();
    this.rtc.service();
    for (const d of this.attached) d.service?.();
  }

  private onHtif(): void {
    const toHost = this.hart.htifToHost();
    const addr = this.layout.tohostAddr;
    if (addr !== undefined) {
      // Acknowledge by clearing tohost, so a program that waits for the host to consume the value goes on.
      this.hart.ram.fill(0, addr - this.layout.ramBase, addr - this.layout.ramBase + 8);
    }
    // riscv-tests HTIF: bit 0 set means "exit with code tohost >> 1"; other commands (syscalls, console) are not
    // emulated and are dropped.
    if (toHost % 2 !== 1) return;
    const exitCode = Math.floor(toHost / 2);
    this.htif = { toHost, exitCode };
    this.setState(exitCode === 0 ? 'poweroff' : { fail: exitCode });
  }

  private onPowerEvent(event: PowerEvent): void {
    this.setState(event.kind === 'fail' ? { fail: event.code } : event.kind);
  }

  private setState(state: PowerState): void {
    if (this.state !== 'running') return;
    this.state = state;
    this.uart.flush();
    this.config.onPowerEvent?.(state);
  }
}
