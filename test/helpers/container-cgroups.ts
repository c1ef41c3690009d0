import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cgroupScopeOf } from '../../src/services/instances/cgroups.js';

/** The cgroup filesystem root. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup path (below each hierarchy) under which a daemon of `home` puts its containers. */
export function containerCgroupParent(home: string): string {
  return join('strata-containers', cgroupScopeOf(home));
}

/** Why container tests cannot run on this host (they need root and runc), or false when they can. */
export function containerSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'containers need root (mount, cgroups)';
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'runc is not installed';
  }
}
