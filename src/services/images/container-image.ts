/**
 * Container images: root file system folders for system containers, kept in the image store beside VM images
 * (manifest `type: 'container'`, `rootfs: 'rootfs'`). Containers run the host's kernel, so a container image is
 * always built for the host's architecture:
 *
 * - `busybox`: the host's static busybox (Debian package `busybox-static`) copied into an empty root with one
 *   link per applet at the path busybox itself names (`--list-full`), plus a minimal /etc.
 * - `debian`: a minimal Debian (`debootstrap --variant=minbase`) of the host's own release from the mirror the
 *   host's apt sources name, verified with the host's Debian keyring; downloaded packages are cached in
 *   `$STRATA_HOME/cache/debootstrap-<suite>-<arch>/` so a rebuild downloads nothing that did not change.
 *
 * Like VM images, a container image is built in a staging folder and renamed into place, so a failure leaves the
 * previous image (or none). In the store both are named `<base>-container` (`debian-container`), so a VM image
 * `debian` and the container image of the same distribution live side by side.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { type ProgressReporter, silentProgress } from '../../base/progress.js';
import { discoverDebianMirror } from './apt-private.js';
import { DEFAULT_DEBIAN_KEYRING } from './debian-builder.js';
import {
  countDebootstrapPackages,
  type DebootstrapPackageCounts,
  DebootstrapProgress,
} from './debootstrap-progress.js';
import { fsError, mkdirChecked } from './fs-checked.js';
import { findExecutable, runTool } from './host-tools.js';
import {
  CorruptManifestError,
  type ImageManifest,
  type ImageStore,
  imageTypeOf,
  MANIFEST_SCHEMA_VERSION,
} from './image-store.js';

/** The container images Strata can build. */
export type ContainerImageKind = 'busybox' | 'debian';

/** The recipe version of each container image; a newer recipe rebuilds that image on the next pull. */
export const CONTAINER_BUILDER_VERSIONS: Record<ContainerImageKind, number> = { busybox: 3, debian: 1 };

/** The folder inside a container image that holds its root file system. */
export const CONTAINER_ROOTFS_DIR = 'rootfs';

/** Packages added to debootstrap's minbase: networking tools a system container on a Strata network needs. */
export const DEBIAN_CONTAINER_EXTRA_PACKAGES = ['iproute2', 'iputils-ping', 'isc-dhcp-client'];

/** The store name of a container image of `base` (`debian` -> `debian-container`). */
export function containerImageStoreName(base: string): string {
  return base.endsWith('-container') ? base : `${base}-container`;
}

/** Node's `process.arch` as a Debian architecture name (the manifest's `arch`). */
export function hostDebianArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', riscv64: 'riscv64', ia32: 'i386', arm: 'armhf' };
  return map[nodeArch] ?? nodeArch;
}

/** udhcpc's lease script: udhcpc passes the event as $1 and the lease in the environment (`mask` is a prefix length). */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then ip -4 route replace default via "\${router%% *}" dev "$interface"; fi
    if [ -n "$dns" ]; then
      : > /etc/resolv.conf
      for s in $dns; do echo "nameserver $s" >> /etc/resolv.conf; done
    fi
    ;;
