import { StrataError } from '../base/errors.js';
import type { ProgressReporter } from '../base/progress.js';
import { type ContainerImageKind, pullContainerImage } from '../services/images/container-image.js';
import { PULLABLE_IMAGES, pullDebianImage } from '../services/images/debian-builder.js';
import { checkImageName, type ImageManifest, type ImageStore } from '../services/images/image-store.js';
import type { Image } from './schema/images.js';

/** Image sources the daemon can pull, by name (the image store's own list). */
export const PULL_SOURCES: readonly string[] = PULLABLE_IMAGES;

/** Container images the daemon can pull, by name. */
export const CONTAINER_SOURCES: readonly string[] = ['busybox', 'debian'];

/** The image store as the API sees it: list, show, pull (long), remove. */
export class ImageService {
  constructor(
    readonly store: ImageStore,
    private readonly env: NodeJS.ProcessEnv,
    /** True when an instance uses the image (it is then not removed). */
    private readonly inUse: (name: string) => boolean | Promise<boolean>,
  ) {}

  /** Every image. */
  async list(): Promise<Image[]> {
    return (await this.store.list()).map(toApi);
  }

  /** Image `name`; NOT_FOUND naming it. */
  async get(name: string): Promise<Image> {
    checkImageName(name);
    const m = await this.store.get(name);
    if (!m) throw new StrataError('NOT_FOUND', `no image named '${name}'`);
    return toApi(m);
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
}

function toApi(m: ImageManifest): Image {
  return {
    name: m.name,
    arch: m.arch,
    distribution: m.distribution,
    release: m.release,
    kernelVersion: m.kernelVersion,
    sizeBytes: m.files.reduce((n, f) => n + f.sizeBytes, 0),
    createdAt: m.createdAt,
  };
}
