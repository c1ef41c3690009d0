import { StrataError } from '../../base/errors.js';
import type { IrqLine, MmioDevice } from './mmio-device.js';
import type { CharBackend } from './ports.js';

// Register offsets (reg-shift 0, as the `virt` device tree announces) and bits, from the 16550A datasheet.
const UART_RX = 0; // RBR (read, DLAB=0) / THR (write, DLAB=0) / DLL (DLAB=1)
const UART_IER = 1; // IER (DLAB=0) / DLM (DLAB=1)
const UART_IIR = 2; // IIR (read) / FCR (write)
const UART_LCR = 3;
const UART_MCR = 4;
const UART_LSR = 5;
const UART_MSR = 6;
const UART_SCR = 7;

const UART_IER_RDI = 0x01;
const UART_IER_THRI = 0x02;
const UART_IER_RLSI = 0x04;
const UART_IER_MSI = 0x08;

const UART_IIR_NO_INT = 0x01;
const UART_IIR_MSI = 0x00;
const UART_IIR_THRI = 0x02;
const UART_IIR_RDI = 0x04;
const UART_IIR_RLSI = 0x06;
const UART_IIR_RX_TIMEOUT = 0x0c;
const UART_IIR_FIFO_ENABLED = 0xc0;

const UART_FCR_ENABLE_FIFO = 0x01;
const UART_FCR_CLEAR_RCVR = 0x02;

const UART_LCR_DLAB = 0x80;

const UART_MCR_DTR = 0x01;
const UART_MCR_RTS = 0x02;
const UART_MCR_OUT1 = 0x04;
const UART_MCR_OUT2 = 0x08;
const UART_MCR_LOOP = 0x10;

const UART_LSR_DR = 0x01;
/** Consecutive LSR reads with no byte sent after which the guest counts as polling for input. */
const POLLING_FOR_INPUT_READS = 256;
const UART_LSR_OE = 0x02;
const UART_LSR_THRE = 0x20;
const UART_LSR_TEMT = 0x40;

const UART_MSR_CTS = 0x10;
const UART_MSR_DSR = 0x20;
const UART_MSR_RI = 0x40;
const UART_MSR_DCD = 0x80;
const UART_MSR_DELTA_MASK = 0x0f;

/** Depth of the 16550A's receive and transmit FIFOs. */
const FIFO_DEPTH = 16;
/** Receive FIFO trigger levels selected by FCR bits 7:6 (16550A datasheet, FCR). */
const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Transmitted bytes are handed to the backend in batches of at most this many, and at every `service()`. */
const TX_BATCH_BYTES = 256;

/** Saved state of the UART (version 1): its registers and the queued host input, oldest byte first. */
export interface UartState {
  readonly version: 1;
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  readonly scr: number;
  readonly dll: number;
  readonly dlm: number;
  readonly fifoEnabled: boolean;
  readonly rxTrigger: number;
  readonly lsrErrors: number;
  readonly msrDelta: number;
  readonly thrInterruptPending: boolean;
  readonly rxTimeout: boolean;
  readonly rxTimeoutArmed: boolean;
  readonly input: readonly number[];
}

/** Default bound of the host-input queue behind the receive FIFO. */
export const UART_DEFAULT_INPUT_QUEUE_BYTES = 64 * 1024;

/**
 * A 16550A UART as Linux's 8250 driver (compatible "ns16550a") and OpenSBI's console expect it.
 *
 * Transmission is instantaneous: the transmitter is always empty (LSR.THRE and LSR.TEMT always set) and a write of
 * THR goes straight to `console.write` (batched, flushed by `service()`). Received bytes come from the host through
 * `pushInput` and wait in a bounded queue whose first 16 bytes play the receive FIFO; bytes beyond the bound are
 * dropped and reported as an overrun (LSR.OE). Interrupts follow the datasheet priorities (line status, received
 * data or character timeout, THR empty, modem status); the THR-empty interrupt is cleared by reading IIR while it
 * is the reported source or by writing THR, and is re-armed when IER.THRI goes from 0 to 1, which is how Linux
 * starts transmission. The character timeout (data below the trigger level, not read for a while) is signalled at
 * the next `service()` after the data arrived or was last read. Never throws at the guest.
 */
