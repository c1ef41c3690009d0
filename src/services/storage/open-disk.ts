import { StrataError } from '../../base/errors.js';
import { type ClosableBackend, openImageChain, probeFormat } from './backing-chain.js';

/** Options of {@link openDisk}. */
export interface OpenDiskOptions {
  /** The image format; probed from the file's first bytes when absent. */
  format?: 'raw' | 'qcow2';
  /** Refuse writes, discards and write-zeroes. */
  readOnly?: boolean;
  /** Aborts the opening (of a long backing chain, for instance). */
  signal?: AbortSignal;
}

/** qcow2.txt "Header": the magic 'Q', 'F', 'I', 0xfb. */
const QCOW2_MAGIC = [0x51, 0x46, 0x49, 0xfb] as const;

/**
 * Opens a disk image (raw or qcow2 with its backing chain) as a BlockBackend. Without `format`, a file that
 * starts with the qcow2 magic opens as qcow2 and any other file as raw. Rejects with a StrataError naming the
 * image and the problem for a missing, truncated, corrupt or unsupported image.
 *
 * A writable disk whose format was probed as raw refuses a write that would put the qcow2 magic at its start:
 * otherwise a guest could write a qcow2 header naming any host file as its backing file, and the next probe would
 * show that file to the guest. Giving `format: 'raw'` lifts the guard.
 */
export async function openDisk(path: string, opts: OpenDiskOptions = {}): Promise<ClosableBackend> {
  if (opts.format !== undefined || opts.readOnly === true) return openImageChain(path, opts);
  const format = await probeFormat(path);
  const disk = await openImageChain(path, { ...opts, format });
  return format === 'raw' ? guardProbedRaw(disk, path) : disk;
}

/** Wraps a probed raw disk so guest writes cannot turn it into a qcow2 image. */
function guardProbedRaw(disk: ClosableBackend, path: string): ClosableBackend {
  const guarded: ClosableBackend = {
    get sizeBytes() {
      return disk.sizeBytes;
    },
    readOnly: disk.readOnly,
    serial: disk.serial,
    read: (offset, dest) => disk.read(offset, dest),
    write(offset, src) {
      if (offset === 0 && src.length >= QCOW2_MAGIC.length && QCOW2_MAGIC.every((b, i) => src[i] === b)) {
        return Promise.reject(
          new StrataError(
            'IO',
            `${path}: refused a write that would make this probed raw image look like qcow2 (open it with format=raw to allow it)`,
          ),
        );
      }
      return disk.write(offset, src);
    },
    flush: () => disk.flush(),
    discard: (offset, length) => disk.discard(offset, length),
    writeZeroes: (offset, length, mayUnmap) => disk.writeZeroes(offset, length, mayUnmap),
    close: () => disk.close(),
  };
  return guarded;
}