esac
exit 0
`;

/** What a container image pull needs. */
export interface ContainerPullOptions {
  store: ImageStore;
  kind: ContainerImageKind;
  /** Environment of the host tools (PATH decides which busybox and debootstrap). */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** Rebuild even when an up-to-date image exists. */
  force?: boolean | undefined;
  /** Debian: the release to bootstrap (default: the host's own, from /etc/os-release; else `bookworm`). */
  suite?: string | undefined;
  /** Debian: the mirror (default: the one the host's apt sources name). */
  mirror?: string | undefined;
  /** Debian: the host's apt configuration folder, to find the mirror (default `/etc/apt`). */
  aptEtcDir?: string | undefined;
  /** Debian: the keyring that verifies the mirror's Release file. */
  keyring?: string | undefined;
  /** One line per step (debootstrap's `I:` lines). */
  onProgress?: ((line: string) => void) | undefined;
  /** Phases with a known count where there is one (packages retrieved, extracted, unpacked, configured). */
  progress?: ProgressReporter | undefined;
}

/** What a pull did. */
export interface ContainerPullResult {
  manifest: ImageManifest;
  /** False when an up-to-date image was already there and nothing was built. */
  built: boolean;
  /** Absolute path of the root file system: what the container manager mounts as the overlay's lower layer. */
  rootfsPath: string;
}

/**
 * Builds (or finds up to date) the container image `kind` in the store under `containerImageStoreName(kind)`.
 * UNAVAILABLE when a host tool is missing (busybox-static, debootstrap), NETWORK when the mirror cannot be reached,
 * CONFLICT when another pull of the same image runs.
 */
export async function pullContainerImage(opts: ContainerPullOptions): Promise<ContainerPullResult> {
  const name = containerImageStoreName(opts.kind);
  const arch = hostDebianArch();
  const release = await opts.store.lockForBuild(name);
  try {
    const existing = await opts.store.get(name).catch((err: unknown) => {
      // A corrupt manifest means the image must be rebuilt, which is what a pull does; other errors are real.
      if (err instanceof CorruptManifestError) return undefined;
      throw err;
    });
    if (
      !opts.force &&
      existing &&
      imageTypeOf(existing) === 'container' &&
      existing.arch === arch &&
      existing.builderVersion === CONTAINER_BUILDER_VERSIONS[opts.kind] &&
      (opts.kind !== 'debian' || opts.suite === undefined || existing.release === opts.suite)
    ) {
      return {
        manifest: existing,
        built: false,
        rootfsPath: join(opts.store.imageDir(name), existing.rootfs ?? CONTAINER_ROOTFS_DIR),
      };
    }
    const staging = await opts.store.beginStaging(name);
    try {
      const rootfs = join(staging.dir, CONTAINER_ROOTFS_DIR);
      const partial =
        opts.kind === 'busybox' ? await buildBusyboxRootfs(rootfs, opts) : await buildDebianRootfs(rootfs, arch, opts);
      const manifest: ImageManifest = {
        schemaVersion: MANIFEST_SCHEMA_VERSION,
        type: 'container',
        rootfs: CONTAINER_ROOTFS_DIR,
        name,
        arch,
        distribution: partial.distribution,
        release: partial.release,
        kernelVersion: '',
        kernelCmdline: '',
        packages: partial.packages,
        mirror: partial.mirror,
        files: [],
        createdAt: new Date().toISOString(),
        builderVersion: CONTAINER_BUILDER_VERSIONS[opts.kind],
      };
      await staging.commit(manifest);
      return { manifest, built: true, rootfsPath: join(opts.store.imageDir(name), CONTAINER_ROOTFS_DIR) };
    } finally {
      await staging.discard();
    }
  } finally {
    await release();
  }
}

interface PartialManifest {
  distribution: string;
  release: string;
  packages: Record<string, string>;
  mirror: string;
}

/**
 * The busybox root: `/bin/busybox` (the host's, which must be a static ELF: a dynamic one would need the host's
 * libc inside the container), every applet linked where busybox names it, and /etc/passwd, group, hostname.
 */
async function buildBusyboxRootfs(rootfs: string, opts: ContainerPullOptions): Promise<PartialManifest> {
  const busybox = await findExecutable('busybox', opts.env.PATH);
  if (!busybox) {
    throw new StrataError('UNAVAILABLE', "busybox not found in PATH: install the Debian package 'busybox-static'");
  }
  if (!(await isStaticElf(busybox))) {
    throw new StrataError(
      'UNAVAILABLE',
      `${busybox} is dynamically linked: a container image needs the static one (Debian package 'busybox-static')`,
    );
  }
  const signal = opts.signal ?? AbortSignal.timeout(60_000);
  const progress = opts.progress ?? silentProgress;
  const list = await runTool(busybox, ['--list-full'], {
    env: opts.env,
    signal,
    onFail: (stderr) => new StrataError('UNAVAILABLE', `${busybox} --list-full failed: ${stderr}`),
  });
  const version = await runTool(busybox, [], {
    env: opts.env,
    signal,
    onFail: (stderr) => new StrataError('UNAVAILABLE', `${busybox} failed: ${stderr}`),
  }).catch(() => undefined); // Only the version shown in the manifest: "unknown" when busybox will not say.
  const release = /BusyBox v(\S+)/.exec(version?.stdout.toString('utf8') ?? '')?.[1] ?? 'unknown';
  try {
    for (const d of [
      'bin',
      'sbin',
      'usr/bin',
      'usr/sbin',
      'etc',
      'root',
      'tmp',
      'proc',
      'sys',
      'dev',
      'run',
      'var/tmp',
    ]) {
      await mkdir(join(rootfs, d), { recursive: true });
    }
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await chmod(join(rootfs, 'root'), 0o700);
    await copyFile(busybox, join(rootfs, 'bin', 'busybox'));
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    const applets = list.stdout
      .toString('utf8')
      .split('\n')
      .map((raw) => raw.trim().replace(/^\/+/, ''))
      .filter((rel) => rel !== '' && !rel.includes('..') && rel !== 'bin/busybox');
    progress.phase('linking busybox applets', applets.length, 'steps');
    for (const [i, rel] of applets.entries()) {
      const link = join(rootfs, rel);
      await mkdir(dirname(link), { recursive: true });
      await symlink('/bin/busybox', link).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      progress.update(i + 1);
    }
    progress.done();
    await writeFile(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
    );
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    await writeFile(join(rootfs, 'etc', 'hostname'), 'busybox\n');
    await writeFile(
      join(rootfs, 'etc', 'os-release'),
      `NAME=BusyBox\nID=busybox\nVERSION_ID=${release}\nPRETTY_NAME="BusyBox ${release}"\n`,
    );
    // The script busybox's DHCP client (`udhcpc -i eth0`) runs to apply a lease: address, default route, DNS.
    // Debian builds busybox with /etc/udhcpc/default.script, upstream with /usr/share/udhcpc/: both are there.
    await mkdir(join(rootfs, 'etc', 'udhcpc'), { recursive: true });
    await writeFile(join(rootfs, 'etc', 'udhcpc', 'default.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    await mkdir(join(rootfs, 'usr', 'share', 'udhcpc'), { recursive: true });
    await symlink('/etc/udhcpc/default.script', join(rootfs, 'usr', 'share', 'udhcpc', 'default.script'));
  } catch (err) {
    throw fsError(err, rootfs);
  }
  const pkg = await dpkgVersion('busybox-static', opts.env);
  return {
    distribution: 'busybox',
    release,
    packages: pkg ? { 'busybox-static': pkg } : {},
    mirror: `host:${busybox}`,
  };
}

/**
 * `debootstrap --variant=minbase` of `suite` for the host's architecture into `rootfs`. debootstrap checks the
 * Release signature with the keyring and every package's hash against the signed index.
 */
async function buildDebianRootfs(rootfs: string, arch: string, opts: ContainerPullOptions): Promise<PartialManifest> {
  const debootstrap = await findExecutable('debootstrap', `${opts.env.PATH ?? ''}:/usr/sbin:/sbin`);
  if (!debootstrap) {
    throw new StrataError('UNAVAILABLE', "debootstrap not found: install the Debian package 'debootstrap'");
  }
  let mirror = opts.mirror;
  if (!mirror) {
    const found = await discoverDebianMirror(opts.aptEtcDir);
    if (!found) {
      throw new StrataError(
        'NOT_FOUND',
        `no Debian mirror in the host's apt sources (${opts.aptEtcDir ?? '/etc/apt'}): cannot build a Debian container image`,
      );
    }
    mirror = found.uri;
  }
  const suite = opts.suite ?? (await hostDebianCodename()) ?? 'bookworm';
  if (!/^[a-z]+$/.test(suite)) throw new StrataError('INVALID_ARGUMENT', `invalid Debian suite '${suite}'`);
  const keyring = opts.keyring ?? DEFAULT_DEBIAN_KEYRING;
  const cache = join(opts.store.cacheDir, `debootstrap-${suite}-${arch}`);
  await mkdirChecked(cache);
  const args = [
    '--variant=minbase',
    `--arch=${arch}`,
    `--keyring=${keyring}`,
    `--include=${DEBIAN_CONTAINER_EXTRA_PACKAGES.join(',')}`,
    `--cache-dir=${cache}`,
    suite,
    rootfs,
    mirror,
  ];
  await runDebootstrap(debootstrap, args, opts, mirror, rootfs);
  // Leave no apt lists or package cache in the image: containers fetch their own with apt-get update.
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    await rm(join(rootfs, d), { recursive: true, force: true });
    await mkdir(join(rootfs, d, 'partial'), { recursive: true });
  }
  const status = await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8').catch((err: NodeJS.ErrnoException) => {
    // debootstrap always writes it; should it be missing the manifest lists no packages, an unreadable one fails.
    if (err.code === 'ENOENT') return '';
    throw fsError(err, join(rootfs, 'var/lib/dpkg/status'), 'reading');
  });
  return { distribution: 'debian', release: suite, packages: parseDpkgStatus(status), mirror };
}

