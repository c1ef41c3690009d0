/**
 * The local image store: `$STRATA_HOME/images/<name>/` holds an image's files and its `manifest.json` (name,
 * arch, kernel version, the sha256 of every file, created time). A new image is built in a staging folder
 * inside the store (`images/.staging-<name>-<pid>-<random>`) and renamed into place at the end, so a failure at
 * any point leaves the previous image (or none) and no half-written one. Download and apt state lives beside
 * it in `$STRATA_HOME/cache/`.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked, removeQuietly, writeFileChecked } from './fs-checked.js';

/** The manifest format version this code writes and reads. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** What a file of an image is for. */
export type ImageFileRole = 'kernel' | 'initrd' | 'firmware';

/** One file of an image, with the sha256 that `image list --format json` shows and a rebuild compares. */
export interface ImageFile {
  /** Path relative to the image folder. */
  path: string;
  role: ImageFileRole;
  sizeBytes: number;
  sha256: string;
}

/** The manifest of an image (`manifest.json`). */
export interface ImageManifest {
  schemaVersion: number;
  name: string;
  arch: string;
  distribution: string;
  release: string;
  kernelVersion: string;
  /** The kernel command line the image expects (console first). */
  kernelCmdline: string;
  /** Source package name to the exact Debian version the image was built from. */
  packages: Record<string, string>;
  /** The mirror the packages came from. */
  mirror: string;
  files: ImageFile[];
  /** ISO 8601 UTC time the image was built. */
  createdAt: string;
  /** The version of the recipe that built the image; a newer recipe rebuilds it even if no package changed. */
  builderVersion: number;
}

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