export class Uart16550a implements MmioDevice {
  private readonly queue: Uint8Array;
  private head = 0;
  private count = 0;
  private droppedBytes = 0;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifoEnabled = false;
  private rxTrigger = 1;
  private lsrErrors = 0;
  private msrDelta = 0;
  private thrInterruptPending = false;
  private rxTimeout = false;
  private rxTimeoutArmed = false;

  private readonly txBuffer = new Uint8Array(TX_BATCH_BYTES);
  private txCount = 0;
  private lsrPollsWithoutOutput = 0;

  /** `irq` is the UART's PLIC line; `inputQueueBytes` bounds buffered host input (default 64 KiB). */
  constructor(
    private readonly console: CharBackend,
    private readonly irq: IrqLine,
    inputQueueBytes: number = UART_DEFAULT_INPUT_QUEUE_BYTES,
  ) {
    this.queue = new Uint8Array(Math.max(FIFO_DEPTH, inputQueueBytes));
  }

  /** Bytes of host input dropped because the queue was full, since construction. */
  get droppedInputBytes(): number {
    return this.droppedBytes;
  }

  /** Bytes of host input waiting (the receive FIFO included). */
  get queuedInputBytes(): number {
    return this.count;
  }

  /**
   * True once the guest's driver has enabled the received-data interrupt (IER.ERBFI): the sign that it is ready to
   * take input. A host that holds input until then (hardware-handshake style) loses nothing to the FIFO resets a
   * driver does while it probes and starts the port.
   */
  get receiveInterruptEnabled(): boolean {
    return (this.ier & UART_IER_RDI) !== 0;
  }

  /**
   * True while the guest polls the line status register without transmitting: a driver that reads input by
   * polling (a bare-metal program, firmware, the SBI console) rather than by interrupt. Output loops read LSR once
   * per byte they send, and a driver probing the port reads it a few times, so neither looks like this.
   */
  get pollingForInput(): boolean {
    return this.lsrPollsWithoutOutput >= POLLING_FOR_INPUT_READS;
  }

  /** Queues host input for the guest. Bytes beyond the queue's bound are dropped and flagged as an overrun. */
  pushInput(bytes: Uint8Array): void {
    for (const b of bytes) this.enqueue(b);
    this.update();
  }

  /**
   * Periodic service, called by the machine between hart slices: turns an armed receive timeout into the
   * character-timeout interrupt and hands batched output to the backend.
   */
  service(): void {
    if (this.rxTimeoutArmed) {
      this.rxTimeoutArmed = false;
      this.rxTimeout = this.count > 0;
      this.update();
    }
    this.flush();
  }

  /** 0 when `service()` has work that can raise an interrupt, otherwise Infinity (the UART has no timers). */
  ticksUntilEvent(): number {
    return this.rxTimeoutArmed && (this.ier & UART_IER_RDI) !== 0 ? 0 : Number.POSITIVE_INFINITY;
  }

  /** Hands buffered guest output to the backend. */
  flush(): void {
    if (this.txCount === 0) return;
    this.console.write(this.txBuffer.slice(0, this.txCount));
    this.txCount = 0;
  }

  /** Back to the power-on state; queued input is discarded, pending output is flushed. */
  reset(): void {
    this.flush();
    this.head = 0;
    this.lsrPollsWithoutOutput = 0;
    this.count = 0;
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.dll = 0;
    this.dlm = 0;
    this.fifoEnabled = false;
    this.rxTrigger = 1;
    this.lsrErrors = 0;
    this.msrDelta = 0;
    this.thrInterruptPending = false;
    this.rxTimeout = false;
    this.rxTimeoutArmed = false;
    this.update();
  }

  /** The registers and queued input as a plain, versioned object (pending output is flushed first). */
  save(): UartState {
    this.flush();
    const input: number[] = [];
    for (let i = 0; i < this.count; i++) input.push(this.queue[(this.head + i) % this.queue.length] ?? 0);
    return {
      version: 1,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifoEnabled: this.fifoEnabled,
      rxTrigger: this.rxTrigger,
      lsrErrors: this.lsrErrors,
      msrDelta: this.msrDelta,
      thrInterruptPending: this.thrInterruptPending,
      rxTimeout: this.rxTimeout,
      rxTimeoutArmed: this.rxTimeoutArmed,
      input: input,
    };
  }

