import { read as fsRead, write as fsWrite } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StrataError } from '../../../base/errors.js';
import { ioError } from '../io-util.js';

/** Positional I/O on an image file with errors that name the image; tracks the file's size. */
export class ImageFile {
  /** The image's path, for messages. */
  readonly path: string;
  /** Current file size in bytes (including our own extending writes). */
  size: number;
  private readonly fh: FileHandle;

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.fh = fh;
    this.size = size;
  }

  /** Opens `path` read-only or read-write. */
  static async open(path: string, readOnly: boolean): Promise<ImageFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, readOnly ? 'r' : 'r+');
    } catch (err) {
      throw ioError(path, 'cannot open the image', err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `${path}: not a regular file`);
      return new ImageFile(path, fh, st.size);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  /** Identity of the file (device and inode), for loop detection in backing chains. */
  async identity(): Promise<string> {
    const st = await this.fh.stat();
    return `${st.dev}:${st.ino}`;
  }

  /** Reads exactly `dest.length` bytes at `offset`; bytes past the end of the file read as zeros. */
  async read(offset: number, dest: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dest.length) {
      let n: number;
      try {
        n = await preadFd(this.fh.fd, dest, done, dest.length - done, offset + done);
      } catch (err) {
        throw ioError(this.path, `read of ${dest.length} bytes at ${offset} failed`, err);
      }
      if (n === 0) {
        dest.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Reads a metadata structure that must lie inside the file; `what` names it in the error. */
  async readStrict(offset: number, length: number, what: string): Promise<Uint8Array> {
    if (offset + length > this.size) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${this.path}: corrupt qcow2 image: ${what} at offset ${offset} (${length} bytes) goes past the end of the file (${this.size} bytes)`,
      );
    }
    const buf = new Uint8Array(length);
    await this.read(offset, buf);
    return buf;
  }

  /** Writes all of `src` at `offset`. */
  async write(offset: number, src: Uint8Array): Promise<void> {
    let done = 0;
    while (done < src.length) {
      try {
        done += await pwriteFd(this.fh.fd, src, done, src.length - done, offset + done);
      } catch (err) {
        throw ioError(this.path, `write of ${src.length} bytes at ${offset} failed`, err);
      }
    }
    if (offset + src.length > this.size) this.size = offset + src.length;
  }

  /** Writes `bufs` back to back at `offset`. */
  async writev(offset: number, bufs: Uint8Array[]): Promise<void> {
    const total = bufs.reduce((a, b) => a + b.length, 0);
    try {
      const { bytesWritten } = await this.fh.writev(bufs, offset);
      if (bytesWritten !== total) {
        // short vectored write: finish buffer by buffer
        let at = 0;
        for (const b of bufs) {
          if (at + b.length > bytesWritten) {
            const skip = Math.max(0, bytesWritten - at);
            await this.write(offset + at + skip, b.subarray(skip));
          }
          at += b.length;
        }
      }
    } catch (err) {
      throw ioError(this.path, `write of ${total} bytes at ${offset} failed`, err);
    }
    if (offset + total > this.size) this.size = offset + total;
  }

  /** fdatasync: every completed write is durable once this resolves. */
  async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw ioError(this.path, 'fdatasync failed', err);
    }
  }

  /** Sets the file's length. */
  async truncate(length: number): Promise<void> {
    try {
      await this.fh.truncate(length);
      this.size = length;
    } catch (err) {
      throw ioError(this.path, `truncate to ${length} failed`, err);
    }
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** An INVALID_ARGUMENT error for a corrupt image: "<path>: corrupt qcow2 image: <problem>". */
export function corrupt(path: string, problem: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `${path}: corrupt qcow2 image: ${problem}`);
}

/** Writes several buffers back to back at `offset` (one writev when possible). */
export async function writeMany(file: ImageFile, offset: number, bufs: Uint8Array[]): Promise<void> {
  if (bufs.length === 1) return file.write(offset, bufs[0]!);
  await file.writev(offset, bufs);
}

/** pread through the callback API (a little lighter per call than FileHandle.read on the hot path). */
function preadFd(fd: number, buf: Uint8Array, at: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsRead(fd, buf, at, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** pwrite through the callback API. */
function pwriteFd(fd: number, buf: Uint8Array, at: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsWrite(fd, buf, at, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}
