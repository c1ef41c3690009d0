/**
 * The OCI runtime bundle configuration (`config.json`) as typed structures, and the one function that turns a
 * container's settings into it. Field names and meanings follow the OCI runtime specification v1.0.2
 * (`config.md`, `config-linux.md`), the version Debian 12's runc 1.1.5 implements. Only the subset Strata
 * writes is typed; every field here is one runc reads.
 */

import { StrataError } from '../../base/errors.js';

/** The specification version written into `ociVersion` (config.md: "MUST be in SemVer v2.0.0 format"). */
export const OCI_VERSION = '1.0.2';

/** config.md "Mounts": one entry of `mounts`, applied in order by the runtime. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** config.md "POSIX process rlimits". */
export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** config.md "Linux capabilities": the five capability sets of the container process. */
export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

/** config.md "Process". */
export interface OciProcess {
  /** When true the runtime allocates a pseudo-terminal; Strata uses plain stdio (false), see runtime terminals. */
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  /** config-linux.md: the OOM score adjustment of the container process. */
  oomScoreAdj?: number;
}

/** config-linux.md "Namespaces": a namespace `type`, and a `path` to join an existing one. */
export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** config-linux.md "Allowed Device Cgroup" entry. */
export interface OciDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

/** config-linux.md "Control groups": the resource limits Strata sets. */
export interface OciResources {
  devices: OciDeviceCgroup[];
  memory?: {
    /** Bytes; cgroup v1 `memory.limit_in_bytes`, v2 `memory.max`. */
    limit?: number;
    /** Bytes of memory plus swap (v1 `memory.memsw.limit_in_bytes`); equal to `limit` means no swap. */
    swap?: number;
    /** When true the kernel's OOM killer is disabled for the group (Strata never sets it). */
    disableOOMKiller?: boolean;
  };
  cpu?: {
    /** v1 `cpu.shares` (2..262144); runc converts it to v2 `cpu.weight`. */
    shares?: number;
    /** Microseconds per period the group may run (`cpu.cfs_quota_us`). */
    quota?: number;
    /** Period length in microseconds (`cpu.cfs_period_us`). */
    period?: number;
  };
  pids?: { limit: number };
}

/** config-linux.md: the `linux` object. */
export interface OciLinux {
  namespaces: OciNamespace[];
  resources: OciResources;
  /** config-linux.md "Cgroups path": absolute, relative to the cgroup mount point of each hierarchy. */
  cgroupsPath: string;
  maskedPaths: string[];
  readonlyPaths: string[];
}

/** config.md: the whole `config.json` Strata writes. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  /** config.md "Root": the bundle-relative (or absolute) root filesystem. */
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: OciLinux;
}

/** Resource limits of a container; every field optional (absent: unlimited / the kernel's default). */
export interface ContainerLimits {
  /** Hard memory limit in bytes (at least 4 MiB). The OOM killer ends a process of the container beyond it. */
  memoryBytes?: number | undefined;
  /** Relative CPU weight 1..10000 (cgroup v2 `cpu.weight` semantics, as for VM instances). Default 100. */
  cpuWeight?: number | undefined;
  /** Most CPU time in percent of one host CPU (100 = one CPU, 250 = two and a half); 0 or absent: no cap. */
  cpuQuotaPercent?: number | undefined;
  /** Most processes and threads in the container (cgroup `pids.max`). */
  pids?: number | undefined;
}

/** What `buildOciSpec` needs to know about a container. */
export interface ContainerSpecInput {
  /** Container name; also the default hostname. */
  name: string;
  hostname?: string | undefined;
  /** The root filesystem as the runtime sees it (an absolute path: the mounted overlay). */
  rootfsPath: string;
  /** The container's first process (PID 1) and its environment. */
  args: string[];
  env?: string[] | undefined;
  cwd?: string | undefined;
  limits: ContainerLimits;
  /** The cgroup path under each hierarchy, e.g. `/strata-containers/web`. */
  cgroupsPath: string;
  /**
   * A network namespace to join (a `/proc/PID/ns/net` or bind-mounted netns file). Absent: a new, empty network
   * namespace (only `lo`), which the network hook later gives an interface.
   */
  netnsPath?: string | undefined;
}

/** The CFS period Strata writes (100 ms, the kernel's default). */
export const CPU_PERIOD_US = 100_000;

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The capabilities a system container's root keeps: the set Docker grants by default, plus CAP_NET_ADMIN so the
 * container's DHCP client can configure its own interface. That is scoped to the container: it has its own
 * network namespace and, without CAP_SYS_ADMIN, no way to enter another. Left out: CAP_SYS_ADMIN, CAP_SYS_MODULE,
 * CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_TIME and the rest.
 */
