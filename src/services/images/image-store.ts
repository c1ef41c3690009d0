/**
 * The local image store: `$STRATA_HOME/images/<name>` holds an image's files and its `manifest.json` (name,
 * arch, kernel version, the sha256 of every file, created time). Download and apt state lives beside it in
 * `$STRATA_HOME/cache/`.
 *
 * Layout and atomic replacement. `images/<name>` is a symbolic link to the image's content folder
 * `images/.image-<name>@<random>`. A new image is built in a staging folder (`images/.staging-<name>@<pid>-<random>`),
 * which becomes a content folder when complete; a new link (`.link-<name>@<pid>-<random>`) pointing at it is then
 * renamed over `images/<name>`. rename(2) replaces the link atomically, so a reader that looks the name up
 * sees the old image or the new one, never none and never a half-written one; a failure at any point leaves the
 * previous image. The replaced content folder is removed right after: a reader that resolved the old link and
 * is still opening its files then gets "no such file" (never a mix of two images: read every file through one
 * resolved folder, see `resolveImage`). Stores written before this layout hold a real folder at `images/<name>`;
 * replacing one moves it aside first (`.replaced-<name>@<pid>-<random>`), the only case where the name is
 * briefly missing, once per image.
 *
 * Every temporary name carries its creator's pid after the `@` (image names cannot contain `@`), so leftovers of
 * a crashed process are removed by the next staging while those of a live process are left alone.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked, removeQuietly, writeFileChecked } from './fs-checked.js';
import { CorruptManifestError, checkImageName, type ImageManifest, parseManifest } from './image-manifest.js';

// The manifest types and parser live in image-manifest.ts; re-exported here, where the store's users look.
export {
  CorruptManifestError,
  checkImageName,
  type ImageFile,
  type ImageFileRole,
  type ImageManifest,
  type ImageType,
  imageTypeOf,
  MANIFEST_SCHEMA_VERSION,
  parseManifest,
} from './image-manifest.js';

/**
 * The store's root: `$STRATA_HOME` when set, else `$XDG_DATA_HOME/strata` (when absolute, per the XDG base
 * directory spec), else `~/.local/share/strata`.
 */
export function defaultStrataHome(env: NodeJS.ProcessEnv): string {
  if (env.STRATA_HOME) return env.STRATA_HOME;
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'strata');
  return join(env.HOME || homedir(), '.local', 'share', 'strata');
}

/** The sha256 (hex) and size of a file, read as a stream; `onBytes` is told the bytes hashed so far. */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
  onBytes?: (n: number) => void,
): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    for await (const chunk of createReadStream(path, { signal })) {
      hash.update(chunk as Buffer);
      sizeBytes += (chunk as Buffer).length;
      onBytes?.(sizeBytes);
    }
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new StrataError('ABORTED', `hashing ${path} cancelled`);
    throw fsError(err, path, 'reading');
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/** A folder where a new image is built; `commit` moves it into the store, `discard` removes it. */
export interface ImageStaging {
  readonly dir: string;
  /** Writes the manifest and atomically replaces any previous image of that name (see the file comment). */
  commit(manifest: ImageManifest): Promise<void>;
  /** Removes the staging folder; safe to call after commit or twice. */
  discard(): Promise<void>;
}

/** An image's manifest and the content folder its files were read from (one resolution of its link). */
export interface ResolvedImage {
  manifest: ImageManifest;
  /** The real folder of the image's files: read every file from here, not through `images/<name>`. */
  dir: string;
}

/** A temporary name in the images folder: `.<kind>-<name>@<pid>-<random>`. */
const TEMP_NAME = /^\.(staging|link|replaced|removing)-(.+)@(\d+)-[0-9a-f]+$/;
/** Temporary names written before pids were recorded in them: staging had a pid, the others had none. */
const LEGACY_STAGING = /^\.staging-.+-(\d+)-[0-9a-f]+$/;
const LEGACY_NO_PID = /^\.(replaced|removing)-[^@]+$/;
/** Legacy pid-less leftovers older than this are from a process that is gone (their window was a rename). */
const LEGACY_STALE_MS = 60 * 60_000;
/** A content folder: `.image-<name>@<random>`. */
const CONTENT_NAME = /^\.image-(.+)@[0-9a-f]+$/;

const hex = () => randomBytes(4).toString('hex');

/** The image store rooted at `homeDir` (`$STRATA_HOME`). */
export class ImageStore {
  readonly imagesDir: string;
  readonly cacheDir: string;

  constructor(readonly homeDir: string) {
    this.imagesDir = join(homeDir, 'images');
    this.cacheDir = join(homeDir, 'cache');
  }

