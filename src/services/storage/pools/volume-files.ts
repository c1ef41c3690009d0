import { open, stat } from 'node:fs/promises';
import { StrataError } from '../../../base/errors.js';
import type { BlockBackend } from '../../../machine/ports/block-backend.js';
import { ioError } from '../io-util.js';
import { parseHeader } from '../qcow2/header.js';
import type { TransferOptions, VolumeFormat } from './pool-driver.js';

/** What the header of a volume's file says, read without opening the image (cheap enough for a listing). */
export interface VolumeFileFacts {
  capacityBytes: number;
  allocationBytes: number;
  snapshotCount: number;
}

/**
 * Reads the facts of a volume file: for qcow2 the header's size and nb_snapshots (qcow2.txt "Header"), for raw the
 * file size rounded up to 512 as RawBackend sees it; allocation is what the host file system reports in use.
 */
export async function readVolumeFacts(path: string, format: VolumeFormat): Promise<VolumeFileFacts> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(path, 'cannot open the volume', err);
  }
  try {
    const st = await fh.stat();
    const allocationBytes = st.blocks * 512;
    if (format === 'raw') {
      return { capacityBytes: Math.ceil(st.size / 512) * 512, allocationBytes, snapshotCount: 0 };
    }
    const probe = new Uint8Array(Math.min(st.size, 512));
    await fh.read(probe, 0, probe.length, 0);
    let first = probe;
    if (probe.length >= 24) {
      const bits = new DataView(probe.buffer).getUint32(20);
      if (bits >= 9 && bits <= 21) {
        first = new Uint8Array(Math.min(st.size, 2 ** bits));
        await fh.read(first, 0, first.length, 0);
      }
    }
    const h = parseHeader(path, first, st.size);
    return { capacityBytes: h.size, allocationBytes, snapshotCount: h.nbSnapshots };
  } finally {
    await fh.close();
  }
}

const CHUNK = 1 << 20;

/**
 * Copies a whole disk into a new raw file at `dest` (which must not exist): chunks of zeros are skipped and the
 * file is sized with truncate, so it stays sparse; the data is made durable before returning.
 */
export async function copyToRaw(src: BlockBackend, dest: string, opts: TransferOptions = {}): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(dest, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new StrataError('ALREADY_EXISTS', `${dest}: the file exists`);
    }
    throw ioError(dest, 'cannot create the file', err);
  }
  try {
    const buf = new Uint8Array(CHUNK);
    for (let at = 0; at < src.sizeBytes; at += CHUNK) {
      opts.signal?.throwIfAborted();
      const n = Math.min(CHUNK, src.sizeBytes - at);
      const view = buf.subarray(0, n);
      await src.read(at, view);
      if (!isZero(view)) {
        let done = 0;
        while (done < n) done += (await fh.write(view, done, n - done, at + done)).bytesWritten;
      }
      opts.onProgress?.(at + n, src.sizeBytes);
    }
    await fh.truncate(src.sizeBytes);
    await fh.datasync();
  } catch (err) {
    if (err instanceof StrataError || (err as Error).name === 'AbortError') throw err;
    throw ioError(dest, 'cannot write the raw image', err);
  } finally {
    await fh.close();
  }
}

/** True when every byte of `b` is zero. */
export function isZero(b: Uint8Array): boolean {
  if (b.byteOffset % 4 !== 0) return b.every((x) => x === 0);
  const words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length << 2; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** True when `path` exists (any kind of file). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
