import { StrataError } from '../../base/errors.js';

/** Wraps a Node I/O failure as a StrataError naming the image: NO_SPACE for ENOSPC/EDQUOT, IO otherwise. */
export function ioError(path: string, what: string, err: unknown): StrataError {
  const code = (err as { code?: string } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StrataError('NO_SPACE', `${path}: ${what}: no space left on the device`, { cause: err });
  }
  if (code === 'ENOENT') return new StrataError('NOT_FOUND', `${path}: ${what}: no such file`, { cause: err });
  return new StrataError('IO', `${path}: ${what}: ${detail}`, { cause: err });
}

/** Throws INVALID_ARGUMENT unless [offset, offset+length) is a 512-aligned range inside the capacity. */
export function checkRange(path: string, capacity: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset % 512 !== 0 ||
    length % 512 !== 0 ||
    offset + length > capacity
  ) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${path}: request of ${length} bytes at offset ${offset} is not 512-aligned or goes beyond the capacity of ${capacity} bytes`,
    );
  }
}

/** A serial number of at most 20 ASCII bytes made from a file name. */
export function makeSerial(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.slice(0, 20);
}

/** Runs async jobs one after another, in the order they were queued. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queues `job`; resolves or rejects with its result. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => {});
    return result;
  }
}

/**
 * Orders requests for a provider whose reads may overlap each other but not a change: a read waits for the
 * changes queued before it, a change waits for everything queued before it. Requests start in issue order.
 */
export class ReadWriteQueue {
  private lastChange: Promise<unknown> = Promise.resolve();
  private readers = new Set<Promise<unknown>>();

  /** Queues a job that may run alongside other reads. */
  read<T>(job: () => Promise<T>): Promise<T> {
    const p = this.lastChange.then(job);
    const settled = p.then(
      () => {},
      () => {},
    );
    this.readers.add(settled);
    void settled.then(() => this.readers.delete(settled));
    return p;
  }

  /** Queues a job that runs alone. */
  change<T>(job: () => Promise<T>): Promise<T> {
    const before = [this.lastChange, ...this.readers];
    this.readers = new Set();
    const p = Promise.all(before).then(job);
    this.lastChange = p.then(
      () => {},
      () => {},
    );
    return p;
  }
}
