/**
 * A writer for the "new ASCII" (newc, magic `070701`) cpio format, the one format the Linux kernel unpacks as
 * an initramfs (Linux `Documentation/driver-api/early-userspace/buffer-format.rst`). Pure: no `node:*`, so it
 * also runs in a browser.
 *
 * Layout of one entry: a 110-byte ASCII header (magic + 13 fields of 8 hex digits), the NUL-terminated name
 * padded so header+name is a multiple of 4, then the data padded to a multiple of 4. The archive ends with an
 * entry named `TRAILER!!!`.
 */

import { StrataError } from '../../base/errors.js';

/** `st_mode` file type of a directory (POSIX `<sys/stat.h>`), as cpio stores it. */
export const S_IFDIR = 0o040000;
/** `st_mode` file type of a regular file. */
export const S_IFREG = 0o100000;
/** `st_mode` file type of a symbolic link. */
export const S_IFLNK = 0o120000;
/** `st_mode` file type of a character device. */
export const S_IFCHR = 0o020000;

const NEWC_MAGIC = '070701';
const NEWC_HEADER_BYTES = 110;
const TRAILER_NAME = 'TRAILER!!!';

/** Ownership and time of an entry; the defaults (root, time 0) make archives reproducible. */
export interface CpioEntryOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeS?: number;
}

interface Entry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeS: number;
  nlink: number;
  data: Uint8Array;
  rdevMajor: number;
  rdevMinor: number;
}

const encoder = new TextEncoder();

/**
 * Collects entries and renders a newc archive. Paths are archive-relative (`bin/busybox`; a leading `/` or
 * `./` is dropped). Missing parent directories are added (mode 0755) before their first child, because the
 * kernel's unpacker does not create parents. Adding the same path twice is an INVALID_ARGUMENT error.
 */
export class CpioWriter {
  private readonly entries: Entry[] = [];
  private readonly seen = new Map<string, number>();

  constructor(private readonly defaults: CpioEntryOptions = {}) {}

  /** Adds a directory (mode defaults to 0755). Adding an existing directory again is a no-op. */
  addDirectory(path: string, opts: CpioEntryOptions = {}): this {
    const name = normalize(path);
    const existing = this.seen.get(name);
    if (existing !== undefined && ((this.entries[existing]?.mode ?? 0) & 0o170000) === S_IFDIR) return this;
    this.push(name, S_IFDIR | (opts.mode ?? 0o755), new Uint8Array(0), opts, 2);
    return this;
  }

  /** Adds a regular file with `data` as its content (mode defaults to 0644). */
  addFile(path: string, data: Uint8Array, opts: CpioEntryOptions = {}): this {
    this.push(normalize(path), S_IFREG | (opts.mode ?? 0o644), data, opts, 1);
    return this;
  }

  /** Adds a symbolic link to `target`; cpio stores the target as the entry's data. */
  addSymlink(path: string, target: string, opts: CpioEntryOptions = {}): this {
    this.push(normalize(path), S_IFLNK | (opts.mode ?? 0o777), encoder.encode(target), opts, 1);
    return this;
  }

  /** Adds a character device node (e.g. `dev/console`, 5:1), which needs no privilege when written to a cpio. */
  addCharDevice(path: string, major: number, minor: number, opts: CpioEntryOptions = {}): this {
    this.push(normalize(path), S_IFCHR | (opts.mode ?? 0o600), new Uint8Array(0), opts, 1, major, minor);
    return this;
  }

  /** True when `path` was added (explicitly or as a parent). */
  has(path: string): boolean {
    return this.seen.has(normalize(path));
  }

  /** The archive as chunks (headers, names, data, padding), trailer included, ready to concatenate or gzip. */
  finish(): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    let ino = 1;
    for (const e of this.entries) {
      chunks.push(...renderEntry(e, ino++));
    }
    const trailer: Entry = {
      name: TRAILER_NAME,
      mode: 0,
      uid: 0,
      gid: 0,
      mtimeS: 0,
      nlink: 1,
      data: new Uint8Array(0),
      rdevMajor: 0,
      rdevMinor: 0,
    };
    chunks.push(...renderEntry(trailer, 0));
    return chunks;
  }

  /** The archive as one byte array. */
  toBytes(): Uint8Array {
    const chunks = this.finish();
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  private push(
    name: string,
    mode: number,
    data: Uint8Array,
    opts: CpioEntryOptions,
    nlink: number,
    rdevMajor = 0,
    rdevMinor = 0,
  ): void {
    if (this.seen.has(name)) throw new StrataError('INVALID_ARGUMENT', `cpio entry '${name}' added twice`);
    const slash = name.lastIndexOf('/');
    if (slash > 0) this.addDirectory(name.slice(0, slash));
    this.seen.set(name, this.entries.length);
    this.entries.push({
      name,
      mode,
      uid: opts.uid ?? this.defaults.uid ?? 0,
      gid: opts.gid ?? this.defaults.gid ?? 0,
      mtimeS: opts.mtimeS ?? this.defaults.mtimeS ?? 0,
      nlink,
      data,
      rdevMajor,
      rdevMinor,
    });
  }
}

function normalize(path: string): string {
  const name = path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  if (name === '' || name === '.' || name.split('/').some((p) => p === '' || p === '..')) {
    throw new StrataError('INVALID_ARGUMENT', `invalid cpio path '${path}'`);
  }
  return name;
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new StrataError('INVALID_ARGUMENT', `cpio header field ${n} does not fit 32 bits`);
  }
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function renderEntry(e: Entry, ino: number): Uint8Array[] {
  const nameBytes = encoder.encode(e.name);
  const nameSize = nameBytes.length + 1; // the terminating NUL counts in c_namesize
  const header =
    NEWC_MAGIC +
    hex8(ino) +
    hex8(e.mode) +
    hex8(e.uid) +
    hex8(e.gid) +
    hex8(e.nlink) +
    hex8(e.mtimeS) +
    hex8(e.data.length) +
    hex8(0) + // c_devmajor: the archive's own device, irrelevant for unpacking
    hex8(0) + // c_devminor
    hex8(e.rdevMajor) +
    hex8(e.rdevMinor) +
    hex8(nameSize) +
    hex8(0); // c_check: only used by the `070702` (crc) variant
  const head = new Uint8Array(NEWC_HEADER_BYTES + nameSize + pad4(NEWC_HEADER_BYTES + nameSize));
  head.set(encoder.encode(header), 0);
  head.set(nameBytes, NEWC_HEADER_BYTES);
  const out: Uint8Array[] = [head];
  if (e.data.length > 0) {
    out.push(e.data);
    const p = pad4(e.data.length);
    if (p > 0) out.push(new Uint8Array(p));
  }
  return out;
}