  /** Restores `save()` output (input beyond this UART's queue bound is dropped). Throws INVALID_ARGUMENT for another version. */
  restore(state: UartState): void {
    if (state.version !== 1) throw new StrataError('INVALID_ARGUMENT', `UART state version ${state.version} is not 1`);
    this.ier = state.ier & 0x0f;
    this.lcr = state.lcr & 0xff;
    this.mcr = state.mcr & 0x1f;
    this.scr = state.scr & 0xff;
    this.dll = state.dll & 0xff;
    this.dlm = state.dlm & 0xff;
    this.fifoEnabled = state.fifoEnabled;
    this.rxTrigger = state.rxTrigger;
    this.lsrErrors = state.lsrErrors;
    this.msrDelta = state.msrDelta;
    this.thrInterruptPending = state.thrInterruptPending;
    this.head = 0;
    this.count = Math.min(state.input.length, this.queue.length);
    this.queue.set(state.input.slice(0, this.count));
    this.rxTimeout = state.rxTimeout;
    this.rxTimeoutArmed = state.rxTimeoutArmed;
    this.update();
  }

  read(offset: number, _size: number): number {
    const dlab = (this.lcr & UART_LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RX:
        return dlab ? this.dll : this.readRbr();
      case UART_IER:
        return dlab ? this.dlm : this.ier;
      case UART_IIR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR: {
        const lsr = this.lsr();
        if (this.lsrPollsWithoutOutput < POLLING_FOR_INPUT_READS) this.lsrPollsWithoutOutput++;
        // Reading LSR clears the error bits (16550A datasheet, LSR).
        if (this.lsrErrors !== 0) {
          this.lsrErrors = 0;
          this.update();
        }
        return lsr;
      }
      case UART_MSR: {
        const msr = this.msrLines() | this.msrDelta;
        if (this.msrDelta !== 0) {
          this.msrDelta = 0;
          this.update();
        }
        return msr;
      }
      case UART_SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & UART_LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RX:
        if (dlab) this.dll = v;
        else this.writeThr(v);
        return;
      case UART_IER:
        if (dlab) {
          this.dlm = v;
          return;
        }
        // 16550A datasheet, IIR: enabling the THRE interrupt while THR is empty raises it at once.
        if ((v & UART_IER_THRI) !== 0 && (this.ier & UART_IER_THRI) === 0) this.thrInterruptPending = true;
        this.ier = v & 0x0f;
        this.update();
        return;
      case UART_IIR:
        this.writeFcr(v);
        return;
      case UART_LCR:
        this.lcr = v;
        return;
      case UART_MCR: {
        const before = this.msrLines();
        this.mcr = v & 0x1f;
        this.noteMsrChange(before, this.msrLines());
        return;
      }
      case UART_SCR:
        this.scr = v;
        return;
      default:
        // LSR and MSR are read-only (their writes are factory-test features); other offsets do not exist.
        return;
    }
  }

  private enqueue(b: number): void {
    if (this.count >= this.queue.length) {
      this.droppedBytes++;
      this.lsrErrors |= UART_LSR_OE;
      return;
    }
    this.queue[(this.head + this.count) % this.queue.length] = b;
    this.count++;
    this.rxTimeoutArmed = true;
  }

  private readRbr(): number {
    if (this.count === 0) return 0;
    const b = this.queue[this.head] ?? 0;
    this.head = (this.head + 1) % this.queue.length;
    this.count--;
    // Reading a character resets the timeout timer; the timeout indication itself is cleared.
    this.rxTimeout = false;
    this.rxTimeoutArmed = this.count > 0;
    this.update();
    return b;
  }

  private writeThr(v: number): void {
    this.lsrPollsWithoutOutput = 0;
    if ((this.mcr & UART_MCR_LOOP) !== 0) {
      this.enqueue(v);
    } else {
      this.txBuffer[this.txCount++] = v;
      if (this.txCount === TX_BATCH_BYTES) this.flush();
    }
    // Writing THR clears the THRE interrupt; the byte leaves at once, so THR is empty again and it re-arms.
    this.thrInterruptPending = true;
    this.update();
  }

