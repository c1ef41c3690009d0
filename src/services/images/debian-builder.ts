/**
 * `strata image pull debian`: builds a riscv64 guest image from Debian 13 (trixie) packages. apt (under a
 * private configuration, host mirror, host keyring) resolves and verifies the index; we download the packages
 * with a byte-accurate progress bar, check each against the signed index's SHA256, unpack them, and write the
 * image: the kernel `Image`, OpenSBI firmware (`fw_jump.bin`, `fw_dynamic.bin`) and a gzip'd cpio initramfs.
 * A second pull whose resolved versions match the stored manifest downloads no package and says so.
 */

import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';
import { formatBytes } from '../../base/units.js';
import { type AptStanza, discoverDebianMirror, PrivateApt } from './apt-private.js';
import { extractDeb } from './deb-extract.js';
import { type DownloadItem, downloadVerified, type FetchFn } from './downloader.js';
import { fsError, mkdirChecked, removeQuietly, writeFileChecked } from './fs-checked.js';
import { runTool } from './host-tools.js';
import {
  hashFile,
  type ImageFile,
  type ImageManifest,
  type ImageStore,
  MANIFEST_SCHEMA_VERSION,
} from './image-store.js';
import { buildInitramfs, type InitramfsModule } from './initramfs.js';
import {
  type ModuleNode,
  moduleDepends,
  moduleNameOfPath,
  readModinfo,
  renderModulesDep,
  resolveModuleClosure,
} from './module-deps.js';

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
 * Kernel modules the initramfs carries and loads (with their dependencies): virtio over MMIO (the `virt`
 * board's transport), disks, network, entropy, 9p shares and ext4. `crc32c_generic` is ext4's soft dependency
 * (`softdep=pre: crc32c`), which `depends=` does not list. Names the kernel has built in are skipped.
 */
const WANTED_MODULES = [
  'virtio_mmio',
  'virtio_console',
  'virtio_blk',
  'virtio_net',
  'virtio_rng',
  '9pnet_virtio',
  '9p',
  'crc32c_generic',
  'ext4',
];

/** Bumped whenever the image layout or `/init` changes, so an existing image is rebuilt. */
export const DEBIAN_BUILDER_VERSION = 1;

/** The RISC-V Linux `Image` header magic at offset 0x38 (Linux `Documentation/arch/riscv/boot-image-header.rst`). */
const RISCV_IMAGE_MAGIC2 = [0x52, 0x53, 0x43, 0x05]; // "RSC\x05"

/** Inputs of a Debian pull. */
export interface DebianPullOptions {
  store: ImageStore;
  /** Image name in the store (the pull source is always Debian). */
  name?: string;
  /** The environment tools run with (PATH decides which apt-get, tar, xz). */
  env: NodeJS.ProcessEnv;
  /** A mirror URL to use instead of the one the host's apt sources name. */
  mirror?: string;
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
}

/**
 * Pulls (or refreshes) the Debian image. Errors are one-line StrataErrors: NOT_FOUND (no mirror, missing
 * package or keyring), UNAVAILABLE (apt-get, tar or xz missing), NETWORK, CHECKSUM, NO_SPACE, IO,
 * ABORTED. On any error the store holds the previous image (or none) and no staging folder.
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

async function pullLocked(opts: DebianPullOptions, name: string, mirror: string): Promise<PullResult> {
  const { store, progress, signal } = opts;
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
  // apt fetches the index itself (about 9 MB the first time, conditional requests later); its progress is not
  // ours to measure in bytes, so this step is a note, not a bar.
  progress.note(`checking the signed ${DEBIAN_SUITE} ${DEBIAN_ARCH} index of ${mirror}`);
  const update = await apt.update(signal);
  const indexNote =
    update.gets === 0
      ? `the mirror's signed index is unchanged (${update.hits} conditional request${update.hits === 1 ? '' : 's'})`
      : `apt fetched the mirror's signed index (${formatBytes(update.fetchedBytes)} in ${update.gets} file${update.gets === 1 ? '' : 's'})`;
  progress.note(`index checked: ${indexNote}`);

  const base = await apt.show([KERNEL_META, BUSYBOX, OPENSBI], signal);
  const kernelPkg = versionedKernelPackage(base.get(KERNEL_META));
  const kernelStanza = (await apt.show([kernelPkg], signal)).get(kernelPkg);
  const packages: Record<string, string> = {
    [KERNEL_META]: version(base.get(KERNEL_META), KERNEL_META),
    [kernelPkg]: version(kernelStanza, kernelPkg),
    [BUSYBOX]: version(base.get(BUSYBOX), BUSYBOX),
    [OPENSBI]: version(base.get(OPENSBI), OPENSBI),
  };
  const kernelVersion = kernelPkg.slice('linux-image-'.length);
  const summary = `linux ${packages[kernelPkg]}, busybox ${packages[BUSYBOX]}, opensbi ${packages[OPENSBI]}`;

  const existing = await store.get(name).catch(() => undefined);
  if (existing && sameBuild(existing, packages) && (await store.verify(existing, signal))) {
    return {
      status: 'up-to-date',
      manifest: existing,
      downloadedBytes: 0,
      message: `image ${name} is up to date (${summary}): ${indexNote}, no package downloaded`,
    };
  }

  const debsDir = join(cache, 'debs');
  await mkdirChecked(debsDir);
  const downloads = await apt.printUris([KERNEL_META, kernelPkg, BUSYBOX, OPENSBI], signal);
  const byPackage = new Map<string, DownloadItem>();
  for (const d of downloads) byPackage.set(d.fileName.slice(0, d.fileName.indexOf('_')), d);
  const got = await downloadVerified(downloads, debsDir, { progress, signal, fetchFn: opts.fetchFn });

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
      createdAt: (opts.now?.() ?? new Date()).toISOString(),
      builderVersion: DEBIAN_BUILDER_VERSION,
    };
    await staging.commit(manifest);
    await pruneCache(debsDir, new Set(downloads.map((d) => d.fileName)));
    const sizeBytes = files.reduce((n, f) => n + f.sizeBytes, 0);
    const fetched =
      got.downloadedBytes > 0
        ? `downloaded ${formatBytes(got.downloadedBytes)}`
        : 'built from cached packages, no package downloaded';
    return {
      status: existing ? 'updated' : 'created',
      manifest,
      downloadedBytes: got.downloadedBytes,
      message: `pulled image ${name}: Debian ${DEBIAN_SUITE} ${DEBIAN_ARCH}, kernel ${kernelVersion} (${summary}); ${fetched}; image ${formatBytes(sizeBytes)}`,
    };
  } finally {
    await staging.discard();
  }
}

async function chooseMirror(opts: DebianPullOptions): Promise<string> {
  if (opts.mirror !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.mirror);
    } catch {
      throw new StrataError('INVALID_ARGUMENT', `invalid mirror URL '${opts.mirror}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new StrataError('INVALID_ARGUMENT', `invalid mirror URL '${opts.mirror}': use http:// or https://`);
    }
    return opts.mirror.replace(/\/+$/, '');
  }
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

/** Removes cached package files (and stray partial files) that the current image no longer uses. */
async function pruneCache(debsDir: string, keep: Set<string>): Promise<void> {
  for (const n of await readdir(debsDir).catch(() => [] as string[])) {
    if (!keep.has(n)) await removeQuietly(join(debsDir, n));
  }
}

interface BuildInput {
  dir: string;
  name: string;
  kernelVersion: string;
  debs: { kernel: string; busybox: string; opensbi: string };
  env: NodeJS.ProcessEnv;
  progress: ProgressReporter;
  signal: AbortSignal;
}

/** Unpacks the packages into `dir/.work` and writes the image files into `dir`; returns their manifest entries. */
async function buildImage(b: BuildInput): Promise<ImageFile[]> {
  const work = join(b.dir, '.work');
  const debList = [b.debs.kernel, b.debs.busybox, b.debs.opensbi];
  const sizes = await Promise.all(debList.map((p) => stat(p).then((s) => s.size)));
  const total = sizes.reduce((n, s) => n + s, 0);
  b.progress.phase('unpacking packages', total);
  const roots = ['kernel', 'busybox', 'opensbi'].map((k) => join(work, k));
  let done = 0;
  for (let i = 0; i < debList.length; i++) {
    const before = done;
    await extractDeb(debList[i]!, roots[i]!, {
      env: b.env,
      signal: b.signal,
      onBytes: (n) => b.progress.update(before + n, total),
    });
    done += sizes[i]!;
    b.progress.update(done, total);
  }
  b.progress.done();
  const [kernelRoot, busyboxRoot, opensbiRoot] = roots as [string, string, string];

  const vmlinux = join(kernelRoot, 'boot', `vmlinux-${b.kernelVersion}`);
  await checkRiscvImage(vmlinux);
  await moveInto(vmlinux, join(b.dir, 'Image'));
  const fwDir = join(opensbiRoot, 'usr/lib/riscv64-linux-gnu/opensbi/generic');
  for (const fw of ['fw_jump.bin', 'fw_dynamic.bin']) await moveInto(join(fwDir, fw), join(b.dir, fw));

  const busyboxPath = await firstExisting([join(busyboxRoot, 'usr/bin/busybox'), join(busyboxRoot, 'bin/busybox')]);
  const busybox = await readFile(busyboxPath);
  const modRoot = await firstExisting([
    join(kernelRoot, 'usr/lib/modules', b.kernelVersion),
    join(kernelRoot, 'lib/modules', b.kernelVersion),
  ]);
  const modules = await collectModules(modRoot, b);
  const initrd = await buildInitramfs({
    imageName: b.name,
    kernelVersion: b.kernelVersion,
    busybox,
    modules: modules.files,
    modulesDep: modules.dep,
    load: modules.load,
  });
  await writeFileChecked(join(b.dir, 'initrd.gz'), initrd);
  await removeQuietly(work);

  const entries: [string, ImageFile['role']][] = [
    ['Image', 'kernel'],
    ['initrd.gz', 'initrd'],
    ['fw_jump.bin', 'firmware'],
    ['fw_dynamic.bin', 'firmware'],
  ];
  const files: ImageFile[] = [];
  for (const [path, role] of entries) {
    const h = await hashFile(join(b.dir, path), b.signal);
    files.push({ path, role, sizeBytes: h.sizeBytes, sha256: h.sha256 });
  }
  return files;
}

async function checkRiscvImage(path: string): Promise<void> {
  const head = await readFile(path).catch((err: unknown) => {
    throw fsError(err, path, 'reading');
  });
  const ok = head.length > 0x40 && RISCV_IMAGE_MAGIC2.every((byte, i) => head[0x38 + i] === byte);
  if (!ok)
    throw new StrataError('INVALID_ARGUMENT', `${path} is not a RISC-V Linux Image (no "RSC\\x05" magic at 0x38)`);
}

async function moveInto(from: string, to: string): Promise<void> {
  await rename(from, to).catch((err: unknown) => {
    throw fsError(err, to);
  });
}

async function firstExisting(paths: readonly string[]): Promise<string> {
  for (const p of paths) {
    if (
      await stat(p).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  throw new StrataError('NOT_FOUND', `none of ${paths.join(', ')} is in the unpacked packages`);
}

/** Finds, decompresses and dependency-orders the modules the initramfs carries. */
async function collectModules(
  modRoot: string,
  b: BuildInput,
): Promise<{ files: InitramfsModule[]; dep: string; load: string[] }> {
  const index = new Map<string, string>(); // module name -> path relative to modRoot (compressed name)
  const walk = async (rel: string): Promise<void> => {
    for (const ent of await readdir(join(modRoot, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) await walk(r);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(ent.name)) index.set(moduleNameOfPath(ent.name), r);
    }
  };
  await walk('kernel');
  const builtin = new Set(
    (await readFile(join(modRoot, 'modules.builtin'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l !== '')
      .map(moduleNameOfPath),
  );
  const bytesByName = new Map<string, Uint8Array>();
  const lookup = async (name: string): Promise<ModuleNode | undefined> => {
    const rel = index.get(name);
    if (!rel) return undefined;
    const raw = await decompressModule(join(modRoot, rel), b);
    bytesByName.set(name, raw);
    return { name, relPath: rel.replace(/\.(xz|zst|gz)$/, ''), depends: moduleDepends(readModinfo(raw, rel)) };
  };
  const wanted = WANTED_MODULES.filter((m) => {
    if (index.has(m)) return true;
    if (builtin.has(m)) return false;
    throw new StrataError('NOT_FOUND', `kernel module '${m}' is neither built in nor in the kernel package`);
  });
  const order = await resolveModuleClosure(wanted, lookup);
  b.progress.note(`initramfs modules: ${order.map((m) => m.name).join(' ')}`);
  const relOf = new Map(order.map((m) => [m.name, m.relPath]));
  return {
    files: order.map((m) => ({ relPath: m.relPath, bytes: bytesByName.get(m.name)! })),
    dep: renderModulesDep(order),
    load: wanted.map((m) => relOf.get(m)!),
  };
}

async function decompressModule(path: string, b: BuildInput): Promise<Uint8Array> {
  if (path.endsWith('.ko')) return readFile(path);
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : 'gzip';
  const out = await runTool(tool, ['-dc', path], {
    env: b.env,
    signal: b.signal,
    onFail: (stderr) => new StrataError('IO', `cannot decompress ${path} with ${tool}: ${stderr}`),
  });
  return out.stdout;
}