  /** The path of image `name` (a link to its content folder; whether or not it exists). */
  imageDir(name: string): string {
    checkImageName(name);
    return join(this.imagesDir, name);
  }

  /**
   * The manifest of image `name`, or undefined when there is no such image. A CorruptManifestError (IO, naming
   * the file) when it exists but is not a valid manifest.
   */
  async get(name: string): Promise<ImageManifest | undefined> {
    return (await this.resolve(name))?.manifest;
  }

  /**
   * Resolves `images/<name>` once and reads the manifest from the folder it points to: files read from the
   * returned `dir` all belong to that manifest even if the image is replaced meanwhile. Undefined when there is
   * no such image; CorruptManifestError when the manifest is damaged.
   */
  async resolve(name: string): Promise<ResolvedImage | undefined> {
    const link = this.imageDir(name);
    let dir: string;
    try {
      dir = await realpath(link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, link, 'reading');
    }
    const path = join(dir, 'manifest.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      // A folder without a manifest is not an image (an interrupted legacy replacement, or a user's folder).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, path, 'reading');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CorruptManifestError(join(link, 'manifest.json'), 'not JSON');
    }
    return { manifest: parseManifest(json, join(link, 'manifest.json')), dir };
  }

  /** Every image's manifest, sorted by name (staging, content and other dot-folders are not images). */
  async list(): Promise<ImageManifest[]> {
    let names: string[];
    try {
      names = await readdir(this.imagesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(err, this.imagesDir, 'reading');
    }
    const out: ImageManifest[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const m = await this.get(name);
      if (m) out.push(m);
    }
    return out;
  }

  /** Removes image `name`; NOT_FOUND naming the store when it does not exist. */
  async remove(name: string): Promise<void> {
    const dir = this.imageDir(name);
    const kind = await entryKind(dir);
    if (kind === 'none') throw new StrataError('NOT_FOUND', `no image named '${name}' in ${this.imagesDir}`);
    // Rename first so a concurrent reader sees the image or no image, never a half-deleted one.
    const trash = join(this.imagesDir, `.removing-${name}@${process.pid}-${hex()}`);
    await rename(dir, trash).catch((err: unknown) => {
      throw fsError(err, dir, 'removing');
    });
    if (kind === 'link') {
      const target = await readlink(trash).catch((err: unknown) => {
        throw fsError(err, trash, 'reading');
      });
      if (CONTENT_NAME.test(target)) await removeChecked(join(this.imagesDir, target));
    }
    await removeChecked(trash);
  }

  /**
   * True when every file the manifest names exists with its recorded size and sha256. Used to decide that an
   * image is up to date; a damaged image is rebuilt. `onBytes` reports the bytes hashed so far.
   */
  async verify(manifest: ImageManifest, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<boolean> {
    const dir = this.imageDir(manifest.name);
    let done = 0;
    for (const f of manifest.files) {
      const path = join(dir, f.path);
      const got = await hashFile(path, signal, (n) => onBytes?.(done + n)).catch((err: unknown) => {
        if ((err as StrataError).code === 'ABORTED') throw err;
        // A missing or unreadable file is exactly what verify reports: the image is damaged and gets rebuilt.
        return undefined;
      });
      if (!got || got.sha256 !== f.sha256 || got.sizeBytes !== f.sizeBytes) return false;
      done += got.sizeBytes;
    }
    return true;
  }

  /**
   * A fresh staging folder for image `name` inside the store; call it holding `lockForBuild(name)`. Leftovers of
   * processes that are gone (a crash, a kill -9) are removed first, and so are content folders of `name` that
   * its link no longer points to.
   */
  async beginStaging(name: string): Promise<ImageStaging> {
    const finalDir = this.imageDir(name);
    await mkdirChecked(this.imagesDir);
    await this.removeStale(name);
    const dir = join(this.imagesDir, `.staging-${name}@${process.pid}-${hex()}`);
    await mkdirChecked(dir);
    const imagesDir = this.imagesDir;
    return {
      dir,
      async commit(manifest: ImageManifest): Promise<void> {
        await writeFileChecked(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
        await installImage(imagesDir, name, dir, finalDir);
      },
      async discard(): Promise<void> {
        // After a commit the folder is gone; after a failure the first error is the one to report, and a
        // folder left behind carries our pid, so the next staging removes it once we have exited.
        await removeQuietly(dir);
      },
    };
  }

  /**
   * Takes the store's lock for building image `name` (a file `images/.pull-<name>.lock` holding the owner's
   * pid, created exclusively) and returns its release function. CONFLICT naming the pid when a live process
   * holds it; a lock left by a process that is gone is taken over.
   */
  async lockForBuild(name: string): Promise<() => Promise<void>> {
    checkImageName(name);
    await mkdirChecked(this.imagesDir);
    const path = join(this.imagesDir, `.pull-${name}.lock`);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        return async () => {
          await rm(path, { force: true }).catch(() => {
            // Best effort: the lock names our pid, and a lock of a process that is gone is taken over.
          });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, path);
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        // Released between our create and this read: try again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw fsError(err, path, 'reading');
      }
      const owner = Number(text.trim());
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new StrataError(
          'CONFLICT',
          `another pull of image ${name} is running (pid ${owner}); try again when it ends`,
        );
      }
      await removeChecked(path);
    }
    throw new StrataError('CONFLICT', `cannot take the build lock ${path}`);
  }

  /** Removes leftovers of dead processes and the content folders of `name` that are no longer linked. */
  private async removeStale(name: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.imagesDir);
    } catch (err) {
      throw fsError(err, this.imagesDir, 'reading');
    }
    const linked = await readlink(this.imageDir(name)).catch((err: NodeJS.ErrnoException) => {
      // No image (ENOENT) or a store from before links (EINVAL): none of its content folders is in use.
      if (err.code === 'ENOENT' || err.code === 'EINVAL') return undefined;
      throw fsError(err, this.imageDir(name), 'reading');
    });
    for (const n of names) {
      const path = join(this.imagesDir, n);
      const pidText = TEMP_NAME.exec(n)?.[3] ?? LEGACY_STAGING.exec(n)?.[1];
      if (pidText !== undefined) {
        const pid = Number(pidText);
        if (pid === process.pid || isAlive(pid)) continue;
        await removeChecked(path);
        continue;
      }
      if (LEGACY_NO_PID.test(n)) {
        const age = await lstat(path).then(
          (st) => Date.now() - st.mtimeMs,
          () => 0, // Gone since readdir (its owner finished): nothing to remove.
        );
        if (age > LEGACY_STALE_MS) await removeChecked(path);
        continue;
      }
      const content = CONTENT_NAME.exec(n);
      if (content?.[1] === name && n !== linked) await removeChecked(path);
    }
  }
}

