import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStrata } from './strata-cli.js';

/**
 * The Debian guest image shared by end-to-end tests and benchmarks. Pulling it downloads about 115 MB and takes
 * well under a minute here, so every test file (and every test process of one run) shares ONE store:
 *
 *   $STRATA_TEST_HOME   (default: <os tmpdir>/strata-test-home), used as STRATA_HOME
 *
 * The first caller takes a lock (`.pull-lock`, a folder holding the owner's pid; a lock whose owner is gone is
 * taken over) and runs `strata image pull debian`; callers that come while it runs wait for the lock. A stamp
 * (`.last-pull.json`) makes later callers within PULL_REUSE_MS skip the pull entirely, so one `npm test` pulls
 * (or re-checks the mirror) once. The store is kept across runs: a later pull only re-reads the mirror's signed
 * index and downloads no package when nothing changed.
 */
export const SHARED_STRATA_HOME = process.env.STRATA_TEST_HOME ?? join(tmpdir(), 'strata-test-home');

/** How long a successful pull is trusted without asking the mirror again. */
const PULL_REUSE_MS = 30 * 60_000;

/** The files of the shared image and what its manifest says. */
export interface SharedDebianImage {
  home: string;
  dir: string;
  kernel: string;
  initrd: string;
  fwJump: string;
  fwDynamic: string;
  kernelVersion: string;
}

let memo: Promise<string> | undefined;

/** Pulls the Debian image into the shared store once (see above) and returns that STRATA_HOME. */
export function ensureDebianImage(): Promise<string> {
  memo ??= ensureOnce();
  return memo;
}

/** ensureDebianImage, then the paths of the image's files and its kernel version. */
export async function ensureDebianImageFiles(): Promise<SharedDebianImage> {
  const home = await ensureDebianImage();
  const dir = join(home, 'images', 'debian');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { kernelVersion: string };
  return {
    home,
    dir,
    kernel: join(dir, 'Image'),
    initrd: join(dir, 'initrd.gz'),
    fwJump: join(dir, 'fw_jump.bin'),
    fwDynamic: join(dir, 'fw_dynamic.bin'),
    kernelVersion: manifest.kernelVersion,
  };
}

async function ensureOnce(): Promise<string> {
  const home = SHARED_STRATA_HOME;
  mkdirSync(home, { recursive: true });
  const release = await lock(join(home, '.pull-lock'));
  try {
    const stampPath = join(home, '.last-pull.json');
    const stamp = existsSync(stampPath)
      ? (JSON.parse(readFileSync(stampPath, 'utf8')) as { atMs: number })
      : { atMs: 0 };
    const manifest = join(home, 'images', 'debian', 'manifest.json');
    if (!existsSync(manifest) || Date.now() - stamp.atMs > PULL_REUSE_MS) {
      const pull = await runStrata(['image', 'pull', 'debian', '--quiet'], {
        env: { STRATA_HOME: home },
        timeoutMs: 10 * 60_000,
      });
      if (pull.code !== 0) {
        throw new Error(`strata image pull debian failed (${pull.code}): ${pull.stderr}${pull.stdout}`);
      }
      writeFileSync(stampPath, JSON.stringify({ atMs: Date.now() }));
    }
    return home;
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