function runDebootstrap(
  tool: string,
  args: string[],
  opts: ContainerPullOptions,
  mirror: string,
  rootfs: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      env: { ...opts.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let tail = '';
    const steps = new DebootstrapProgress(opts.progress ?? silentProgress, () => readPackageCounts(rootfs));
    const partial = { stdout: '', stderr: '' };
    const onData = (from: 'stdout' | 'stderr', s: string) => {
      tail = (tail + s).slice(-8192);
      // Chunks may end mid-line: only whole lines are read, the rest waits for the next chunk.
      const lines = (partial[from] + s).split('\n');
      partial[from] = lines.pop() ?? '';
      for (const line of lines) {
        if (!/^[IWE]: /.test(line)) continue;
        opts.onProgress?.(line);
        steps.line(line);
      }
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => onData('stdout', s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => onData('stderr', s));
    child.on('error', (err: NodeJS.ErrnoException) => {
      opts.progress?.fail?.(err.name === 'AbortError' ? 'cancelled' : 'failed');
      if (err.name === 'AbortError') reject(new StrataError('ABORTED', 'debootstrap cancelled'));
      else reject(new StrataError('UNAVAILABLE', `cannot run debootstrap: ${err.message}`));
    });
    child.on('close', (code) => {
      if (code === 0) {
        resolve();
        return;
      }
      for (const line of [partial.stdout, partial.stderr]) if (/^[IWE]: /.test(line)) opts.onProgress?.(line);
      opts.progress?.fail?.(`debootstrap exit ${code}`);
      const eLine = /^E: (.+)$/m.exec(tail)?.[1]?.trim() ?? tail.trim().split('\n').pop() ?? `exit ${code}`;
      if (
        /Failed getting release file|Couldn't download|Could not resolve|Connection refused|unreachable/i.test(tail)
      ) {
        reject(new StrataError('NETWORK', `cannot reach Debian mirror ${mirror}: ${eLine}`));
      } else if (/Release signed by unknown key|Invalid Release signature|signature/i.test(tail)) {
        reject(new StrataError('CHECKSUM', `signature of the Debian release at ${mirror} does not verify: ${eLine}`));
      } else if (/No space left/i.test(tail)) {
        reject(new StrataError('NO_SPACE', `no space left on device for the Debian container image: ${eLine}`));
      } else {
        reject(new StrataError('UNAVAILABLE', `debootstrap failed: ${eLine}`));
      }
    });
  });
}

