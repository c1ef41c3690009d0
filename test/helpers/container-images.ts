import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ContainerImageKind, pullContainerImage } from '../../src/services/images/container-image.js';
import { ImageStore } from '../../src/services/images/image-store.js';
import { SHARED_STRATA_HOME } from './debian-image.js';

/**
 * The container images shared by end-to-end tests and benchmarks, kept in the same shared store as the Debian VM
 * image (`$STRATA_TEST_HOME`, default `<tmpdir>/strata-test-home`). The first caller builds an image (the Debian
 * one takes about a minute: debootstrap from the host's mirror); later callers, in this or another test process,
 * find it up to date and build nothing. Two processes asking at once: the second waits for the store's build lock.
 */
export interface SharedContainerImage {
  home: string;
  name: string;
  arch: string;
  rootfsPath: string;
}

const memo = new Map<ContainerImageKind, Promise<SharedContainerImage>>();

/** Builds (once) or finds the container image `kind` in the shared test store. */
export function ensureContainerImage(kind: ContainerImageKind): Promise<SharedContainerImage> {
  let p = memo.get(kind);
  if (!p) {
    p = ensureOnce(kind);
    memo.set(kind, p);
  }
  return p;
}

async function ensureOnce(kind: ContainerImageKind): Promise<SharedContainerImage> {
  const store = new ImageStore(SHARED_STRATA_HOME);
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      const r = await pullContainerImage({ store, kind, env: process.env, signal: AbortSignal.timeout(10 * 60_000) });
      return { home: SHARED_STRATA_HOME, name: r.manifest.name, arch: r.manifest.arch, rootfsPath: r.rootfsPath };
    } catch (err) {
      if ((err as { code?: string }).code !== 'CONFLICT' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Seeds the image store of `home` with the shared container image `kind` (hard links: the image is only ever an
 * overlay's read-only lower layer), so a pull through a daemon of `home` finds it up to date instead of building it
 * again.
 */
export async function seedContainerImage(home: string, kind: ContainerImageKind): Promise<void> {
  const shared = await ensureContainerImage(kind);
  mkdirSync(join(home, 'images'), { recursive: true });
  const target = join(home, 'images', `${kind}-container`);
  if (!existsSync(target)) execFileSync('cp', ['-al', dirname(shared.rootfsPath), target]);
}
