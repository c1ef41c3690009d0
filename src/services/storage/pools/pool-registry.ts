import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { StrataError } from '../../../base/errors.js';
import { ioError } from '../io-util.js';
import { DirPool } from './dir-pool.js';
import { checkName, type PoolDriver } from './pool-driver.js';
import { VolumeLocks, volumeLockDir } from './volume-locks.js';

/** The pool every installation has; made on first use. */
export const DEFAULT_POOL = 'default';

/** Pool kinds and how to make their driver. Add a kind: its PoolDriver, an entry here, and the conformance suite. */
const DRIVERS: Record<string, (def: PoolDefinition, locks: VolumeLocks) => PoolDriver> = {
  dir: (def, locks) => new DirPool(def.name, def.path, locks),
};

/** What `pool.json` holds. */
export interface PoolDefinition {
  name: string;
  /** Driver kind: `dir`. */
  type: string;
  /** Where the volumes live (absolute). */
  path: string;
  createdAt: string;
}

/** A pool with its current figures, as `storage pool list|show` prints it. */
export interface PoolInfo extends PoolDefinition {
  volumes: number;
  /** Host bytes the pool's volumes occupy. */
  allocationBytes: number;
  /** Bytes free on the host file system that holds the pool (null when it cannot be read). */
  availableBytes: number | null;
}

/**
 * The storage pools of one `$STRATA_HOME`: each pool is a folder `storage-pools/<name>/` holding `pool.json`; a
 * directory pool keeps its volumes in `storage-pools/<name>/volumes/` unless created with a path of its own. The
 * `default` directory pool is created the first time pools are used. Pool names are checked like volume names, so
 * none reaches outside the registry folder.
 */
export class PoolRegistry {
  /** `$STRATA_HOME/storage-pools`. */
  readonly root: string;
  /** The volume locks shared by every pool. */
  readonly locks: VolumeLocks;

  constructor(readonly home: string) {
    this.root = join(home, 'storage-pools');
    this.locks = new VolumeLocks(volumeLockDir(home));
  }

  private defPath(name: string): string {
    return join(this.root, name, 'pool.json');
  }

  /** Makes the default pool when it does not exist yet. */
  private async ensureDefault(): Promise<void> {
    if (await exists(this.defPath(DEFAULT_POOL))) return;
    try {
      await this.create(DEFAULT_POOL);
    } catch (err) {
      // another process made it meanwhile
      if (!(err instanceof StrataError && err.code === 'ALREADY_EXISTS')) throw err;
    }
  }

  /** Every pool definition, sorted by name. */
  async definitions(): Promise<PoolDefinition[]> {
    await this.ensureDefault();
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      throw ioError(this.root, 'cannot list the storage pools', err);
    }
    const out: PoolDefinition[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.')) continue;
      if (!(await exists(this.defPath(n)))) continue;
      out.push(await this.definition(n));
    }
    return out;
  }

  /** One pool's definition; NOT_FOUND naming the known pools when absent. */
  async definition(name: string): Promise<PoolDefinition> {
    checkName(name, 'pool');
    if (name === DEFAULT_POOL) await this.ensureDefault();
    let text: string;
    try {
      text = await readFile(this.defPath(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StrataError('NOT_FOUND', `no storage pool '${name}' (see \`strata storage pool list\`)`);
      }
      throw ioError(this.defPath(name), 'cannot read the pool definition', err);
    }
    let def: Partial<PoolDefinition>;
    try {
      def = JSON.parse(text) as Partial<PoolDefinition>;
    } catch {
      throw new StrataError('INVALID_ARGUMENT', `${this.defPath(name)}: not a pool definition (bad JSON)`);
    }
    if (def.name !== name || typeof def.type !== 'string' || typeof def.path !== 'string' || !isAbsolute(def.path)) {
      throw new StrataError('INVALID_ARGUMENT', `${this.defPath(name)}: not a valid pool definition`);
    }
    return def as PoolDefinition;
  }

  /** The driver of a pool. */
  async open(name: string): Promise<PoolDriver> {
    const def = await this.definition(name);
    const make = DRIVERS[def.type];
    if (!make) throw new StrataError('INVALID_ARGUMENT', `pool '${name}' has unknown type '${def.type}'`);
    return make(def, this.locks);
  }

  /**
   * Creates a directory pool. Without `path` its volumes live inside the registry; with one, in that directory
   * (created if missing; an existing one must be a directory). The definition is written under a temporary name
   * and renamed into place, so a failed create leaves nothing.
   */
  async create(name: string, opts: { type?: string; path?: string } = {}): Promise<PoolDefinition> {
    checkName(name, 'pool');
    const type = opts.type ?? 'dir';
    if (!DRIVERS[type]) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `unknown pool type '${type}': known are ${Object.keys(DRIVERS).join(', ')}`,
      );
    }
    const folder = join(this.root, name);
    if (await exists(folder)) throw new StrataError('ALREADY_EXISTS', `storage pool '${name}' already exists`);
    const path = opts.path === undefined ? join(folder, 'volumes') : resolve(opts.path);
    if (opts.path !== undefined) {
      const st = await stat(path).catch(() => null);
      if (st && !st.isDirectory()) throw new StrataError('INVALID_ARGUMENT', `${path}: not a directory`);
      // two pools on one directory would each list (and delete) the other's volumes
      const other = (await this.definitions()).find((d) => d.path === path);
      if (other) throw new StrataError('CONFLICT', `${path} is already the directory of storage pool '${other.name}'`);
    }
    const def: PoolDefinition = { name, type, path, createdAt: new Date().toISOString() };
    const tmp = join(this.root, `.tmp-${name}-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(tmp, { recursive: true });
      if (opts.path === undefined) await mkdir(join(tmp, 'volumes'));
      else await mkdir(path, { recursive: true });
      await writeFile(join(tmp, 'pool.json'), `${JSON.stringify(def, null, 2)}\n`);
      await rename(tmp, folder);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StrataError('ALREADY_EXISTS', `storage pool '${name}' already exists`);
      }
      throw ioError(folder, `cannot create storage pool '${name}'`, err);
    }
    return def;
  }

  /** Deletes an empty pool (its definition; a directory of its own given at creation stays). */
  async delete(name: string): Promise<void> {
    const pool = await this.open(name);
    if (!(await pool.isEmpty())) {
      const names = (await pool.listVolumes()).map((v) => `'${v.name}'`);
      throw new StrataError(
        'CONFLICT',
        `storage pool '${name}' is not empty: delete its volumes first (${names.join(', ')})`,
      );
    }
    const folder = join(this.root, name);
    const trash = join(this.root, `.tmp-deleted-${name}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(folder, trash);
    } catch (err) {
      throw ioError(folder, `cannot delete storage pool '${name}'`, err);
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** A pool's definition with its volume count, allocation and the host's free space. */
  async info(name: string): Promise<PoolInfo> {
    const def = await this.definition(name);
    const pool = await this.open(name);
    const volumes = await pool.listVolumes();
    let availableBytes: number | null = null;
    try {
      const fs = await statfs(def.path);
      availableBytes = fs.bavail * fs.bsize;
    } catch {
      availableBytes = null;
    }
    return {
      ...def,
      volumes: volumes.length,
      allocationBytes: volumes.reduce((n, v) => n + v.allocationBytes, 0),
      availableBytes,
    };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
