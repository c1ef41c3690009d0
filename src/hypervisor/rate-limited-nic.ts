import type { NetBackend } from '../machine/ports/net-backend.js';
import { TokenBucket } from './token-bucket.js';

/** Frame and byte counters of one NIC, both directions. */
export interface NicCounters {
  rxBytes: number;
  txBytes: number;
  rxFrames: number;
  txFrames: number;
}

/**
 * A network attachment seen through the VMM's NIC rate limit (bytes per second, each direction; 0: unlimited). It
 * shapes rather than drops: when the transmit bucket is empty `canSend()` is false, so frames wait in the guest's
 * TX ring and `onWritable` fires when tokens are back; when the receive bucket is empty the receiver answers
 * "no buffer", so the provider holds its frames and is resumed when tokens are back. Memory stays bounded by the
 * provider's queue, as the NetBackend contract asks.
 */
export class RateLimitedNic implements NetBackend {
  readonly counters: NicCounters = { rxBytes: 0, txBytes: 0, rxFrames: 0, txFrames: 0 };
  private tx: TokenBucket;
  private rx: TokenBucket;
  private writable: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly inner: NetBackend,
    bytesPerSec: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.tx = this.bucket(bytesPerSec);
    this.rx = this.bucket(bytesPerSec);
  }

  private bucket(rate: number): TokenBucket {
    // A burst of at least two full frames, else 50 ms worth of the rate.
    return new TokenBucket(rate, Math.max(2 * 1518, rate / 20), this.nowMs);
  }

  /** Changes the rate (0: unlimited). */
  setRate(bytesPerSec: number): void {
    this.tx = this.bucket(bytesPerSec);
    this.rx = this.bucket(bytesPerSec);
    this.inner.resume();
    this.writable?.();
  }

  get mac(): Uint8Array | undefined {
    return this.inner.mac;
  }
  get maxFrameBytes(): number {
    return this.inner.maxFrameBytes;
  }
  get linkUp(): boolean {
    return this.inner.linkUp;
  }

  private later(ms: number, fn: () => void): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  send(frame: Uint8Array): void {
    // A NIC that ignored canSend() still pays: the bucket goes into debt and later frames wait longer.
    this.tx.spend(frame.length);
    this.counters.txBytes += frame.length;
    this.counters.txFrames++;
    this.inner.send(frame);
  }

  canSend(): boolean {
    if (!this.inner.canSend()) return false;
    // A frame may go while the bucket holds any tokens; its full length is then spent in send().
    const waitMs = this.tx.waitMsFor(1);
    if (waitMs === 0) return true;
    this.later(waitMs, () => this.writable?.());
    return false;
  }

  onWritable(cb: (() => void) | null): void {
    this.writable = cb;
    this.inner.onWritable(cb);
  }

  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void {
    if (!cb) {
      this.inner.setReceiver(null);
      return;
    }
    this.inner.setReceiver((frame) => {
      const waitMs = this.rx.take(frame.length);
      if (waitMs > 0) {
        this.later(waitMs, () => this.inner.resume());
        return false;
      }
      if (!cb(frame)) return false;
      this.counters.rxBytes += frame.length;
      this.counters.rxFrames++;
      return true;
    });
  }

  resume(): void {
    this.inner.resume();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.inner.close();
  }
}