/**
 * The package counts debootstrap wrote into its target once every package was downloaded; undefined before that
 * (or if unreadable: the phases then simply have no total).
 */
function readPackageCounts(rootfs: string): DebootstrapPackageCounts | undefined {
  try {
    return countDebootstrapPackages(
      readFileSync(join(rootfs, 'debootstrap', 'required'), 'utf8'),
      readFileSync(join(rootfs, 'debootstrap', 'base'), 'utf8'),
    );
  } catch {
    return undefined;
  }
}

/** `Package` to `Version` of every installed package in a dpkg `status` file. */
export function parseDpkgStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const block of text.split(/\n\s*\n/)) {
    const pkg = /^Package: (\S+)$/m.exec(block)?.[1];
    const ver = /^Version: (\S+)$/m.exec(block)?.[1];
    const st = /^Status: (.+)$/m.exec(block)?.[1] ?? '';
    if (pkg && ver && /\binstalled$/.test(st)) out[pkg] = ver;
  }
  return out;
}

/** The host's Debian code name (`VERSION_CODENAME` of /etc/os-release), if it is Debian. */
async function hostDebianCodename(osRelease = '/etc/os-release'): Promise<string | undefined> {
  const text = await readFile(osRelease, 'utf8').catch(() => ''); // Unreadable: not a Debian host we can name.
  if (!/^ID=debian$/m.test(text)) return undefined;
  return /^VERSION_CODENAME=([a-z]+)$/m.exec(text)?.[1];
}

/** The installed version of a Debian package on the host, if dpkg knows it. */
async function dpkgVersion(pkg: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  // dpkg-query's own format syntax (not a template string).
  const format = ['-f=$', '{Version}'].join('');
  const out = await runTool('dpkg-query', ['-W', format, pkg], {
    env,
    signal: AbortSignal.timeout(10_000),
    onFail: () => new StrataError('NOT_FOUND', pkg),
  }).catch(() => undefined); // Not installed, or no dpkg: "unknown version" either way.
  const v = out?.stdout.toString('utf8').trim();
  return v ? v : undefined;
}

/** True when `path` is an ELF file without a PT_INTERP program header (statically linked). */
export async function isStaticElf(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined); // Unopenable: not a usable static ELF.
  if (!fh) return false;
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(head, 28);
    const phentsize = u16(head, is64 ? 54 : 42);
    const phnum = u16(head, is64 ? 56 : 44);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    await fh.close();
  }
}
