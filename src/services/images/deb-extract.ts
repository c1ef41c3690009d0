/**
 * Unpacks Debian packages without installing them: our own reader walks the `ar` archive of the `.deb`
 * (deb(5): `debian-binary`, `control.tar.*`, `data.tar.*`) and streams the data member into the host's `tar`,
 * which decompresses it (xz, zstd or gzip). Streaming through our reader is what gives a byte-accurate unpack
 * progress. No maintainer script runs.
 */

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked } from './fs-checked.js';
import { runTool } from './host-tools.js';

const AR_MAGIC = '!<arch>\n';
const AR_HEADER_BYTES = 60;

/** One member of an `ar` archive: its name and where its bytes are. */
export interface ArMember {
  name: string;
  offset: number;
  sizeBytes: number;
}

/**
 * Lists the members of the `ar` archive at `path` (common `ar` format: 8-byte magic, then per member a 60-byte
 * header with the size in decimal at bytes 48..57, data padded to an even length). INVALID_ARGUMENT when the
 * file is not an ar archive.
 */
export async function listArMembers(path: string): Promise<ArMember[]> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw fsError(err, path, 'reading');
  });
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(AR_HEADER_BYTES);
    await fh.read(head, 0, AR_MAGIC.length, 0);
    if (head.toString('latin1', 0, AR_MAGIC.length) !== AR_MAGIC) {
      throw new StrataError('INVALID_ARGUMENT', `${path} is not a Debian package (no ar archive magic)`);
    }
    const members: ArMember[] = [];
    let pos = AR_MAGIC.length;
    while (pos + AR_HEADER_BYTES <= size) {
      await fh.read(head, 0, AR_HEADER_BYTES, pos);
      if (head.toString('latin1', 58, 60) !== '`\n') {
        throw new StrataError('INVALID_ARGUMENT', `${path}: corrupt ar member header at offset ${pos}`);
      }
      const name = head.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      const sizeBytes = Number(head.toString('latin1', 48, 58).trim());
      const offset = pos + AR_HEADER_BYTES;
      if (!Number.isSafeInteger(sizeBytes) || offset + sizeBytes > size) {
        throw new StrataError('INVALID_ARGUMENT', `${path}: ar member '${name}' runs past the end of the file`);
      }
      members.push({ name, offset, sizeBytes });
      pos = offset + sizeBytes + (sizeBytes % 2);
    }
    return members;
  } finally {
    await fh.close();
  }
}

/**
 * Extracts the data archive of the package at `debPath` into `destDir` (created when missing), reporting the
 * package bytes read so far through `onBytes`. INVALID_ARGUMENT for a file that is not a package, UNAVAILABLE
 * when `tar` (or its decompressor) is missing, NO_SPACE naming `destDir` when the disk fills, IO otherwise.
 */
export async function extractDeb(
  debPath: string,
  destDir: string,
  opts: { env: NodeJS.ProcessEnv; signal: AbortSignal; onBytes?: (bytes: number) => void },
): Promise<void> {
  const members = await listArMembers(debPath);
  const data = members.find((m) => /^data\.tar(\.(xz|zst|gz))?$/.test(m.name));
  if (!data) throw new StrataError('INVALID_ARGUMENT', `${debPath} has no data.tar member`);
  const flag = data.name.endsWith('.xz')
    ? ['-J']
    : data.name.endsWith('.zst')
      ? ['--zstd']
      : data.name.endsWith('.gz')
        ? ['-z']
        : [];
  await mkdirChecked(destDir);
  const input = createReadStream(debPath, { start: data.offset, end: data.offset + data.sizeBytes - 1 });
  let read = data.offset;
  input.on('data', (chunk) => {
    read += chunk.length;
    opts.onBytes?.(read);
  });
  await runTool('tar', ['-x', ...flag, '-f', '-', '-C', destDir, '--no-same-owner'], {
    env: opts.env,
    signal: opts.signal,
    input,
    onFail: (stderr, code) =>
      /No space left on device/i.test(stderr)
        ? new StrataError('NO_SPACE', `no space left on device extracting ${debPath} into ${destDir}`)
        : new StrataError('IO', `cannot extract ${debPath}: ${stderr || `tar exit code ${code}`}`),
  });
}
