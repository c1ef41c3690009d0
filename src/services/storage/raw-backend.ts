import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { checkRange, ioError, makeSerial, SerialQueue } from './io-util.js';

const ZERO_CHUNK = new Uint8Array(1 << 20);

/**
 * A raw disk image: the file's bytes are the disk's bytes. The capacity is the file size rounded up to 512;
 * reads past the end of the file return zeros. Discard and write-zeroes write zeros (Node has no hole punching).
 */
export class RawBackend implements BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly serial: string;
  /** The image's path, used in error messages. */
  readonly path: string;
  private readonly fh: FileHandle;
  private readonly queue = new SerialQueue();
  private closed = false;

  private constructor(path: string, fh: FileHandle, sizeBytes: number, readOnly: boolean) {
    this.path = path;
    this.fh = fh;
    this.sizeBytes = sizeBytes;
    this.readOnly = readOnly;
    this.serial = makeSerial(basename(path));
  }

  /** Opens `path` as a raw image; read-only when `readOnly`. */
  static async open(path: string, opts: { readOnly?: boolean } = {}): Promise<RawBackend> {
    const readOnly = opts.readOnly ?? false;
    let fh: FileHandle;
    try {
      fh = await open(path, readOnly ? 'r' : 'r+');
    } catch (err) {
      throw ioError(path, 'cannot open the image', err);
    }
    try {
      const st = await fh.stat();
      // A block device's stat().size is 0, so its capacity cannot be read the way a file's is; rather than show
      // the guest an empty disk, block devices are refused.
      if (st.isBlockDevice()) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `${path}: is a block device; raw disks must be regular image files (block devices are not supported)`,
        );
      }
      if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `${path}: not a regular file`);
      const size = Math.ceil(st.size / 512) * 512;
      return new RawBackend(path, fh, size, readOnly);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  /** Reads bytes of the file, zero-filling past its end. */
  async read(offsetBytes: number, dest: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this.path, this.sizeBytes, offsetBytes, dest.length);
    return this.readAt(offsetBytes, dest);
  }

  private async readAt(offset: number, dest: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dest.length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.fh.read(dest, done, dest.length - done, offset + done));
      } catch (err) {
        throw ioError(this.path, `read at offset ${offset + done} failed`, err);
      }
      if (n === 0) {
        dest.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes bytes into the file. */
  async write(offsetBytes: number, src: Uint8Array): Promise<void> {
    this.checkWritable();
    checkRange(this.path, this.sizeBytes, offsetBytes, src.length);
    return this.writeAt(offsetBytes, src);
  }

  private async writeAt(offset: number, src: Uint8Array): Promise<void> {
    let done = 0;
    while (done < src.length) {
      try {
        const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
        done += bytesWritten;
      } catch (err) {
        throw ioError(this.path, `write at offset ${offset + done} failed`, err);
      }
    }
  }

  /** fdatasync. */
  async flush(): Promise<void> {
    this.checkOpen();
    if (this.readOnly) return;
    return this.queue.run(async () => {
      try {
        await this.fh.datasync();
      } catch (err) {
        throw ioError(this.path, 'flush failed', err);
      }
    });
  }

  /** Writes zeros over the range. */
  async discard(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.writeZeroes(offsetBytes, lengthBytes, true);
  }

  /** Writes zeros over the range, a megabyte at a time. */
  async writeZeroes(offsetBytes: number, lengthBytes: number, _mayUnmap: boolean): Promise<void> {
    this.checkWritable();
    checkRange(this.path, this.sizeBytes, offsetBytes, lengthBytes);
    for (let pos = 0; pos < lengthBytes; pos += ZERO_CHUNK.length) {
      const n = Math.min(ZERO_CHUNK.length, lengthBytes - pos);
      await this.writeAt(offsetBytes + pos, ZERO_CHUNK.subarray(0, n));
    }
  }

  /** Flushes (when writable) and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.readOnly) await this.flush();
    } finally {
      this.closed = true;
      await this.fh.close();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError('INVALID_ARGUMENT', `${this.path}: the disk is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new StrataError('INVALID_ARGUMENT', `${this.path}: the disk is read-only`);
  }
}