const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_NET_ADMIN',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** RFC 1123 host name label(s): what `sethostname` in the UTS namespace should hold. */
const HOSTNAME_RE = /^(?=.{1,63}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

/**
 * Checks `limits` and throws INVALID_ARGUMENT naming the bad field. Ranges: memory ≥ 4 MiB (runc and the kernel
 * refuse tiny limits in confusing ways), CPU weight 1..10000, quota 0..100000 percent, pids ≥ 1.
 */
export function checkContainerLimits(limits: ContainerLimits): void {
  const bad = (what: string, v: unknown) =>
    new StrataError('INVALID_ARGUMENT', `invalid container limit ${what}: ${String(v)}`);
  const { memoryBytes, cpuWeight, cpuQuotaPercent, pids } = limits;
  if (memoryBytes !== undefined && (!Number.isSafeInteger(memoryBytes) || memoryBytes < 4 * 1024 * 1024)) {
    throw bad('memory (at least 4 MiB)', memoryBytes);
  }
  if (cpuWeight !== undefined && (!Number.isInteger(cpuWeight) || cpuWeight < 1 || cpuWeight > 10_000)) {
    throw bad('cpu weight (1..10000)', cpuWeight);
  }
  if (
    cpuQuotaPercent !== undefined &&
    (!Number.isFinite(cpuQuotaPercent) || cpuQuotaPercent < 0 || cpuQuotaPercent > 100_000)
  ) {
    throw bad('cpu quota percent', cpuQuotaPercent);
  }
  if (pids !== undefined && (!Number.isSafeInteger(pids) || pids < 1)) throw bad('pids (at least 1)', pids);
}

/**
 * cgroup v2 `cpu.weight` (1..10000, default 100) to v1 `cpu.shares` (2..262144, default 1024): the inverse of
 * the linear map runc uses for the other direction (`1 + ((shares - 2) * 9999) / 262142`).
 */
export function cpuWeightToShares(weight: number): number {
  return Math.max(2, Math.min(262_144, Math.round(2 + ((weight - 1) * 262_142) / 9_999)));
}

/**
 * The cgroup resources of `limits` (config-linux.md "Control groups"): memory with swap equal to the limit (no swap
 * beyond it), CPU shares from the weight, the CFS quota over a 100 ms period, pids. With `clearQuota`, a quota of 0
 * (none) is written as -1, which lifts a quota set earlier (`runc update` of a running container).
 */
export function limitResources(
  limits: ContainerLimits,
  opts: { clearQuota?: boolean } = {},
): Omit<OciResources, 'devices'> {
  const { memoryBytes, cpuWeight, cpuQuotaPercent, pids } = limits;
  const out: Omit<OciResources, 'devices'> = {};
  if (memoryBytes !== undefined) out.memory = { limit: memoryBytes, swap: memoryBytes };
  const quota = cpuQuotaPercent ?? 0;
  if (cpuWeight !== undefined || quota > 0 || (opts.clearQuota && cpuQuotaPercent !== undefined)) {
    out.cpu = {};
    if (cpuWeight !== undefined) out.cpu.shares = cpuWeightToShares(cpuWeight);
    if (quota > 0) {
      out.cpu.period = CPU_PERIOD_US;
      out.cpu.quota = Math.max(1000, Math.round((quota / 100) * CPU_PERIOD_US));
    } else if (opts.clearQuota && cpuQuotaPercent !== undefined) {
      out.cpu.period = CPU_PERIOD_US;
      out.cpu.quota = -1;
    }
  }
  if (pids !== undefined) out.pids = { limit: pids };
  return out;
}

/**
 * The `config.json` of a system container. Decisions, with the spec section behind each:
 * - Namespaces pid, mount, uts, ipc and network (config-linux.md "Namespaces"); no user namespace: Strata runs
 *   as root and the rootfs files are owned by real root ids.
 * - `process.terminal: false` (config.md "Process"): stdio are plain pipes the container manager reads, so the
 *   console is a byte stream like a VM's serial console.
 * - Standard mounts (config.md "Mounts"; runc's own template): proc, a tmpfs `/dev`, devpts, shm, mqueue, a
 *   read-only sysfs and cgroup view.
 * - Masked and read-only paths under /proc and /sys (config-linux.md "Masked Paths", "Readonly Paths").
 * - Devices: deny all, then runc adds its default allow list (null, zero, full, random, urandom, tty, ptmx).
 * - Memory swap equals the limit (no swap use beyond the limit), so the limit is a hard one on hosts with swap.
 */
export function buildOciSpec(input: ContainerSpecInput): OciSpec {
  checkContainerLimits(input.limits);
  const hostname = input.hostname ?? input.name;
  if (!HOSTNAME_RE.test(hostname)) {
    throw new StrataError('INVALID_ARGUMENT', `invalid container hostname '${hostname}': use letters, digits, '-'`);
  }
  if (input.args.length === 0 || input.args[0] === '') {
    throw new StrataError('INVALID_ARGUMENT', 'a container needs a command to run (empty args)');
  }
  if (!input.cgroupsPath.startsWith('/')) {
    throw new StrataError('INTERNAL', `cgroups path must be absolute: ${input.cgroupsPath}`);
  }
  const resources: OciResources = { devices: [{ allow: false, access: 'rwm' }], ...limitResources(input.limits) };

  const env = input.env ?? [];
  const caps = [...DEFAULT_CAPS];
  const net: OciNamespace = input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' };
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...input.args],
      env: [
        ...(env.some((e) => e.startsWith('PATH=')) ? [] : [DEFAULT_PATH]),
        ...(env.some((e) => e.startsWith('TERM=')) ? [] : ['TERM=dumb']),
        ...(env.some((e) => e.startsWith('HOME=')) ? [] : ['HOME=/root']),
        ...env,
      ],
      cwd: input.cwd ?? '/',
      capabilities: { bounding: caps, effective: caps, inheritable: [], permitted: caps, ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
      oomScoreAdj: 0,
    },
    root: { path: input.rootfsPath, readonly: false },
    hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, net, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources,
      cgroupsPath: input.cgroupsPath,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** The `config.json` text of `spec` (two-space indented, newline at the end). */
export function renderOciSpec(spec: OciSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}
