import type { CharBackend } from '../devices/ports.js';
import { writeToChain } from './chain-io.js';
import { featureWords, VIRTIO_ID_CONSOLE, type VirtioDevice, type VirtioDeviceHost } from './virtio-device.js';

/** Feature bit: the driver may write single characters through `emerg_wr` (virtio 1.2 §5.3.3). */
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;
/** Queues of port 0 without VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.2 §5.3.2). */
export const VIRTIO_CONSOLE_RECEIVEQ = 0;
export const VIRTIO_CONSOLE_TRANSMITQ = 1;
/** Default bound of host input held until the guest posts receive buffers; excess is dropped. */
export const VIRTIO_CONSOLE_DEFAULT_INPUT_BYTES = 64 * 1024;

const QUEUE_SIZE = 128;
// Configuration layout (virtio 1.2 §5.3.4): cols u16, rows u16, max_nr_ports u32, emerg_wr u32.
const CFG_EMERG_WR = 8;
const CONFIG_BYTES = 12;

/** Saved state of the console device (version 1): host input not yet delivered, oldest byte first. */
export interface VirtioConsoleState {
  readonly version: 1;
  readonly input: readonly number[];
}

/**
 * The virtio console device (virtio 1.2 §5.3) with one port (no MULTIPORT): Linux's `hvc0`. What the guest
 * transmits goes to the CharBackend as it arrives; what the host types is held (bounded) and copied into the
 * receive buffers the guest posts, with an interrupt per batch. `emerg_wr` is offered for early output.
 */
export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = featureWords(VIRTIO_CONSOLE_F_EMERG_WRITE);
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE] as const;
  private host: VirtioDeviceHost | undefined;
  private input: Uint8Array[] = [];
  private inputBytes = 0;

  /** A console over `backend`; it registers itself as the backend's input listener. */
  constructor(
    private readonly backend: CharBackend,
    private readonly maxInputBytes = VIRTIO_CONSOLE_DEFAULT_INPUT_BYTES,
  ) {
    backend.setInputListener((bytes) => this.pushInput(bytes));
  }

  /** Bytes of host input not yet delivered to the guest. */
  get pendingInputBytes(): number {
    return this.inputBytes;
  }

  /** Queues host input for the guest (bounded: bytes beyond the bound are dropped) and delivers what fits now. */
  pushInput(bytes: Uint8Array): void {
    const n = Math.min(bytes.length, this.maxInputBytes - this.inputBytes);
    if (n <= 0) return;
    this.input.push(bytes.slice(0, n));
    this.inputBytes += n;
    this.deliverInput();
  }

  readConfig(offset: number, size: number): number {
    // cols, rows and max_nr_ports are only meaningful with F_SIZE / F_MULTIPORT, neither offered: all read 0.
    if (offset < 0 || offset + size > CONFIG_BYTES) return 0;
    return 0;
  }

  writeConfig(offset: number, _size: number, value: number): void {
    // virtio 1.2 §5.3.6: a write to emerg_wr outputs one character, even before the queues are set up.
    if (offset === CFG_EMERG_WR) this.backend.write(Uint8Array.of(value & 0xff));
  }

  activate(host: VirtioDeviceHost): void {
    this.host = host;
    this.drainTransmit();
    this.deliverInput();
  }

  notify(index: number): void {
    if (index === VIRTIO_CONSOLE_TRANSMITQ) this.drainTransmit();
    else if (index === VIRTIO_CONSOLE_RECEIVEQ) this.deliverInput();
  }

  reset(): void {
    this.host = undefined;
  }

  /** Detaches from the backend's input. */
  dispose(): void {
    this.backend.setInputListener(null);
  }

  /** Undelivered input as a plain, versioned object. */
  save(): VirtioConsoleState {
    const input: number[] = [];
    for (const chunk of this.input) for (const b of chunk) input.push(b);
    return { version: 1, input };
  }

  /** Puts back the undelivered input of `save()` output. */
  restore(state: VirtioConsoleState): void {
    this.input = state.input.length > 0 ? [Uint8Array.from(state.input)] : [];
    this.inputBytes = state.input.length;
  }

  private drainTransmit(): void {
    const host = this.host;
    const queue = host?.queue(VIRTIO_CONSOLE_TRANSMITQ);
    if (!host || !queue) return;
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      // The backend copies what it keeps, so guest RAM is handed over without a copy.
      for (const s of chain.readable) {
        if (s.lengthBytes > 0) this.backend.write(host.memory.ram.subarray(s.ramIndex, s.ramIndex + s.lengthBytes));
      }
      queue.pushUsed(chain.head, 0);
      used = true;
    }
    if (used) host.usedBuffers(VIRTIO_CONSOLE_TRANSMITQ);
  }

  private deliverInput(): void {
    const host = this.host;
    const queue = host?.queue(VIRTIO_CONSOLE_RECEIVEQ);
    if (!host || !queue) return;
    let used = false;
    while (this.inputBytes > 0) {
      const chain = queue.pop();
      if (!chain) break;
      let written = 0;
      while (written < chain.writableBytes && this.input.length > 0) {
        const head = this.input[0] as Uint8Array;
        const n = writeToChain(host.memory.ram, chain, written, head);
        written += n;
        this.inputBytes -= n;
        if (n === head.length) this.input.shift();
        else this.input[0] = head.subarray(n);
      }
      queue.pushUsed(chain.head, written);
      used = true;
    }
    if (used) host.usedBuffers(VIRTIO_CONSOLE_RECEIVEQ);
  }
}
