/**
 * How a guest network card (virtio-net, later others) reaches a network, whatever provides it: a port of an
 * in-process virtual switch, a Unix-socket attachment to a switch in another process, a loopback in a test, a
 * WebSocket relay in a browser tab. Consumer-side port: it says what the NIC needs, not how a provider makes it.
 *
 * Frames are whole Ethernet II frames as on the wire without preamble and FCS: destination MAC, source MAC,
 * optional 802.1Q tag, EtherType, payload. A guest may send frames without padding to 60 bytes; providers accept
 * 14..1518 bytes (1522 with a VLAN tag is accepted by switches that know VLANs) and count and drop the rest.
 *
 * Backpressure, both directions, never unbounded memory:
 * - guest -> network: `send` never blocks and never throws for a full network; a congested provider drops the
 *   frame and counts it, as a real wire would. `canSend` lets a NIC leave frames in its TX ring instead of
 *   dropping them, and `onWritable` tells it when to try again.
 * - network -> guest: the provider calls the receiver once per frame; the receiver returns false when the guest
 *   has no free receive buffer. The provider then keeps that frame (and those behind it) in a small bounded
 *   queue, or drops them when the queue is full, and stops calling until the NIC calls `resume()` (after the
 *   guest posts new receive buffers). This mirrors virtio-net, where a full RX virtqueue must not lose the
 *   device's state but may lose frames.
 *
 * The provider may call the receiver synchronously from inside `send` (a switch delivering to a port in the same
 * process): a NIC must tolerate re-entry. Browser-safe: no Node APIs are named here.
 */
export interface NetBackend {
  /**
   * The MAC address the provider assigned to this attachment (6 bytes), when it assigns one; otherwise the NIC
   * uses its own configured address.
   */
  readonly mac?: Uint8Array;
  /** Largest frame, in bytes without FCS, the provider carries (1514 without a VLAN tag on a standard network). */
  readonly maxFrameBytes: number;
  /**
   * Sends one frame from the guest into the network. The provider copies or takes ownership of `frame`; the
   * caller must not modify it afterwards. Frames that are too short, too long or that the network cannot take now
   * are dropped and counted by the provider; `send` never throws for them.
   */
  send(frame: Uint8Array): void;
  /**
   * True when a frame given to `send` now would be carried rather than dropped for congestion. A NIC that checks
   * it keeps its frames in its TX ring until `onWritable` fires.
   */
  canSend(): boolean;
  /** Registers (or, with null, removes) the callback that runs when `canSend()` turns true again. */
  onWritable(cb: (() => void) | null): void;
  /**
   * Registers the receiver of frames from the network (or, with null, detaches it: frames then are dropped).
   * The receiver gets a frame the provider no longer uses; it returns true when the guest took it, false when the
   * guest has no receive buffer (the frame was not consumed: the provider holds it and pauses, see `resume`).
   */
  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void;
  /** Tells a paused provider that the guest has receive buffers again: it delivers held frames, then new ones. */
  resume(): void;
  /** Link state as the guest should see it (virtio-net status LINK_UP). */
  readonly linkUp: boolean;
  /** Detaches from the network; no call may follow. */
  close(): Promise<void>;
}
