/**
 * A token bucket: `ratePerSec` tokens flow in per second up to `burst`; `take(n)` spends them. Used by the VMM
 * for disk IOPS and bandwidth and NIC rate limits. A rate of 0 means unlimited.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number = Math.max(ratePerSec, 1),
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.lastMs = nowMs();
  }

  private refill(): void {
    const t = this.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.lastMs) * this.ratePerSec) / 1000);
    this.lastMs = t;
  }

  /**
   * Spends `n` tokens and returns 0, or, when there are not enough, spends nothing and returns the milliseconds to
   * wait before `n` tokens are there. A request larger than the burst may go once the bucket is full (it then runs
   * the bucket into debt), so a large I/O is slowed, never refused.
   */
  take(n: number): number {
    if (this.ratePerSec <= 0) return 0;
    this.refill();
    const need = Math.min(n, this.burst);
    if (this.tokens >= need) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil(((need - this.tokens) * 1000) / this.ratePerSec);
  }

  /** Spends `n` tokens whether or not they are there (the bucket may go into debt). */
  spend(n: number): void {
    if (this.ratePerSec <= 0) return;
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until the bucket holds at least `n` tokens (0: now); spends nothing. */
  waitMsFor(n: number): number {
    if (this.ratePerSec <= 0) return 0;
    this.refill();
    const need = Math.min(n, this.burst);
    return this.tokens >= need ? 0 : Math.ceil(((need - this.tokens) * 1000) / this.ratePerSec);
  }

  /** Waits until `n` tokens are spent; rejects with the signal's reason when aborted. */
  async acquire(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = this.take(n);
      if (waitMs === 0) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        function onAbort() {
          clearTimeout(timer);
          reject(signal?.reason);
        }
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
