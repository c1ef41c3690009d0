import { StrataError } from '../../base/errors.js';
import type { BlockBackend } from './block-backend.js';

/** Options of an in-memory disk. */
export interface MemoryBlockBackendOptions {
  readOnly?: boolean;
  serial?: string;
  /** Initial contents (copied); the disk is this long unless `sizeBytes` is given. */
  contents?: Uint8Array;
}

/**
 * A `BlockBackend` held in memory: for tests and for a browser tab. Every operation settles on a later microtask
 * (never synchronously), as a real backend would; `hold()` lets a test keep operations pending until it releases
 * them, to observe asynchronous completion. Counts of flushes and the last discard/write-zeroes call are kept for
 * assertions.
 */
export class MemoryBlockBackend implements BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly serial: string;
  /** The disk's bytes (tests may look and poke). */
  readonly bytes: Uint8Array;
  flushes = 0;
  closed = false;
  /** Every discard and write-zeroes call, in order. */
  readonly trims: { kind: 'discard' | 'writeZeroes'; offsetBytes: number; lengthBytes: number; mayUnmap?: boolean }[] =
    [];
  /** When set, the next operations fail with an IO error. */
  failNext = 0;
  private held: (() => void)[] | undefined;

  /** A disk of `sizeBytes` (a multiple of 512) zero bytes, or of `options.contents`. */
  constructor(sizeBytes: number, options: MemoryBlockBackendOptions = {}) {
    if (sizeBytes % 512 !== 0) throw new StrataError('INVALID_ARGUMENT', `disk size ${sizeBytes} is not whole sectors`);
    this.sizeBytes = sizeBytes;
    this.readOnly = options.readOnly ?? false;
    this.serial = options.serial ?? 'strata-mem';
    this.bytes = new Uint8Array(sizeBytes);
    if (options.contents) this.bytes.set(options.contents.subarray(0, sizeBytes));
  }

  /** From now on operations wait until `release()`. */
  hold(): void {
    this.held ??= [];
  }

  /** Lets every held operation proceed, and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }

  /** Operations waiting for `release()`. */
  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  read(offsetBytes: number, dest: Uint8Array): Promise<void> {
    return this.op(offsetBytes, dest.length, false, () =>
      dest.set(this.bytes.subarray(offsetBytes, offsetBytes + dest.length)),
    );
  }

  write(offsetBytes: number, src: Uint8Array): Promise<void> {
    return this.op(offsetBytes, src.length, true, () => this.bytes.set(src, offsetBytes));
  }

  flush(): Promise<void> {
    return this.op(0, 0, false, () => {
      this.flushes++;
    });
  }

  discard(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.op(offsetBytes, lengthBytes, true, () => {
      this.trims.push({ kind: 'discard', offsetBytes, lengthBytes });
      this.bytes.fill(0, offsetBytes, offsetBytes + lengthBytes);
    });
  }

  writeZeroes(offsetBytes: number, lengthBytes: number, mayUnmap: boolean): Promise<void> {
    return this.op(offsetBytes, lengthBytes, true, () => {
      this.trims.push({ kind: 'writeZeroes', offsetBytes, lengthBytes, mayUnmap });
      this.bytes.fill(0, offsetBytes, offsetBytes + lengthBytes);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private op(offsetBytes: number, lengthBytes: number, writes: boolean, apply: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        if (this.closed) return reject(new StrataError('IO', 'the in-memory disk is closed'));
        if (this.failNext > 0) {
          this.failNext--;
          return reject(new StrataError('IO', 'injected failure of the in-memory disk'));
        }
        if (writes && this.readOnly) return reject(new StrataError('IO', 'the in-memory disk is read-only'));
        if (offsetBytes < 0 || offsetBytes + lengthBytes > this.sizeBytes) {
          return reject(
            new StrataError(
              'INVALID_ARGUMENT',
              `range ${offsetBytes}+${lengthBytes} is beyond ${this.sizeBytes} bytes`,
            ),
          );
        }
        apply();
        resolve();
      };
      if (this.held) this.held.push(go);
      else queueMicrotask(go);
    });
  }
}
