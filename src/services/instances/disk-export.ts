import { open, rm } from 'node:fs/promises';
import { StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';

/** Bytes copied per step; a step that reads only zeros leaves a hole in the copy. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Copies a raw disk to `dest` keeping it sparse (all-zero chunks become holes), with byte progress, and stops at
 * once when `signal` aborts. On any failure the partial copy is removed, so an export either exists whole or not at
 * all. `dest` must not exist.
 */
export async function exportRawDisk(
  src: string,
  dest: string,
  progress: ProgressReporter,
  signal: AbortSignal,
): Promise<number> {
  const input = await open(src, 'r');
  let output: Awaited<ReturnType<typeof open>> | undefined;
  let created = false;
  try {
    output = await open(dest, 'wx', 0o600);
    created = true;
    const size = (await input.stat()).size;
    progress.phase('exporting disk', size);
    const buf = Buffer.alloc(CHUNK_BYTES);
    for (let off = 0; off < size; off += CHUNK_BYTES) {
      if (signal.aborted) throw new StrataError('ABORTED', `export of ${src} cancelled`);
      const { bytesRead } = await input.read(buf, 0, Math.min(CHUNK_BYTES, size - off), off);
      const chunk = buf.subarray(0, bytesRead);
      if (chunk.some((b) => b !== 0)) await output.write(chunk, 0, bytesRead, off);
      progress.update(off + bytesRead);
    }
    await output.truncate(size);
    await output.sync();
    return size;
  } catch (err) {
    await output?.close().catch(() => undefined);
    output = undefined;
    // Only a file this export made is removed: an existing one is never touched.
    if (created) await rm(dest, { force: true });
    if (isStrataErrorLike(err)) throw err;
    throw new StrataError('IO', `cannot export ${src} to ${dest}: ${(err as Error).message}`);
  } finally {
    await input.close();
    await output?.close();
  }
}

function isStrataErrorLike(err: unknown): boolean {
  return err instanceof StrataError;
}
