/**
 * `strata image pull debian`: builds a riscv64 guest image from Debian 13 (trixie) packages. apt (under a
 * private configuration, host mirror, host keyring) resolves and verifies the index; we download the packages
 * with a byte-accurate progress bar, check each against the signed index's SHA256, and build the image
 * (`debian-image-build.ts`).
 *
 * Network work happens only when needed. The time of the last successful index check is kept in the cache
 * (`index-freshness.ts`): within INDEX_FRESH_MS a pull resolves versions from the cached signed index and does
 * no network work at all (an up-to-date image is reported as such, a builder change rebuilds from cached
 * packages); `refresh` checks the index now. Should a package have to be downloaded while the index was not
 * checked in this pull, the index is checked first, so downloads always follow a current index.
 */

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, isStrataError, StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';
import { formatBytes } from '../../base/units.js';
import { type AptStanza, PrivateApt } from './apt-private.js';
import { discoverDebianMirror, normalizeMirrorUrl } from './apt-sources.js';
import { buildImage } from './debian-image-build.js';
import { type DownloadItem, downloadVerified, type FetchFn, findCached } from './downloader.js';
import { fsError, mkdirChecked, removeQuietly } from './fs-checked.js';
import { CorruptManifestError, type ImageManifest, type ImageStore, MANIFEST_SCHEMA_VERSION } from './image-store.js';
import { formatAge, INDEX_FRESH_MS, readIndexStamp, writeIndexStamp } from './index-freshness.js';

/** Image names `strata image pull` can build. */
export const PULLABLE_IMAGES: readonly string[] = ['debian'];
/** The Debian release the image is built from (Debian 13). */
export const DEBIAN_SUITE = 'trixie';
/** The archive component holding every package the image needs. */
export const DEBIAN_COMPONENT = 'main';
/** The Debian architecture of the image. */
export const DEBIAN_ARCH = 'riscv64';
/** The keyring that verifies trixie's Release file on a Debian host (Debian 12's keyring includes its key). */
export const DEFAULT_DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The packages the image is made of; the versioned kernel package is resolved from the meta package. */
const KERNEL_META = 'linux-image-riscv64';
const BUSYBOX = 'busybox-static';
const OPENSBI = 'opensbi';

/**
 * Bumped whenever the image layout or `/init` changes, so an existing image is rebuilt (a manifest whose
 * `builderVersion` differs is never up to date). 2: busybox init runs the console and handles poweroff/reboot.
 */
export const DEBIAN_BUILDER_VERSION = 2;

/** Inputs of a Debian pull. */
export interface DebianPullOptions {
  store: ImageStore;
  /** Image name in the store (the pull source is always Debian). */
  name?: string;
  /** The environment tools run with (PATH decides which apt-get, tar, xz). */
  env: NodeJS.ProcessEnv;
  /** A mirror URL to use instead of the one the host's apt sources name. */
  mirror?: string;
  /** Check the mirror's index now even when the cached one is fresh. */
  refresh?: boolean;
  /** The host apt configuration folder read for the mirror (default `/etc/apt`). */
  aptEtcDir?: string;
  keyring?: string;
  progress: ProgressReporter;
  signal: AbortSignal;
  fetchFn?: FetchFn;
  now?: () => Date;
}

/** What a pull did. */
export interface PullResult {
  status: 'created' | 'updated' | 'up-to-date';
  manifest: ImageManifest;
  /** One line for the user that says what happened on the network. */
  message: string;
  /** Package bytes downloaded (0 when up to date or built from the cache). */
  downloadedBytes: number;
  /** True when this pull asked the mirror for its index. */
  indexChecked: boolean;
}

/**
 * Pulls (or refreshes) the Debian image. Errors are one-line StrataErrors: NOT_FOUND (no mirror, missing
 * package or keyring), UNAVAILABLE (apt-get, tar or xz missing), NETWORK, CHECKSUM (a package or a signature
 * that does not verify), NO_SPACE, IO, ABORTED. On any error the store holds the previous image (or none) and
 * no staging folder.
 */
