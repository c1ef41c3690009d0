/**
 * NetBackend providers' shared parts: the receive gate that implements the port's backpressure contract, and
 * the in-process provider that attaches a guest NIC directly to a port of a VirtualSwitch.
 */

import type { NetBackend } from '../../machine/ports/net-backend.js';
import { type MacNum, macToBytes } from './ethernet.js';
import type { PortOptions, SwitchPort } from './port.js';
import type { VirtualSwitch } from './virtual-switch.js';

/**
 * Delivers frames to a NetBackend receiver, holding at most `limit` frames while the guest has no receive
 * buffer (the receiver returned false) and dropping beyond that. `resume()` delivers what is held.
 */
export class ReceiveGate {
  /** Frames dropped because the guest had no buffer and the hold queue was full (or no receiver was set). */
  dropped = 0;
  private receiver: ((frame: Uint8Array) => boolean) | null = null;
  private readonly held: Uint8Array[] = [];
  private paused = false;
  /** Called when the gate pauses (true) or resumes (false): a provider may stop reading its source. */
  onPause: ((paused: boolean) => void) | undefined;

  constructor(private readonly limit = 256) {}

  /** Sets the receiver (NetBackend.setReceiver). */
  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void {
    this.receiver = cb;
    if (cb && this.paused) this.resume();
  }

  /** True while the guest refuses frames. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Offers a frame: delivered, held, or dropped. Returns false only when dropped. */
  push(frame: Uint8Array): boolean {
    if (!this.receiver) {
      this.dropped++;
      return false;
    }
    if (!this.paused) {
      if (this.receiver(frame)) return true;
      this.setPaused(true);
    }
    if (this.held.length >= this.limit) {
      this.dropped++;
      return false;
    }
    this.held.push(frame);
    return true;
  }

  /** The guest has buffers again (NetBackend.resume). */
  resume(): void {
    if (!this.receiver) return;
    while (this.held.length > 0) {
      if (!this.receiver(this.held[0]!)) {
        this.setPaused(true);
        return;
      }
      this.held.shift();
    }
    this.setPaused(false);
  }

  private setPaused(p: boolean): void {
    if (this.paused === p) return;
    this.paused = p;
    this.onPause?.(p);
  }
}

/** A NetBackend on a port of an in-process switch. */
export class SwitchPortBackend implements NetBackend {
  readonly mac: Uint8Array | undefined;
  readonly maxFrameBytes: number;
  /** The switch port this backend is attached to. */
  readonly port: SwitchPort;
  private readonly gate = new ReceiveGate();
  private writable: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly sw: VirtualSwitch,
    opts: Omit<PortOptions, 'sink'> & { guestMac?: MacNum },
  ) {
    this.mac = opts.guestMac === undefined ? undefined : macToBytes(opts.guestMac);
    this.maxFrameBytes = sw.maxFrameBytes;
    this.port = sw.addPort({ ...opts, sink: (f) => this.gate.push(f) });
  }

  get linkUp(): boolean {
    return !this.closed && this.port.up;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.port.receive(frame);
    if (this.writable && !this.port.canReceive()) {
      const cb = this.writable;
      setImmediate(() => {
        if (this.writable === cb && this.port.canReceive()) cb();
      });
    }
  }

  canSend(): boolean {
    return this.port.canReceive();
  }

  onWritable(cb: (() => void) | null): void {
    this.writable = cb;
  }

  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void {
    this.gate.setReceiver(cb);
  }

  resume(): void {
    this.gate.resume();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sw.removePort(this.port.no);
  }
}
