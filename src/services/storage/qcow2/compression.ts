import { deflateRawSync, inflateRawSync, constants as zc } from 'node:zlib';
import { StrataError } from '../../../base/errors.js';
import { zstdDecompress } from './zstd-decoder.js';

/** qcow2.txt "compression_type": 0 deflate, 1 zstd. */
export type CompressionType = 0 | 1;

/**
 * Decompresses one compressed cluster into `out` (exactly one cluster). qcow2.txt "Compressed Clusters":
 * deflate data is raw (no zlib header) with a 4 KiB window; trailing bytes up to the sector end are ignored.
 * Output beyond a cluster is never produced (no decompression bomb).
 */
export function decompressCluster(path: string, type: number, data: Uint8Array, out: Uint8Array): void {
  let produced: Uint8Array;
  try {
    if (type === 0) {
      produced = inflateRawSync(data, {
        windowBits: 12,
        maxOutputLength: out.length,
        finishFlush: zc.Z_SYNC_FLUSH,
      });
    } else {
      produced = zstdDecompress(data, out.length);
    }
  } catch (err) {
    if (err instanceof StrataError) {
      throw new StrataError('INVALID_ARGUMENT', `${path}: corrupt compressed cluster: ${err.message}`);
    }
    const msg = err instanceof Error ? err.message : String(err);
    throw new StrataError('INVALID_ARGUMENT', `${path}: corrupt compressed cluster: ${msg}`);
  }
  if (produced.length !== out.length) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${path}: corrupt compressed cluster: it decompresses to ${produced.length} bytes, not ${out.length}`,
    );
  }
  out.set(produced);
}

/** Compresses a cluster with raw deflate (window bits 12), or returns null when that saves nothing. */
export function compressCluster(data: Uint8Array): Uint8Array | null {
  const c = deflateRawSync(data, { windowBits: 12, level: 6 });
  return c.length < data.length - 512 ? c : null;
}