export async function pullDebianImage(opts: DebianPullOptions): Promise<PullResult> {
  const name = opts.name ?? 'debian';
  opts.store.imageDir(name);
  const mirror = await chooseMirror(opts);
  const release = await opts.store.lockForBuild(name);
  try {
    return await pullLocked(opts, name, mirror);
  } finally {
    await release();
  }
}

/** The state of the cached signed index after `ensureIndex`. */
interface IndexState {
  /** True when this pull asked the mirror (apt-get update ran). */
  checkedNow: boolean;
  /** What to tell the user about the index. */
  note: string;
}

/** The versions apt resolved for the image's packages. */
interface Resolved {
  kernelPkg: string;
  kernelVersion: string;
  packages: Record<string, string>;
  summary: string;
}

async function pullLocked(opts: DebianPullOptions, name: string, mirror: string): Promise<PullResult> {
  const { store, progress, signal } = opts;
  const now = opts.now ?? (() => new Date());
  const cache = join(store.cacheDir, 'debian');
  const apt = new PrivateApt({
    stateDir: join(cache, 'apt'),
    mirror,
    suite: DEBIAN_SUITE,
    component: DEBIAN_COMPONENT,
    arch: DEBIAN_ARCH,
    keyring: opts.keyring ?? DEFAULT_DEBIAN_KEYRING,
    env: opts.env,
  });
  await apt.prepare();
  const stampPath = join(cache, 'index-checked.json');
  const existing = await readExisting(store, name, progress);

  // Pass 0 trusts a fresh cached index; pass 1 (only when pass 0 needs the network anyway, or cannot resolve
  // the packages from the cached index) checks the mirror first.
  for (let pass = 0; ; pass++) {
    const index = await ensureIndex({
      apt,
      stampPath,
      mirror,
      force: pass > 0 || opts.refresh === true,
      now,
      progress,
      signal,
    });
    let resolved: Resolved;
    try {
      resolved = await resolvePackages(apt, signal);
    } catch (err) {
      if (index.checkedNow || (isStrataError(err) && err.code === 'ABORTED')) throw err;
      progress.note(`the cached index cannot resolve the packages (${errorMessage(err)}): checking the mirror`);
      continue;
    }
    const { packages, summary, kernelPkg, kernelVersion } = resolved;

    // Hashed at most once per pull: pass 1 reuses pass 0's answer.
    if (existing.manifest && sameBuild(existing.manifest, packages)) {
      existing.intact ??= await verifyImage(store, existing.manifest, progress, signal);
    }
    if (existing.manifest && sameBuild(existing.manifest, packages) && existing.intact) {
      const message = index.checkedNow
        ? `image ${name} is up to date (${summary}): ${index.note}, no package downloaded`
        : `image ${name} is up to date (${summary}): no network used, no package downloaded; ${index.note} — \`--refresh\` checks again now`;
      return {
        status: 'up-to-date',
        manifest: existing.manifest,
        downloadedBytes: 0,
        message,
        indexChecked: index.checkedNow,
      };
    }

    const debsDir = join(cache, 'debs');
    await mkdirChecked(debsDir);
    const downloads = await apt.printUris([KERNEL_META, kernelPkg, BUSYBOX, OPENSBI], signal);
    const { todo } = await findCached(downloads, debsDir, { progress, signal });
    if (todo.length > 0 && !index.checkedNow) {
      progress.note(
        `${todo.length} package${todo.length === 1 ? '' : 's'} to download: checking the mirror's index first`,
      );
      continue;
    }
    const byPackage = new Map<string, DownloadItem>();
    for (const d of downloads) byPackage.set(d.fileName.slice(0, d.fileName.indexOf('_')), d);
    // Only the files not verified in the cache above (downloadVerified checks them once more by size).
    const got = await downloadVerified(todo, debsDir, { progress, signal, fetchFn: opts.fetchFn });

    const staging = await store.beginStaging(name);
    try {
      const deb = (pkg: string): string => {
        const item = byPackage.get(pkg);
        if (!item) throw new StrataError('NOT_FOUND', `apt gave no download for package ${pkg}`);
        return join(debsDir, item.fileName);
      };
      const files = await buildImage({
        dir: staging.dir,
        name,
        kernelVersion,
        debs: { kernel: deb(kernelPkg), busybox: deb(BUSYBOX), opensbi: deb(OPENSBI) },
        env: opts.env,
        progress,
        signal,
      });
      const manifest: ImageManifest = {
        schemaVersion: MANIFEST_SCHEMA_VERSION,
        name,
        arch: DEBIAN_ARCH,
        distribution: 'debian',
        release: DEBIAN_SUITE,
        kernelVersion,
        kernelCmdline: 'console=ttyS0',
        packages,
        mirror,
        files,
        createdAt: now().toISOString(),
        builderVersion: DEBIAN_BUILDER_VERSION,
      };
      await staging.commit(manifest);
      await pruneCache(debsDir, new Set(downloads.map((d) => d.fileName)), progress);
      const sizeBytes = files.reduce((n, f) => n + f.sizeBytes, 0);
      const fetched =
        got.downloadedBytes > 0
          ? `downloaded ${formatBytes(got.downloadedBytes)}`
          : `built from cached packages, no package downloaded${index.checkedNow ? '' : ', no network used'}`;
      return {
        status: existing.present ? 'updated' : 'created',
        manifest,
        downloadedBytes: got.downloadedBytes,
        indexChecked: index.checkedNow,
        message: `pulled image ${name}: Debian ${DEBIAN_SUITE} ${DEBIAN_ARCH}, kernel ${kernelVersion} (${summary}); ${fetched}; image ${formatBytes(sizeBytes)}`,
      };
    } finally {
      await staging.discard();
    }
  }
}

