import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, runStrata } from './strata-cli.js';

/**
 * The Debian guest image shared by end-to-end tests. Pulling it downloads about 115 MB and takes a minute or
 * less, so every test file (and every test process of one run) shares ONE store:
 *
 *   $STRATA_TEST_CACHE/home    (default: <os tmpdir>/strata-test-cache/home), used as STRATA_HOME
 *
 * The first caller takes a lock (`pull.lock`, a folder holding the owner's pid) and runs `strata image pull
 * debian`; callers that come while it runs wait for the lock. A stamp (`last-pull.json`) makes later callers
 * within PULL_REUSE_MS skip the pull entirely, so one `npm test` pulls (or checks the mirror) once. Across runs
 * the store is kept: a later pull only re-checks the mirror's index and downloads nothing when nothing changed.
 */
export const TEST_CACHE_DIR = process.env.STRATA_TEST_CACHE ?? join(tmpdir(), 'strata-test-cache');

/** STRATA_HOME of the shared store. */
export const SHARED_STRATA_HOME = join(TEST_CACHE_DIR, 'home');

/** How long a successful pull is trusted without asking the mirror again. */
const PULL_REUSE_MS = 30 * 60_000;

/** Where the shared image is and what its manifest says. */
export interface SharedDebianImage {
  home: string;
  dir: string;
  kernel: string;
  initrd: string;
  fwJump: string;
  fwDynamic: string;
  kernelVersion: string;
  /** The pull's CLI result when this call pulled, undefined when a recent pull was reused. */
  pull?: CliResult;
}

let memo: Promise<SharedDebianImage> | undefined;

/** Pulls the Debian image into the shared store once (see above) and returns its files. */
export function ensureDebianImage(): Promise<SharedDebianImage> {
  memo ??= ensureOnce();
  return memo;
}

async function ensureOnce(): Promise<SharedDebianImage> {
  mkdirSync(TEST_CACHE_DIR, { recursive: true });
  const release = await lock(join(TEST_CACHE_DIR, 'pull.lock'));
  try {
    const stampPath = join(TEST_CACHE_DIR, 'last-pull.json');
    const dir = join(SHARED_STRATA_HOME, 'images', 'debian');
    let pull: CliResult | undefined;
    const stamp = existsSync(stampPath)
      ? (JSON.parse(readFileSync(stampPath, 'utf8')) as { atMs: number })
      : { atMs: 0 };
    if (!existsSync(join(dir, 'manifest.json')) || Date.now() - stamp.atMs > PULL_REUSE_MS) {
      pull = await runStrata(['image', 'pull', 'debian', '--quiet'], {
        env: { STRATA_HOME: SHARED_STRATA_HOME },
        timeoutMs: 600_000,
      });
      if (pull.code !== 0) {
        throw new Error(`strata image pull debian failed (${pull.code}): ${pull.stderr}${pull.stdout}`);
      }
      writeFileSync(stampPath, JSON.stringify({ atMs: Date.now() }));
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { kernelVersion: string };
    return {
      home: SHARED_STRATA_HOME,
      dir,
      kernel: join(dir, 'Image'),
      initrd: join(dir, 'initrd.gz'),
      fwJump: join(dir, 'fw_jump.bin'),
      fwDynamic: join(dir, 'fw_dynamic.bin'),
      kernelVersion: manifest.kernelVersion,
      pull,
    };
  } finally {
    release();
  }
}

/** A cross-process lock: a folder created atomically; a lock whose owner process is gone is taken over. */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(readFileSafe(join(path, 'pid')));
    if (owner > 0 && !alive(owner)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path} (held by pid ${owner})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
