/**
 * What a host must offer before a container may start, checked up front so a launch fails with one clear line
 * and leaves nothing behind: cgroup controllers (v1 or v2), overlayfs, and an image built for this CPU.
 */

import { open, readFile, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { StrataError } from '../../base/errors.js';

/** Node's `process.arch` to the Debian architecture name image manifests use. */
export function debianArchOf(nodeArch: string): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    riscv64: 'riscv64',
    ia32: 'i386',
    arm: 'armhf',
    ppc64: 'ppc64el',
    s390x: 's390x',
    loong64: 'loong64',
  };
  return map[nodeArch] ?? nodeArch;
}

/** ELF `e_machine` values (System V ABI, ELF header) of the Debian architectures above. */
const ELF_MACHINES: Record<string, number> = {
  amd64: 62,
  i386: 3,
  arm64: 183,
  armhf: 40,
  riscv64: 243,
  ppc64el: 21,
  s390x: 22,
  loong64: 258,
};

/** The Debian architecture of an ELF `e_machine`, or `machine-N` when unknown. */
export function archOfElfMachine(machine: number): string {
  for (const [arch, m] of Object.entries(ELF_MACHINES)) if (m === machine) return arch;
  return `machine-${machine}`;
}

/** Which cgroup layout the host has, or why containers cannot be limited here. */
export interface CgroupSupport {
  kind: 'cgroup-v1' | 'cgroup-v2' | 'none';
  /** When kind is `none`: what is missing (one line). */
  why?: string;
}

/**
 * Looks at the cgroup mount under `root` (default `/sys/fs/cgroup`): v2 needs the memory, cpu and pids
 * controllers in `cgroup.controllers`; v1 (and the v1 "hybrid" layout, a v2 tree at `unified/` beside) needs the
 * memory, cpu, pids and freezer hierarchies. Freezer is what `runc pause` uses on v1.
 */
export async function detectCgroups(root = '/sys/fs/cgroup'): Promise<CgroupSupport> {
  const controllers = await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(() => undefined);
  if (controllers !== undefined) {
    const have = new Set(controllers.trim().split(/\s+/));
    const missing = ['memory', 'cpu', 'pids'].filter((c) => !have.has(c));
    if (missing.length > 0)
      return { kind: 'none', why: `cgroup v2 at ${root} lacks the ${missing.join(', ')} controller(s)` };
    return { kind: 'cgroup-v2' };
  }
  const missing: string[] = [];
  for (const c of ['memory', 'cpu', 'pids', 'freezer']) {
    const ok = await stat(join(root, c, 'tasks')).then(
      () => true,
      () => false,
    );
    if (!ok) missing.push(c);
  }
  if (missing.length === 4) return { kind: 'none', why: `no cgroup file system mounted at ${root}` };
  if (missing.length > 0)
    return { kind: 'none', why: `cgroup v1 at ${root} lacks the ${missing.join(', ')} hierarchy` };
  return { kind: 'cgroup-v1' };
}

/** True when the kernel lists `overlay` in /proc/filesystems (overlayfs built in or its module loaded). */
export async function hasOverlayfs(filesystems = '/proc/filesystems'): Promise<boolean> {
  const text = await readFile(filesystems, 'utf8').catch(() => '');
  return /\toverlay$/m.test(text);
}

/**
 * Resolves `path` inside the root file system `root` the way the container will see it: symbolic links are
 * followed with `root` as `/`, never leaving it (at most 40 links, like the kernel's limit). Returns the host path.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = posix
    .normalize(`/${path}`)
    .split('/')
    .filter((c) => c !== '');
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, c);
    const target = await readlink(host).catch(() => undefined);
    if (target === undefined) {
      done.push(c);
      continue;
    }
    if (++hops > 40) throw new StrataError('INVALID_ARGUMENT', `too many symbolic links resolving ${path} in ${root}`);
    const parts = target.split('/').filter((x) => x !== '');
    if (target.startsWith('/')) done.length = 0;
    pending = [...parts, ...pending];
  }
  return join(root, ...done);
}

/**
 * The Debian architecture of the ELF program at `path` inside `root` (symbolic links resolved inside root), or
 * undefined when there is no such file or it is not ELF (a script).
 */
export async function elfArchInRoot(root: string, path: string): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  const fh = await open(host, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const buf = Buffer.alloc(20);
    const { bytesRead } = await fh.read(buf, 0, 20, 0);
    if (bytesRead < 20 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const little = buf[5] === 1;
    const machine = little ? buf.readUInt16LE(18) : buf.readUInt16BE(18);
    return archOfElfMachine(machine);
  } finally {
    await fh.close();
  }
}

/** The mount points of this process's mount namespace (`/proc/self/mountinfo` field 5, octal escapes decoded). */
export async function mountPoints(mountinfo = '/proc/self/mountinfo'): Promise<string[]> {
  const text = await readFile(mountinfo, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) =>
      (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    );
}
