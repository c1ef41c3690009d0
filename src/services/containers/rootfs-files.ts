/**
 * Files into and out of a container's root file system from the host, the way `strata file push/pull` needs it:
 * every path is resolved inside the root as the container itself would see it, and never leaves it.
 *
 * Resolution walks the path one component at a time with lstat. A symbolic link is followed as if the root were
 * `/` (an absolute target starts again at the root, `..` stops at the root), so a link planted in the container
 * (`/x -> /etc/shadow`) names the container's file, never the host's. Writes go to a new file in the resolved folder
 * (created exclusively, so it cannot be a link) that is then renamed over the target: a link or a hard link at the
 * target is replaced, not written through. After opening, the real path of the descriptor is checked to lie under
 * the root, which closes the window of a process in the container swapping a folder for a link during a pull; during
 * a push that window (between the check of the folder and the rename) remains and is documented.
 */

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { checkPulledFile, checkPushSize, instancePathComponents } from '../../base/instance-path.js';

/** Most symbolic links one resolution follows (Linux's own limit, MAXSYMLINKS). */
const MAX_LINKS = 40;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function insideRoot(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * The host path of `path` inside `root`, with every link resolved within the root (see the module comment). With
 * `createFolders`, missing folders on the way are made (mode 0755). The last component need not exist.
 */
export async function resolveInRoot(
  root: string,
  path: string,
  opts: { createFolders?: boolean } = {},
): Promise<string> {
  const queue = instancePathComponents(path);
  const resolved: string[] = [];
  let links = 0;
  while (queue.length > 0) {
    const c = queue.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const p = join(root, ...resolved, c);
    const st = await lstat(p).catch((err: unknown) => {
      if (errno(err) === 'ENOENT') return undefined;
      throw new StrataError('IO', `cannot look up '${path}' in the container: ${(err as Error).message}`);
    });
    const last = queue.length === 0;
    if (!st) {
      if (last) {
        resolved.push(c);
        break;
      }
      if (!opts.createFolders) throw new StrataError('NOT_FOUND', `no file '${path}' in the container`);
      await mkdir(p, { mode: 0o755 });
      resolved.push(c);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) {
        throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': more than ${MAX_LINKS} symbolic links`);
      }
      const target = await readlink(p);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
      continue;
    }
    if (!last && !st.isDirectory()) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `invalid path '${path}': '${resolved.concat(c).join('/')}' is not a folder`,
      );
    }
    resolved.push(c);
  }
  return join(root, ...resolved);
}

/** Writes `bytes` to `path` inside `root` (folders made as needed); an existing file keeps its mode and owner. */
export async function writeFileInRoot(root: string, path: string, bytes: Uint8Array): Promise<void> {
  checkPushSize(bytes.length);
  const realRoot = await realpath(root);
  const target = await resolveInRoot(realRoot, path, { createFolders: true });
  const folder = dirname(target);
  if (!insideRoot(realRoot, await realpath(folder))) {
    throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': it leads outside the container`);
  }
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': it is a folder`);
  const tmp = join(folder, `.strata-push-${randomBytes(6).toString('hex')}`);
  const fh = await open(
    tmp,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    0o644,
  );
  try {
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (existing?.isFile()) {
      await chmod(tmp, existing.mode & 0o7777);
      await chown(tmp, existing.uid, existing.gid);
    }
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (errno(err) === 'ENOSPC') throw new StrataError('NO_SPACE', `no space for '${path}' in the container`);
    throw err instanceof StrataError ? err : new StrataError('IO', `cannot write '${path}': ${(err as Error).message}`);
  }
}

/** Reads the regular file `path` inside `root` (at most MAX_INSTANCE_FILE_BYTES). */
export async function readFileInRoot(root: string, path: string): Promise<Buffer> {
  const realRoot = await realpath(root);
  const target = await resolveInRoot(realRoot, path);
  const fh = await open(target, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(
    (err: unknown) => {
      if (errno(err) === 'ENOENT') throw new StrataError('NOT_FOUND', `no file '${path}' in the container`);
      if (errno(err) === 'ELOOP') throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': a link`);
      throw new StrataError('IO', `cannot open '${path}': ${(err as Error).message}`);
    },
  );
  try {
    const real = await readlink(`/proc/self/fd/${fh.fd}`);
    if (!insideRoot(realRoot, real)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': it leads outside the container`);
    }
    checkPulledFile(path, await fh.stat());
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
