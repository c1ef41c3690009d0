import type { BlockBackend } from '../machine/ports/block-backend.js';
import { TokenBucket } from './token-bucket.js';

/** I/O counters of one disk. */
export interface DiskCounters {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/**
 * A disk seen through the VMM's rate limits: every request first takes one token from the IOPS bucket and its
 * length from the bandwidth bucket (a rate of 0 is unlimited), and is counted for metrics. Limits change at run
 * time with {@link setLimits}.
 */
export class RateLimitedDisk implements BlockBackend {
  /** Counters since the VMM started. */
  readonly counters: DiskCounters = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
  private iops: TokenBucket;
  private bandwidth: TokenBucket;

  constructor(
    private readonly inner: BlockBackend,
    limits: { iops?: number | undefined; bytesPerSec?: number | undefined },
  ) {
    this.iops = new TokenBucket(limits.iops ?? 0);
    this.bandwidth = new TokenBucket(limits.bytesPerSec ?? 0);
  }

  /** Replaces the limits (0 or undefined: unlimited). */
  setLimits(limits: { iops?: number | undefined; bytesPerSec?: number | undefined }): void {
    this.iops = new TokenBucket(limits.iops ?? 0);
    this.bandwidth = new TokenBucket(limits.bytesPerSec ?? 0);
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get serial(): string {
    return this.inner.serial;
  }

  private async admit(bytes: number): Promise<void> {
    await this.iops.acquire(1);
    if (bytes > 0) await this.bandwidth.acquire(bytes);
  }

  async read(offsetBytes: number, dest: Uint8Array): Promise<void> {
    await this.admit(dest.length);
    await this.inner.read(offsetBytes, dest);
    this.counters.readOps++;
    this.counters.readBytes += dest.length;
  }

  async write(offsetBytes: number, src: Uint8Array): Promise<void> {
    await this.admit(src.length);
    await this.inner.write(offsetBytes, src);
    this.counters.writeOps++;
    this.counters.writeBytes += src.length;
  }

  async flush(): Promise<void> {
    await this.inner.flush();
  }

  async discard(offsetBytes: number, lengthBytes: number): Promise<void> {
    await this.admit(0);
    await this.inner.discard(offsetBytes, lengthBytes);
  }

  async writeZeroes(offsetBytes: number, lengthBytes: number, mayUnmap: boolean): Promise<void> {
    await this.admit(0);
    await this.inner.writeZeroes(offsetBytes, lengthBytes, mayUnmap);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
