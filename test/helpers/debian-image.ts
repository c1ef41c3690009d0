import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runStrata } from './strata-cli.js';

/**
 * A STRATA_HOME shared by the tests of one machine that holds the pulled `debian` image. The first caller pulls
 * (about a minute and 115 MB from the host's Debian mirror); later callers, in this or another test process, find
 * it up to date, since `image pull` is idempotent. `$STRATA_TEST_HOME` chooses another folder.
 */
export async function ensureDebianImage(): Promise<string> {
  const home = process.env.STRATA_TEST_HOME ?? join(tmpdir(), 'strata-test-home');
  mkdirSync(home, { recursive: true });
  const lock = join(home, '.pull-lock');
  await acquire(lock);
  try {
    const r = await runStrata(['image', 'pull', 'debian', '--quiet'], {
      env: { STRATA_HOME: home },
      timeoutMs: 10 * 60_000,
    });
    if (r.code !== 0) throw new Error(`strata image pull debian failed (${r.code}): ${r.stderr}${r.stdout}`);
  } finally {
    rmdirSync(lock);
  }
  return home;
}

/** A lock between test processes: a folder that only one process can create. Stale after 15 minutes. */
async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmdirSync(lock);
      } catch {
        // The holder released it between our calls: try again.
      }
      await sleep(250);
    }
  }
}