  private writeFcr(v: number): void {
    const enable = (v & UART_FCR_ENABLE_FIFO) !== 0;
    // 16550A datasheet, FCR: changing bit 0 clears both FIFOs; other bits are only written while it is set.
    if (enable !== this.fifoEnabled) this.clearRxFifo();
    this.fifoEnabled = enable;
    if (!enable) {
      this.rxTrigger = 1;
    } else {
      if ((v & UART_FCR_CLEAR_RCVR) !== 0) this.clearRxFifo();
      this.rxTrigger = RX_TRIGGER_LEVELS[(v >> 6) & 3] ?? 1;
    }
    this.update();
  }

  /** Discards what sits in the receive FIFO: the first 16 queued bytes (host input behind it is kept). */
  private clearRxFifo(): void {
    const n = Math.min(this.count, FIFO_DEPTH);
    this.head = (this.head + n) % this.queue.length;
    this.count -= n;
    this.rxTimeout = false;
    this.rxTimeoutArmed = this.count > 0;
  }

  private lsr(): number {
    return (this.count > 0 ? UART_LSR_DR : 0) | this.lsrErrors | UART_LSR_THRE | UART_LSR_TEMT;
  }

  /** Modem status lines: in loopback they follow MCR (datasheet, MCR bit 4); otherwise the host side is "ready". */
  private msrLines(): number {
    if ((this.mcr & UART_MCR_LOOP) === 0) return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    return (
      ((this.mcr & UART_MCR_RTS) !== 0 ? UART_MSR_CTS : 0) |
      ((this.mcr & UART_MCR_DTR) !== 0 ? UART_MSR_DSR : 0) |
      ((this.mcr & UART_MCR_OUT1) !== 0 ? UART_MSR_RI : 0) |
      ((this.mcr & UART_MCR_OUT2) !== 0 ? UART_MSR_DCD : 0)
    );
  }

  private noteMsrChange(before: number, after: number): void {
    const changed = before ^ after;
    if (changed === 0) return;
    // Delta bits: DCTS, DDSR, TERI (RI went from 1 to 0), DDCD.
    if (changed & UART_MSR_CTS) this.msrDelta |= 0x01;
    if (changed & UART_MSR_DSR) this.msrDelta |= 0x02;
    if (changed & UART_MSR_RI && (after & UART_MSR_RI) === 0) this.msrDelta |= 0x04;
    if (changed & UART_MSR_DCD) this.msrDelta |= 0x08;
    this.msrDelta &= UART_MSR_DELTA_MASK;
    this.update();
  }

  /** The interrupt identification the datasheet's priority order gives now (without side effects). */
  private currentInterrupt(): number {
    if ((this.ier & UART_IER_RLSI) !== 0 && this.lsrErrors !== 0) return UART_IIR_RLSI;
    if ((this.ier & UART_IER_RDI) !== 0 && this.count > 0) {
      if (Math.min(this.count, FIFO_DEPTH) >= (this.fifoEnabled ? this.rxTrigger : 1)) return UART_IIR_RDI;
      if (this.rxTimeout) return UART_IIR_RX_TIMEOUT;
    }
    if ((this.ier & UART_IER_THRI) !== 0 && this.thrInterruptPending) return UART_IIR_THRI;
    if ((this.ier & UART_IER_MSI) !== 0 && this.msrDelta !== 0) return UART_IIR_MSI;
    return UART_IIR_NO_INT;
  }

  private readIir(): number {
    const id = this.currentInterrupt();
    // Reading IIR while it reports THR empty clears that interrupt (16550A datasheet, interrupt control table).
    if (id === UART_IIR_THRI) {
      this.thrInterruptPending = false;
      this.update();
    }
    return id | (this.fifoEnabled ? UART_IIR_FIFO_ENABLED : 0);
  }

  private update(): void {
    // OUT2 gates the interrupt output on PC-style boards; QEMU's virt ignores it and so does this board.
    this.irq.setLevel(this.currentInterrupt() !== UART_IIR_NO_INT);
  }
}