/** What is at `path`: nothing, a symbolic link (current layout) or a real folder (stores before links). */
async function entryKind(path: string): Promise<'none' | 'link' | 'dir'> {
  try {
    const st = await lstat(path);
    return st.isSymbolicLink() ? 'link' : 'dir';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw fsError(err, path, 'reading');
  }
}

/** `rm -rf` that throws fsError naming the path. */
async function removeChecked(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch((err: unknown) => {
    throw fsError(err, path, 'removing');
  });
}

/**
 * Makes the complete staging folder `staging` the image `name`: renames it to a content folder, points a new
 * link at it and renames the link over `finalDir` (see the file comment). On failure the previous image is
 * still at `finalDir`, or the error says where it is.
 */
async function installImage(imagesDir: string, name: string, staging: string, finalDir: string): Promise<void> {
  const content = join(imagesDir, `.image-${name}@${hex()}`);
  await rename(staging, content).catch((err: unknown) => {
    throw fsError(err, content, 'creating');
  });
  const link = join(imagesDir, `.link-${name}@${process.pid}-${hex()}`);
  const undo = async (err: unknown): Promise<never> => {
    // The new image never became visible: its content folder and link are ours alone to remove.
    await removeQuietly(link);
    await removeQuietly(content);
    throw fsError(err, finalDir, 'creating');
  };
  await symlink(basename(content), link).catch(undo);
  const oldKind = await entryKind(finalDir).catch(undo);
  const oldTarget = oldKind === 'link' ? await readlink(finalDir).catch(undo) : undefined;
  let movedAside: string | undefined;
  if (oldKind === 'dir') {
    // A store from before links: rename(2) cannot replace a folder with a link, so move the folder aside.
    movedAside = join(imagesDir, `.replaced-${name}@${process.pid}-${hex()}`);
    await rename(finalDir, movedAside).catch((err: unknown) => {
      throw fsError(err, finalDir, 'replacing');
    });
  }
  try {
    await rename(link, finalDir);
  } catch (err) {
    if (movedAside) {
      await rename(movedAside, finalDir).catch((back: unknown) => {
        throw new StrataError(
          'IO',
          `cannot install image ${name} (${fsError(err, finalDir, 'creating').message}) nor put the previous image back (${fsError(back, finalDir).message}): it is at ${movedAside}`,
          { cause: err },
        );
      });
    }
    return undo(err);
  }
  // The new image is in place; the old content goes now. A failure here leaves an unlinked content folder,
  // which the next staging of this image removes: not worth failing a pull that succeeded.
  if (oldTarget !== undefined && CONTENT_NAME.test(oldTarget)) await removeQuietly(join(imagesDir, oldTarget));
  if (movedAside) await removeQuietly(movedAside);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
