/** File-system calls of the container and sandbox services that fail with one-line StrataErrors naming the path. */

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { StrataError } from '../../base/errors.js';

/** Maps a Node.js file-system error on `path` to a StrataError (NO_SPACE, NOT_FOUND, IO). */
export function fsError(err: unknown, path: string, verb = 'writing'): StrataError {
  if (err instanceof StrataError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new StrataError('NO_SPACE', `no space left on device ${verb} ${path}`, { cause: err });
  if (code === 'ENOENT') return new StrataError('NOT_FOUND', `no such file or folder ${path}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new StrataError('IO', `permission denied ${verb} ${path}`, { cause: err });
  const why = err instanceof Error ? err.message : String(err);
  return new StrataError('IO', `I/O error ${verb} ${path}: ${why}`, { cause: err });
}

/** `mkdir -p` that throws fsError. */
export async function mkdirChecked(path: string): Promise<void> {
  await mkdir(path, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, path, 'creating');
  });
}

/** `writeFile` that throws fsError. */
export async function writeFileChecked(path: string, data: string | Uint8Array): Promise<void> {
  await writeFile(path, data).catch((err: unknown) => {
    throw fsError(err, path);
  });
}

/** `rm -rf` that never throws (cleanup paths, where the first error is the one to report). */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => {
    // The original error matters more than this one.
  });
}
