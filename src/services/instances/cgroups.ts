import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, StrataError } from '../../base/errors.js';
import type { InstanceLimits } from './state-store.js';

/** What resource controls the host gives, in words for `strata info` and the daemon's log. */
export interface ControlsSupport {
  /** `cgroup-v2`, `cgroup-v1`, or `none`. */
  kind: 'cgroup-v2' | 'cgroup-v1' | 'none';
  /** One line: what is enforced and what is not. */
  summary: string;
}

/** How CPU and memory limits reach a VMM process. */
export interface ResourceControls {
  readonly support: ControlsSupport;
  /** Puts VMM `pid` of instance `name` under its limits; returns notes on anything not enforced. */
  apply(name: string, pid: number, limits: InstanceLimits, memoryCapBytes: number): string[];
  /** Throttling figures of an instance's group, when known. */
  throttledSeconds(name: string): number | undefined;
  /** Removes the instance's group (its VMM is gone). */
  remove(name: string): void;
  /** The daemon stops: removes what it made that no instance uses (its scope, once empty). */
  close?(): void;
}

/**
 * The cgroup scope of a daemon home: 12 hex digits of a hash of its absolute path. Daemons of different homes on one
 * host put their VMs' groups under `strata/SCOPE` and their containers' under `strata-containers/SCOPE`, so two
 * instances of one name never share a group.
 */
export function cgroupScopeOf(home: string): string {
  return createHash('sha256').update(resolve(home)).digest('hex').slice(0, 12);
}

/** Host memory a VMM may use beyond guest RAM: its own code, JavaScript heap and I/O buffers. */
export const VMM_OVERHEAD_BYTES = 384 * 1024 * 1024;

/** CFS period the quota is expressed in (100 ms, the kernel's default). */
const PERIOD_US = 100_000;

/**
 * Resource controls through cgroups: v2 (`cpu.weight`, `cpu.max`, `memory.max`) or v1 (`cpu.shares`,
 * `cpu.cfs_quota_us`, `memory.limit_in_bytes`), one group per instance under `strata/`. When the host has neither,
 * or they are not writable, `support.kind` is `none` and the summary says so: the limits are then stored but not
 * enforced (guest memory stays capped by the VMM itself).
 */
export class CgroupControls implements ResourceControls {
  readonly support: ControlsSupport;

  private constructor(
    private readonly root: string,
    kind: ControlsSupport['kind'],
    why?: string,
    /** The groups' parent below each hierarchy's root: `strata`, or `strata/SCOPE`. */
    private readonly base = 'strata',
  ) {
    const summary =
      kind === 'none'
        ? `cgroups unavailable (${why ?? 'not mounted'}): CPU weight, CPU quota and the VMM memory cap are NOT enforced`
        : `${kind}: CPU weight, CPU quota and a memory cap (guest RAM + ${VMM_OVERHEAD_BYTES / 1024 ** 2} MiB) per VMM`;
    this.support = { kind, summary };
  }

  /**
   * Looks at `root` (default `/sys/fs/cgroup`) and tries to create the `strata` groups. `scope` (a daemon's own
   * key, say a hash of its home) puts this daemon's groups under `strata/SCOPE`, so that daemons with different
   * homes on one host never share an instance's group.
   */
  static detect(root = '/sys/fs/cgroup', scope?: string): CgroupControls {
    if (scope !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(scope)) {
      throw new StrataError('INVALID_ARGUMENT', `invalid cgroup scope '${scope}'`);
    }
    const base = scope ? join('strata', scope) : 'strata';
    try {
      if (existsSync(join(root, 'cgroup.controllers'))) {
        const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8');
        if (!/\bcpu\b/.test(controllers))
          return new CgroupControls(root, 'none', 'cgroup v2 without the cpu controller');
        mkdirSync(join(root, base), { recursive: true });
        writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu +memory');
        writeFileSync(join(root, 'strata', 'cgroup.subtree_control'), '+cpu +memory');
        if (scope) writeFileSync(join(root, base, 'cgroup.subtree_control'), '+cpu +memory');
        return new CgroupControls(root, 'cgroup-v2', undefined, base);
      }
      if (existsSync(join(root, 'cpu', 'cpu.shares'))) {
        mkdirSync(join(root, 'cpu', base), { recursive: true });
        if (existsSync(join(root, 'memory'))) mkdirSync(join(root, 'memory', base), { recursive: true });
        return new CgroupControls(root, 'cgroup-v1', undefined, base);
      }
      return new CgroupControls(root, 'none');
    } catch (err) {
      return new CgroupControls(root, 'none', errorMessage(err));
    }
  }

