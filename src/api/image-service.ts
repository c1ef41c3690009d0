import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../base/errors.js';
import type { ProgressReporter } from '../base/progress.js';
import { type ContainerImageKind, pullContainerImage } from '../services/images/container-image.js';
import { PULLABLE_IMAGES, pullDebianImage } from '../services/images/debian-builder.js';
import { checkImageName, type ImageManifest, type ImageStore, imageTypeOf } from '../services/images/image-store.js';
import type { Image } from './schema/images.js';

/** Image sources the daemon can pull, by name (the image store's own list). */
export const PULL_SOURCES: readonly string[] = PULLABLE_IMAGES;

/** Container images the daemon can pull, by name. */
export const CONTAINER_SOURCES: readonly string[] = ['busybox', 'debian'];

/** The image store as the API sees it: list, show, pull (long), remove. */
export class ImageService {
  /** The size of each container image's root file system, by `name@createdAt` (a rebuilt image is measured again). */
  private readonly rootfsBytes = new Map<string, Promise<number>>();

  constructor(
    readonly store: ImageStore,
    private readonly env: NodeJS.ProcessEnv,
    /** True when an instance uses the image (it is then not removed). */
    private readonly inUse: (name: string) => boolean | Promise<boolean>,
  ) {}

  /** Every image. */
  async list(): Promise<Image[]> {
    return Promise.all((await this.store.list()).map((m) => this.toApi(m)));
  }

  /** Image `name`; NOT_FOUND naming it. */
  async get(name: string): Promise<Image> {
    checkImageName(name);
    const m = await this.store.get(name);
    if (!m) throw new StrataError('NOT_FOUND', `no image named '${name}'`);
    return this.toApi(m);
  }

  /** Checks a pull request before its operation starts. */
  checkSource(source: string, type: 'vm' | 'container' = 'vm'): void {
    if (type === 'container') {
      if (!CONTAINER_SOURCES.includes(source)) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `invalid source: '${source}' (container images that can be pulled: ${CONTAINER_SOURCES.join(', ')})`,
        );
      }
      return;
    }
    if (!PULL_SOURCES.includes(source)) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `invalid source: '${source}' (images that can be pulled: ${PULL_SOURCES.join(', ')})`,
      );
    }
  }

  /** Pulls image `source` (the long part of `POST /1.0/images`). */
  async pull(
    source: string,
    mirror: string | undefined,
    progress: ProgressReporter,
    signal: AbortSignal,
    type: 'vm' | 'container' = 'vm',
  ): Promise<string> {
    this.checkSource(source, type);
    if (type === 'container') {
      const r = await pullContainerImage({
        store: this.store,
        kind: source as ContainerImageKind,
        env: this.env,
        mirror,
        signal,
        progress,
      });
      return `${r.built ? 'built' : 'up to date:'} container image ${r.manifest.name}`;
    }
    const r = await pullDebianImage({ store: this.store, name: source, env: this.env, mirror, progress, signal });
    return r.message;
  }

  /** Removes image `name`; CONFLICT when an instance uses it. */
  async remove(name: string): Promise<void> {
    checkImageName(name);
    if (await this.inUse(name))
      throw new StrataError('CONFLICT', `image '${name}' is used by an instance: delete it first`);
    await this.store.remove(name);
  }

  /** The API view of a manifest: a VM image's size is its files', a container image's its root file system's. */
  private async toApi(m: ImageManifest): Promise<Image> {
    const type = imageTypeOf(m);
    let sizeBytes = m.files.reduce((n, f) => n + f.sizeBytes, 0);
    if (type === 'container') {
      const key = `${m.name}@${m.createdAt}`;
      let measured = this.rootfsBytes.get(key);
      if (!measured) {
        measured = treeBytes(join(this.store.imageDir(m.name), m.rootfs ?? 'rootfs')).catch(() => 0);
        this.rootfsBytes.set(key, measured);
      }
      sizeBytes = await measured;
    }
    return {
      name: m.name,
      type,
      arch: m.arch,
      distribution: m.distribution,
      release: m.release,
      kernelVersion: m.kernelVersion,
      sizeBytes,
      createdAt: m.createdAt,
    };
  }
}

/** Bytes of the regular files below `dir` (a file with several hard links once), links not followed. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p);
        const id = `${st.dev}:${st.ino}`;
        if (!seen.has(id)) {
          seen.add(id);
          total += st.size;
        }
      }
    }
  };
  await walk(dir);
  return total;
}