/**
 * The image already in the store. A corrupt manifest is not fatal to a pull, whose job is to write a good
 * image: it is reported (naming the file) and the image rebuilt.
 */
async function readExisting(
  store: ImageStore,
  name: string,
  progress: ProgressReporter,
): Promise<{ manifest?: ImageManifest; present: boolean; intact?: boolean }> {
  try {
    const manifest = await store.get(name);
    return { manifest, present: manifest !== undefined };
  } catch (err) {
    if (!(err instanceof CorruptManifestError)) throw err;
    progress.note(`${err.message}: rebuilding image ${name}`);
    return { present: true };
  }
}

/** `store.verify` with a progress bar over the bytes hashed. */
async function verifyImage(
  store: ImageStore,
  manifest: ImageManifest,
  progress: ProgressReporter,
  signal: AbortSignal,
): Promise<boolean> {
  const total = manifest.files.reduce((n, f) => n + f.sizeBytes, 0);
  progress.phase(`checking image ${manifest.name}`, total);
  const ok = await store.verify(manifest, signal, (n) => progress.update(n, total));
  if (ok) progress.done();
  else progress.fail?.('a file differs from the manifest: rebuilding');
  return ok;
}

/**
 * Makes the cached signed index usable: trusts it when it was checked for these sources less than
 * INDEX_FRESH_MS ago (unless `force`), else runs `apt-get update` (which verifies the signature) with a progress
 * line and records the time.
 */
async function ensureIndex(o: {
  apt: PrivateApt;
  stampPath: string;
  mirror: string;
  force: boolean;
  now: () => Date;
  progress: ProgressReporter;
  signal: AbortSignal;
}): Promise<IndexState> {
  const sources = o.apt.sourcesLine();
  if (!o.force) {
    const stamp = await readIndexStamp(o.stampPath, sources, o.progress);
    const ageMs = stamp ? o.now().getTime() - stamp.getTime() : Number.NaN;
    if (ageMs >= 0 && ageMs < INDEX_FRESH_MS) {
      return { checkedNow: false, note: `the mirror index was checked ${formatAge(ageMs)} ago` };
    }
  }
  // apt fetches the index itself: the bar counts the bytes of its download files; the total is not known.
  o.progress.note(`checking the signed ${DEBIAN_SUITE} ${DEBIAN_ARCH} index of ${o.mirror}`);
  o.progress.phase('fetching the index (size not known ahead)');
  let update: Awaited<ReturnType<PrivateApt['update']>>;
  try {
    update = await o.apt.update(o.signal, (n) => o.progress.update(n));
  } catch (err) {
    o.progress.fail?.('failed');
    throw err;
  }
  const note =
    update.gets === 0
      ? `the mirror's signed index is unchanged (${update.hits} conditional request${update.hits === 1 ? '' : 's'})`
      : `apt fetched the mirror's signed index (${formatBytes(update.fetchedBytes)} in ${update.gets} file${update.gets === 1 ? '' : 's'})`;
  o.progress.done(`index checked: ${note}`);
  for (const w of update.warnings) o.progress.note(w);
  await writeIndexStamp(o.stampPath, sources, o.now());
  return { checkedNow: true, note };
}

