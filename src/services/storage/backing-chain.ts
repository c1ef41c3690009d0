import { open, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { ioError } from './io-util.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawBackend } from './raw-backend.js';

/** A BlockBackend that can be closed. */
export type ClosableBackend = BlockBackend & { close(): Promise<void> };

/** Longest backing chain accepted (overlay included). */
export const MAX_CHAIN_DEPTH = 64;

/** Reads the first bytes of `path` and says which format they look like. */
export async function probeFormat(path: string): Promise<'raw' | 'qcow2'> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(path, 'cannot open the image', err);
  }
  try {
    const magic = new Uint8Array(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    // qcow2.txt "Header": magic is 'Q', 'F', 'I', 0xfb
    return bytesRead === 4 && magic[0] === 0x51 && magic[1] === 0x46 && magic[2] === 0x49 && magic[3] === 0xfb
      ? 'qcow2'
      : 'raw';
  } finally {
    await fh.close();
  }
}

/** Options of {@link openImageChain}. */
export interface ChainOptions {
  format?: 'raw' | 'qcow2';
  readOnly?: boolean;
  signal?: AbortSignal;
  /** Called when a dirty image is repaired on open. */
  onRepair?: (what: string) => void;
}

/**
 * Opens an image and, for qcow2, its backing chain: backing names resolve against the folder of the image that
 * names them (qcow2.txt "backing_file_offset"), backing files open read-only, the backing format extension is
 * obeyed (probing only without one), and a chain longer than {@link MAX_CHAIN_DEPTH} or one that reaches a file
 * twice (compared by device and inode, so other paths to the same file are caught) is refused.
 */
export function openImageChain(path: string, opts: ChainOptions): Promise<ClosableBackend> {
  return openLink(path, opts, [], []);
}

async function openLink(path: string, opts: ChainOptions, seen: string[], names: string[]): Promise<ClosableBackend> {
  opts.signal?.throwIfAborted();
  let id: string;
  try {
    const st = await stat(path);
    id = `${st.dev}:${st.ino}`;
  } catch (err) {
    const via = names.length > 0 ? ` (backing file of ${names[names.length - 1]})` : '';
    throw ioError(path, `cannot open the image${via}`, err);
  }
  if (seen.includes(id)) {
    throw new StrataError('INVALID_ARGUMENT', `${names[0]}: backing chain loop: ${[...names, path].join(' -> ')}`);
  }
  if (seen.length >= MAX_CHAIN_DEPTH) {
    throw new StrataError('INVALID_ARGUMENT', `${names[0]}: backing chain is longer than ${MAX_CHAIN_DEPTH} images`);
  }
  const format = opts.format ?? (await probeFormat(path));
  const readOnly = opts.readOnly ?? false;
  if (format === 'raw') return RawBackend.open(path, { readOnly });
  return Qcow2Image.open(path, {
    readOnly,
    ...(opts.onRepair ? { onRepair: opts.onRepair } : {}),
    openBacking: (name, fmt) => {
      if (fmt !== null && fmt !== 'raw' && fmt !== 'qcow2') {
        return Promise.reject(new StrataError('INVALID_ARGUMENT', `${path}: backing format ${fmt} is not supported`));
      }
      const resolved = isAbsolute(name) ? name : join(dirname(path), name);
      return openLink(
        resolved,
        { ...(fmt ? { format: fmt } : {}), readOnly: true, ...(opts.signal ? { signal: opts.signal } : {}) },
        [...seen, id],
        [...names, path],
      );
    },
  });
}
