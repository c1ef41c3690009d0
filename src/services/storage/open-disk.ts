import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { openImageChain } from './backing-chain.js';

/** Options of {@link openDisk}. */
export interface OpenDiskOptions {
  /** The image format; probed from the file's first bytes when absent. */
  format?: 'raw' | 'qcow2';
  /** Refuse writes, discards and write-zeroes. */
  readOnly?: boolean;
  /** Aborts the opening (of a long backing chain, for instance). */
  signal?: AbortSignal;
}

/**
 * Opens a disk image (raw or qcow2 with its backing chain) as a BlockBackend. Without `format`, a file that
 * starts with the qcow2 magic opens as qcow2 and any other file as raw. Rejects with a StrataError naming the
 * image and the problem for a missing, truncated, corrupt or unsupported image.
 */
export function openDisk(path: string, opts: OpenDiskOptions = {}): Promise<BlockBackend & { close(): Promise<void> }> {
  return openImageChain(path, opts);
}