/** Throws INVALID_ARGUMENT unless `name` is a valid image name (lower-case letters, digits, `.`, `_`, `-`). */
export function checkImageName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid image name '${name}': use lower-case letters, digits, '.', '_', '-'`,
    );
  }
}

/**
 * Validates parsed JSON as a manifest; throws IO naming `where` and the first bad field. Unknown fields are
 * kept out of the result.
 */
export function parseManifest(value: unknown, where: string): ImageManifest {
  const bad = (field: string) => new StrataError('IO', `corrupt image manifest ${where}: bad or missing '${field}'`);
  if (typeof value !== 'object' || value === null) throw bad('(root)');
  const v = value as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof v[k] !== 'string' || v[k] === '') throw bad(k);
    return v[k] as string;
  };
  if (v.schemaVersion !== MANIFEST_SCHEMA_VERSION) throw bad('schemaVersion');
  if (!Array.isArray(v.files)) throw bad('files');
  const files = v.files.map((f: unknown, i: number): ImageFile => {
    const o = f as Record<string, unknown>;
    const ok =
      typeof o === 'object' &&
      o !== null &&
      typeof o.path === 'string' &&
      !o.path.includes('..') &&
      (o.role === 'kernel' || o.role === 'initrd' || o.role === 'firmware') &&
      Number.isSafeInteger(o.sizeBytes) &&
      typeof o.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(o.sha256);
    if (!ok) throw bad(`files[${i}]`);
    return {
      path: o.path as string,
      role: o.role as ImageFileRole,
      sizeBytes: o.sizeBytes as number,
      sha256: o.sha256 as string,
    };
  });
  const packages = v.packages;
  if (typeof packages !== 'object' || packages === null || Object.values(packages).some((x) => typeof x !== 'string')) {
    throw bad('packages');
  }
  if (Number.isNaN(Date.parse(str('createdAt')))) throw bad('createdAt');
  // Manifests written before builderVersion existed read as version 0: listed, and rebuilt by the next pull.
  const builderVersion = v.builderVersion ?? 0;
  if (!Number.isSafeInteger(builderVersion)) throw bad('builderVersion');
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    name: str('name'),
    arch: str('arch'),
    distribution: str('distribution'),
    release: str('release'),
    kernelVersion: str('kernelVersion'),
    kernelCmdline: str('kernelCmdline'),
    packages: { ...(packages as Record<string, string>) },
    mirror: str('mirror'),
    files,
    createdAt: str('createdAt'),
    builderVersion: builderVersion as number,
  };
}

/** The sha256 (hex) and size of a file, read as a stream. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    for await (const chunk of createReadStream(path, { signal })) {
      hash.update(chunk as Buffer);
      sizeBytes += (chunk as Buffer).length;
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
  /** Writes the manifest and atomically replaces any previous image of that name. */
  commit(manifest: ImageManifest): Promise<void>;
  /** Removes the staging folder; safe to call after commit or twice. */
  discard(): Promise<void>;
}

/** The image store rooted at `homeDir` (`$STRATA_HOME`). */
export class ImageStore {
  readonly imagesDir: string;
  readonly cacheDir: string;

  constructor(readonly homeDir: string) {
    this.imagesDir = join(homeDir, 'images');
    this.cacheDir = join(homeDir, 'cache');
  }

  /** The folder of image `name` (whether or not it exists). */
  imageDir(name: string): string {
    checkImageName(name);
    return join(this.imagesDir, name);
  }

  /** The manifest of image `name`, or undefined when there is no such image. IO error if it is corrupt. */
  async get(name: string): Promise<ImageManifest | undefined> {
    const path = join(this.imageDir(name), 'manifest.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, path, 'reading');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StrataError('IO', `corrupt image manifest ${path}: not JSON`);
    }
    return parseManifest(json, path);
  }

  /** Every image's manifest, sorted by name (staging and other dot-folders are not images). */
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
    const exists = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) throw new StrataError('NOT_FOUND', `no image named '${name}' in ${this.imagesDir}`);
    // Rename first so a concurrent reader never sees a half-deleted image.
    const trash = join(this.imagesDir, `.removing-${name}-${randomBytes(4).toString('hex')}`);
    await rename(dir, trash).catch((err: unknown) => {
      throw fsError(err, dir, 'removing');
    });
    await removeQuietly(trash);
  }

  /**
   * True when every file the manifest names exists with its recorded size and sha256. Used to decide that an
   * image is up to date; a damaged image is rebuilt.
   */
  async verify(manifest: ImageManifest, signal?: AbortSignal): Promise<boolean> {
    const dir = this.imageDir(manifest.name);
    for (const f of manifest.files) {
      const got = await hashFile(join(dir, f.path), signal).catch((err: unknown) => {
        if ((err as StrataError).code === 'ABORTED') throw err;
        return undefined;
      });
      if (!got || got.sha256 !== f.sha256 || got.sizeBytes !== f.sizeBytes) return false;
    }
    return true;
  }

  /**
   * A fresh staging folder for image `name` inside the store. Leftover staging folders of processes that are
   * gone (a crash, a kill -9) are removed first.
   */
  async beginStaging(name: string): Promise<ImageStaging> {
    const finalDir = this.imageDir(name);
    await mkdirChecked(this.imagesDir);
    await this.removeStaleStaging();
    const dir = join(this.imagesDir, `.staging-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdirChecked(dir);
    const imagesDir = this.imagesDir;
    return {
      dir,
      async commit(manifest: ImageManifest): Promise<void> {
        await writeFileChecked(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
        const old = join(imagesDir, `.replaced-${name}-${randomBytes(4).toString('hex')}`);
        const hadOld = await rename(finalDir, old).then(
          () => true,
          (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return false;
            throw fsError(err, finalDir, 'replacing');
          },
        );
        try {
          await rename(dir, finalDir);
        } catch (err) {
          if (hadOld) await rename(old, finalDir).catch(() => undefined);
          throw fsError(err, finalDir, 'creating');
        }
        if (hadOld) await removeQuietly(old);
      },
      async discard(): Promise<void> {
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
            // Best effort: a stale lock is taken over by the next pull anyway.
          });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, path);
      }
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new StrataError(
          'CONFLICT',
          `another pull of image ${name} is running (pid ${owner}); try again when it ends`,
        );
      }
      await rm(path, { force: true }).catch(() => undefined);
    }
    throw new StrataError('CONFLICT', `cannot take the build lock ${path}`);
  }

  private async removeStaleStaging(): Promise<void> {
    const names = await readdir(this.imagesDir).catch(() => [] as string[]);
    for (const n of names) {
      const m = /^\.(?:staging-.+-(\d+)-[0-9a-f]+|removing-.+|replaced-.+)$/.exec(n);
      if (!m) continue;
      const pid = m[1] ? Number(m[1]) : undefined;
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) continue;
      if (pid === process.pid) continue;
      await removeQuietly(join(this.imagesDir, n));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
