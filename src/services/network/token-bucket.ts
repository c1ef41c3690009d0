/**
 * A token bucket (RFC 2697's single-rate meter, one colour): `rate` tokens per second fill a bucket of `burst`
 * tokens; a packet of n bytes passes when n tokens are there and takes them. Used for per-port ingress limits.
 */

/** Options of a TokenBucket. */
export interface TokenBucketOptions {
  /** Fill rate in bytes per second. */
  bytesPerSecond: number;
  /** Bucket size in bytes (default: 1/10 s worth of rate, at least one large frame). */
  burstBytes?: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** A byte-counting token bucket. */
export class TokenBucket {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.bytesPerSecond > 0)) throw new RangeError(`token bucket rate must be positive: ${opts.bytesPerSecond}`);
    this.bytesPerSecond = opts.bytesPerSecond;
    this.burstBytes = Math.max(opts.burstBytes ?? opts.bytesPerSecond / 10, 1522);
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.burstBytes;
    this.last = this.now();
  }

  /** Takes `bytes` tokens and returns true, or returns false (and takes none) when there are too few. */
  take(bytes: number): boolean {
    const t = this.now();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burstBytes, this.tokens + (elapsed * this.bytesPerSecond) / 1000);
      this.last = t;
    }
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }
}
