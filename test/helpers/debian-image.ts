import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStrata } from './strata-cli.js';

/**
 * The Debian guest image shared by end-to-end tests and benchmarks. Pulling it downloads about 115 MB and takes
 * well under a minute here, so every test file (and every test process of one run) shares ONE store:
 *
 *   $STRATA_TEST_HOME   (default: <os tmpdir>/strata-test-home), used as STRATA_HOME
 *
 * Each test process runs `strata image pull debian` once, under a lock (`.pull-lock`, a folder holding the
 * owner's pid; a lock whose owner is gone is taken over) so that processes of one run do not pull at the same
 * time. Only the first pull of a run does real work: within 6 hours of the last check of the mirror's index a
 * pull does no network work (it checks the image's hashes and says it is up to date), and it rebuilds the image
 * from the cached packages when the image builder changed, so tests always boot what the current code builds.
 */
export const SHARED_STRATA_HOME = process.env.STRATA_TEST_HOME ?? join(tmpdir(), 'strata-test-home');

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
    const pull = await runStrata(['image', 'pull', 'debian', '--quiet'], {
      env: { STRATA_HOME: home },
      timeoutMs: 10 * 60_000,
    });
    if (pull.code !== 0) {
      throw new Error(`strata image pull debian failed (${pull.code}): ${pull.stderr}${pull.stdout}`);
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