  /** Controls that enforce nothing (tests, hosts without cgroups). */
  static none(why: string): CgroupControls {
    return new CgroupControls('/nonexistent', 'none', why);
  }

  apply(name: string, pid: number, limits: InstanceLimits, memoryCapBytes: number): string[] {
    const notes: string[] = [];
    const tryWrite = (path: string, value: string, what: string) => {
      try {
        writeFileSync(path, value);
      } catch (err) {
        notes.push(`${what} not enforced: ${errorMessage(err)}`);
      }
    };
    if (this.support.kind === 'none') return [this.support.summary];
    const cap = String(memoryCapBytes + VMM_OVERHEAD_BYTES);
    if (this.support.kind === 'cgroup-v2') {
      const dir = join(this.root, this.base, name);
      mkdirSync(dir, { recursive: true });
      tryWrite(join(dir, 'cpu.weight'), String(limits.cpuWeight), 'CPU weight');
      const quota = limits.cpuQuotaPercent > 0 ? String((limits.cpuQuotaPercent * PERIOD_US) / 100) : 'max';
      tryWrite(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`, 'CPU quota');
      tryWrite(join(dir, 'memory.max'), cap, 'memory cap');
      tryWrite(join(dir, 'cgroup.procs'), String(pid), 'cgroup membership');
      return notes;
    }
    const cpuDir = join(this.root, 'cpu', this.base, name);
    mkdirSync(cpuDir, { recursive: true });
    // cgroup v1 shares: 1024 is the default, as weight 100 is in v2.
    tryWrite(
      join(cpuDir, 'cpu.shares'),
      String(Math.max(2, Math.round((limits.cpuWeight * 1024) / 100))),
      'CPU weight',
    );
    tryWrite(join(cpuDir, 'cpu.cfs_period_us'), String(PERIOD_US), 'CPU quota');
    const quota = limits.cpuQuotaPercent > 0 ? String((limits.cpuQuotaPercent * PERIOD_US) / 100) : '-1';
    tryWrite(join(cpuDir, 'cpu.cfs_quota_us'), quota, 'CPU quota');
    tryWrite(join(cpuDir, 'cgroup.procs'), String(pid), 'cgroup membership (cpu)');
    const memDir = join(this.root, 'memory', this.base, name);
    if (existsSync(join(this.root, 'memory', this.base))) {
      mkdirSync(memDir, { recursive: true });
      tryWrite(join(memDir, 'memory.limit_in_bytes'), cap, 'memory cap');
      tryWrite(join(memDir, 'cgroup.procs'), String(pid), 'cgroup membership (memory)');
    } else notes.push('memory cap not enforced: no v1 memory controller');
    return notes;
  }

  throttledSeconds(name: string): number | undefined {
    const dir =
      this.support.kind === 'cgroup-v2'
        ? join(this.root, this.base, name)
        : this.support.kind === 'cgroup-v1'
          ? join(this.root, 'cpu', this.base, name)
          : undefined;
    if (!dir) return undefined;
    try {
      const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8');
      const us = /throttled_usec (\d+)/.exec(stat);
      if (us) return Number(us[1]) / 1e6;
      const ns = /throttled_time (\d+)/.exec(stat);
      return ns ? Number(ns[1]) / 1e9 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Removes this daemon's scope groups (`strata/SCOPE`) when no instance group is left in them (VMs that keep
   * running after the daemon stops keep theirs, and so the scope); the shared `strata` parent stays.
   */
  close(): void {
    if (this.base === 'strata' || this.support.kind === 'none') return;
    const dirs =
      this.support.kind === 'cgroup-v2'
        ? [join(this.root, this.base)]
        : [join(this.root, 'cpu', this.base), join(this.root, 'memory', this.base)];
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // Still holds an instance's group (a running VM), or already gone.
      }
    }
  }

  remove(name: string): void {
    const dirs =
      this.support.kind === 'cgroup-v2'
        ? [join(this.root, this.base, name)]
        : [join(this.root, 'cpu', this.base, name), join(this.root, 'memory', this.base, name)];
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // A group that still has a process (a VMM being killed) or is already gone is left for the next start.
      }
    }
  }
}
