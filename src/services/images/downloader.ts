/**
 * Downloads package files into a cache folder with a byte-accurate progress report and checks each against the
 * size and SHA256 of the signed apt index. A file is written as `<name>.partial` and renamed only once its hash
 * matches, so the cache never holds a half-written or corrupt file under its final name.
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';
import { formatBytes } from '../../base/units.js';
import { fsError } from './fs-checked.js';
import { hashFile } from './image-store.js';

/** One file to fetch: where from, the name to store it as, and what the signed index says it is. */
export interface DownloadItem {
  url: string;
  fileName: string;
  sizeBytes: number;
  sha256: string;
}

/** What a download run did. */
export interface DownloadResult {
  /** Bytes fetched from the network (0 when every file was already cached). */
  downloadedBytes: number;
  /** Files fetched now. */
  fetched: string[];
  /** Files already in the cache with the right hash. */
  reused: string[];
}

/** `fetch` as the downloader uses it; injected in tests. */
export type FetchFn = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

/**
 * Makes every item present and verified in `destDir`: reuses a cached file whose sha256 matches, downloads the
 * others (progress over the bytes to fetch). Errors: NETWORK (unreachable, HTTP status), CHECKSUM (size or
 * sha256 differs from the index), NO_SPACE/IO naming the file, ABORTED on `signal`.
 */
export async function downloadVerified(
  items: readonly DownloadItem[],
  destDir: string,
  opts: { progress: ProgressReporter; signal: AbortSignal; fetchFn?: FetchFn },
): Promise<DownloadResult> {
  const fetchFn: FetchFn = opts.fetchFn ?? ((url, init) => fetch(url, init));
  const { reused, todo } = await findCached(items, destDir, opts);
  const result: DownloadResult = { downloadedBytes: 0, fetched: [], reused: reused.map((i) => i.fileName) };
  if (todo.length === 0) return result;
  const totalBytes = todo.reduce((n, i) => n + i.sizeBytes, 0);
  opts.progress.phase(`downloading ${todo.length} package${todo.length === 1 ? '' : 's'}`, totalBytes);
  let doneBytes = 0;
  for (const item of todo) {
    const got = await downloadOne(item, destDir, fetchFn, opts.signal, (n) => {
      opts.progress.update(doneBytes + n, totalBytes);
    });
    doneBytes += got;
    result.downloadedBytes += got;
    result.fetched.push(item.fileName);
  }
  opts.progress.done(`downloaded ${todo.length} package${todo.length === 1 ? '' : 's'}, ${formatBytes(doneBytes)}`);
  return result;
}

/**
 * Splits `items` into those already in `destDir` with the right size and sha256 (`reused`) and those to
 * download (`todo`), hashing the cached files with a progress bar. No network.
 */
export async function findCached(
  items: readonly DownloadItem[],
  destDir: string,
  opts: { progress: ProgressReporter; signal: AbortSignal },
): Promise<{ reused: DownloadItem[]; todo: DownloadItem[] }> {
  const reused: DownloadItem[] = [];
  const todo: DownloadItem[] = [];
  const present: { item: DownloadItem; size: number }[] = [];
  for (const item of items) {
    checkFileName(item.fileName);
    const path = join(destDir, item.fileName);
    const size = await stat(path).then(
      (st) => st.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return -1;
        throw fsError(err, path, 'reading');
      },
    );
    // A cached file of the wrong size cannot match: download it again without hashing it.
    if (size === item.sizeBytes) present.push({ item, size });
    else todo.push(item);
  }
  const total = present.reduce((n, p) => n + p.size, 0);
  if (present.length > 0)
    opts.progress.phase(`checking ${present.length} cached package${present.length === 1 ? '' : 's'}`, total);
  let done = 0;
  for (const { item } of present) {
    const before = done;
    const cached = await hashFile(join(destDir, item.fileName), opts.signal, (n) =>
      opts.progress.update(before + n, total),
    );
    done += cached.sizeBytes;
    if (cached.sha256 === item.sha256 && cached.sizeBytes === item.sizeBytes) reused.push(item);
    else todo.push(item);
  }
  if (present.length > 0) opts.progress.done();
  return { reused, todo };
}

function checkFileName(name: string): void {
  if (name === '' || name.includes('/') || name.startsWith('.')) {
    throw new StrataError('INVALID_ARGUMENT', `invalid download file name '${name}'`);
  }
}

async function downloadOne(
  item: DownloadItem,
  destDir: string,
  fetchFn: FetchFn,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<number> {
  const finalPath = join(destDir, item.fileName);
  const partial = `${finalPath}.partial`;
  let response: Response;
  try {
    response = await fetchFn(item.url, { signal });
  } catch (err) {
    if (signal.aborted) throw new StrataError('ABORTED', `download of ${item.url} cancelled`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new StrataError('NETWORK', `cannot download ${item.url}: ${why}`, { cause: err });
  }
  if (!response.ok || !response.body) {
    throw new StrataError(
      'NETWORK',
      `cannot download ${item.url}: HTTP ${response.status} ${response.statusText}`.trim(),
    );
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const out = createWriteStream(partial);
  let writeError: unknown;
  out.on('error', (err) => {
    writeError = err;
  });
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      if (writeError) break;
      bytes += chunk.length;
      if (bytes > item.sizeBytes) break;
      hash.update(chunk);
      // events.once rejects when the stream emits 'error' (ENOSPC and friends) while we wait.
      if (!out.write(chunk)) await once(out, 'drain');
      onBytes(bytes);
    }
    out.end();
    if (!writeError) await once(out, 'finish');
    if (writeError) throw fsError(writeError, partial);
    if (bytes !== item.sizeBytes) {
      throw new StrataError(
        'CHECKSUM',
        `download of ${item.fileName} from ${item.url} has the wrong size: expected ${item.sizeBytes} bytes, got ${bytes > item.sizeBytes ? 'more' : bytes}`,
      );
    }
    const sha = hash.digest('hex');
    if (sha !== item.sha256) {
      throw new StrataError(
        'CHECKSUM',
        `checksum mismatch for ${item.fileName} from ${item.url}: expected sha256 ${item.sha256}, got ${sha}`,
      );
    }
    await rename(partial, finalPath).catch((err: unknown) => {
      throw fsError(err, finalPath);
    });
    return bytes;
  } catch (err) {
    out.destroy();
    await unlink(partial).catch(() => {
      // Already gone, or the disk is the problem: the original error is the one to report.
    });
    if (signal.aborted) throw new StrataError('ABORTED', `download of ${item.url} cancelled`);
    if (err instanceof StrataError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code && /^E[A-Z]+$/.test(e.code) && e.syscall) throw fsError(err, partial);
    throw new StrataError('NETWORK', `download of ${item.url} failed: ${(err as Error).message}`, { cause: err });
  }
}
