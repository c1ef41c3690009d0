import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mountPoints } from '../../src/services/containers/host-checks.js';
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

/**
 * Every trace a container `name` of the daemon of `home` could leave: mounts, cgroup folders (v2 and each v1
 * hierarchy), its folder, runc state. Empty once it is deleted.
 */
export async function containerTraces(home: string, name: string): Promise<string[]> {
  const out: string[] = [];
  const dir = join(home, 'containers', name);
  const parent = containerCgroupParent(home);
  for (const m of await mountPoints()) if (m.startsWith(dir)) out.push(`mount ${m}`);
  if (existsSync(join(CGROUP_ROOT, parent, name))) out.push(`cgroup ${join(CGROUP_ROOT, parent, name)}`);
  for (const h of readdirSync(CGROUP_ROOT)) {
    const p = join(CGROUP_ROOT, h, parent, name);
    if (existsSync(p)) out.push(`cgroup ${p}`);
  }
  if (existsSync(dir)) out.push(`folder ${dir}`);
  if (existsSync(join(home, 'containers', '.runc', name))) out.push(`runc state ${name}`);
  return out;
}