/** The versions of the image's packages in the cached index (apt-cache: no network). */
async function resolvePackages(apt: PrivateApt, signal: AbortSignal): Promise<Resolved> {
  const base = await apt.show([KERNEL_META, BUSYBOX, OPENSBI], signal);
  const kernelPkg = versionedKernelPackage(base.get(KERNEL_META));
  const kernelStanza = (await apt.show([kernelPkg], signal)).get(kernelPkg);
  const packages: Record<string, string> = {
    [KERNEL_META]: version(base.get(KERNEL_META), KERNEL_META),
    [kernelPkg]: version(kernelStanza, kernelPkg),
    [BUSYBOX]: version(base.get(BUSYBOX), BUSYBOX),
    [OPENSBI]: version(base.get(OPENSBI), OPENSBI),
  };
  return {
    kernelPkg,
    kernelVersion: kernelPkg.slice('linux-image-'.length),
    packages,
    summary: `linux ${packages[kernelPkg]}, busybox ${packages[BUSYBOX]}, opensbi ${packages[OPENSBI]}`,
  };
}

/** The mirror URL to use: `--mirror` parsed and normalized (its `href`, no trailing slash), else the host's. */
async function chooseMirror(opts: DebianPullOptions): Promise<string> {
  if (opts.mirror !== undefined) return normalizeMirrorUrl(opts.mirror);
  const etc = opts.aptEtcDir ?? '/etc/apt';
  const found = await discoverDebianMirror(etc);
  if (!found) {
    throw new StrataError(
      'NOT_FOUND',
      `no Debian mirror in the host's apt sources (${etc}/sources.list, ${etc}/sources.list.d): pass --mirror URL`,
    );
  }
  return found.uri;
}

function version(stanza: AptStanza | undefined, pkg: string): string {
  const v = stanza?.get('Version');
  if (!v) throw new StrataError('NOT_FOUND', `apt shows no version for package ${pkg}`);
  return v;
}

/** The `linux-image-<version>-riscv64` package the meta package depends on. */
function versionedKernelPackage(meta: AptStanza | undefined): string {
  const deps = (meta?.get('Depends') ?? '').split(',').map((d) => d.trim().split(/\s/)[0] ?? '');
  const pkg = deps.find((d) => /^linux-image-\d[^\s]*-riscv64$/.test(d));
  if (!pkg) throw new StrataError('NOT_FOUND', `${KERNEL_META} depends on no versioned linux-image package`);
  return pkg;
}

/** True when `m` was built by this recipe from exactly `packages` (same names, same versions). */
function sameBuild(m: ImageManifest, packages: Record<string, string>): boolean {
  if (m.builderVersion !== DEBIAN_BUILDER_VERSION) return false;
  const a = Object.keys(packages).sort();
  const b = Object.keys(m.packages).sort();
  return a.length === b.length && a.every((k, i) => k === b[i] && m.packages[k] === packages[k]);
}

/**
 * Removes cached package files (and stray partial files) that the current image no longer uses. Runs after
 * the image is committed, so a failure is reported as a note rather than failing a pull that succeeded.
 */
async function pruneCache(debsDir: string, keep: Set<string>, progress: ProgressReporter): Promise<void> {
  let names: string[];
  try {
    names = await readdir(debsDir);
  } catch (err) {
    progress.note(`cannot prune the package cache: ${fsError(err, debsDir, 'reading').message}`);
    return;
  }
  // removeQuietly: a file that cannot be removed now is retried by the next pull's pruning.
  for (const n of names) if (!keep.has(n)) await removeQuietly(join(debsDir, n));
}
