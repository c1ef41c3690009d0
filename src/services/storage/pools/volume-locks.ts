import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../../../base/errors.js';
import { ioError } from '../io-util.js';
import type { VolumeUser } from './pool-driver.js';

/** The folder of volume lock files under `$STRATA_HOME`. */
export function volumeLockDir(home: string): string {
  return join(home, 'run', 'storage-volume-locks');
}

/** A held lock; {@link release} removes its file. */
export interface VolumeLock {
  readonly mode: 'rw' | 'ro';
  readonly pid: number;
  /** Removes the lock file (idempotent). */
  release(): Promise<void>;
}

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Which processes use which volume, recorded as lock files holding a pid (the VMM's, or a management command's
 * while it changes the volume): `<key>.rw` for the one read-write user, `<key>.ro.<pid>` for each read-only user.
 * A lock whose pid is gone is stale and ignored (and removed). Read-write use excludes every other use; read-only
 * users share. Each side creates its own file first, then looks for the other side's, so two racing acquirers can
 * both fail but never both succeed. (Taking over a stale read-write lock has a small window in which two
 * processes that both saw it stale may race; the loser then fails when it finds the winner's file.)
 */
export class VolumeLocks {
  constructor(readonly dir: string) {}

  /** Lock file prefix of a volume: `<pool>@<volume>` (names cannot hold `@` or `/`). */
  private key(pool: string, volume: string): string {
    return `${pool}@${volume}`;
  }

  /** The live users of a volume; stale lock files are removed on the way. */
  async users(pool: string, volume: string): Promise<VolumeUser[]> {
    const prefix = this.key(pool, volume);
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(this.dir, 'cannot list volume locks', err);
    }
    const out: VolumeUser[] = [];
    for (const n of names) {
      let mode: 'rw' | 'ro';
      if (n === `${prefix}.rw`) mode = 'rw';
      else if (n.startsWith(`${prefix}.ro.`)) mode = 'ro';
      else continue;
      const path = join(this.dir, n);
      const pid = await readPid(path);
      if (pid === null) continue;
      if (!processAlive(pid)) {
        await removeIfPid(path, pid);
        continue;
      }
      out.push({ pid, mode });
    }
    return out;
  }

  /**
   * Takes a lock for `pid` (default: this process). Throws CONFLICT naming the holder when a read-write lock is
   * held by a live process, or, for a read-write lock, when any live reader exists.
   */
  async acquire(pool: string, volume: string, mode: 'rw' | 'ro', pid = process.pid): Promise<VolumeLock> {
    await mkdir(this.dir, { recursive: true }).catch((err: unknown) => {
      throw ioError(this.dir, 'cannot create the lock folder', err);
    });
    const prefix = this.key(pool, volume);
    const rwPath = join(this.dir, `${prefix}.rw`);
    const own = mode === 'rw' ? rwPath : join(this.dir, `${prefix}.ro.${pid}`);
    for (let attempt = 0; ; attempt++) {
      if (await createExclusive(own, pid)) break;
      const holder = await readPid(own);
      if (holder !== null && processAlive(holder)) {
        throw inUse(pool, volume, { pid: holder, mode }, mode);
      }
      if (attempt >= 3) throw new StrataError('CONFLICT', `volume ${pool}/${volume}: cannot take its lock ${own}`);
      if (holder !== null) await removeIfPid(own, holder);
      else await unlink(own).catch(() => {});
    }
    const lock: VolumeLock = {
      mode,
      pid,
      release: async () => {
        await removeIfPid(own, pid);
      },
    };
    // now look at the other side
    const others = (await this.users(pool, volume)).filter((u) => !(u.pid === pid && u.mode === mode));
    const clash = mode === 'rw' ? others[0] : others.find((u) => u.mode === 'rw');
    if (clash) {
      await lock.release();
      throw inUse(pool, volume, clash, mode);
    }
    return lock;
  }
}

function inUse(pool: string, volume: string, holder: VolumeUser, wanted: 'rw' | 'ro'): StrataError {
  const how = holder.mode === 'rw' ? 'read-write' : 'read-only';
  const want = wanted === 'rw' ? 'it cannot be changed or opened read-write' : 'it cannot be opened';
  return new StrataError(
    'CONFLICT',
    `volume ${pool}/${volume} is in use ${how} by process ${holder.pid} (a running VM or a storage command): ${want} now`,
  );
}

/**
 * Creates `path` holding `pid` unless it exists; false when it does. The pid is written to a temporary file first
 * and hard-linked into place (link fails atomically when the name exists), so a lock file is never seen empty.
 */
async function createExclusive(path: string, pid: number): Promise<boolean> {
  const tmp = join(dirname(path), `.tmp-${pid}-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, `${pid}\n`, { flag: 'wx' });
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(path, 'cannot create the lock file', err);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function readPid(path: string): Promise<number | null> {
  try {
    const text = await readFile(path, 'utf8');
    const pid = Number.parseInt(text.trim(), 10);
    // lock files are linked into place whole (see createExclusive): anything else is garbage, held by nobody
    return Number.isSafeInteger(pid) ? pid : 0;
  } catch {
    return null;
  }
}

/** Removes a lock file only if it still holds `pid` (re-read just before, to keep the race window small). */
async function removeIfPid(path: string, pid: number): Promise<void> {
  if ((await readPid(path)) !== pid) return;
  await unlink(path).catch(() => {});
}
