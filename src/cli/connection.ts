import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { DEFAULT_DAEMON_PORT } from '../api/schema/index.js';
import type { DaemonTarget } from './client.js';

/**
 * `$STRATA_HOME`, else `$XDG_DATA_HOME/strata`, else `~/.local/share/strata` (the same rule as the daemon's; the CLI
 * may not import the services layer, so the rule is restated here).
 */
export function cliStrataHome(env: NodeJS.ProcessEnv): string {
  if (env.STRATA_HOME) return env.STRATA_HOME;
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'strata');
  return join(env.HOME || homedir(), '.local', 'share', 'strata');
}

function readToken(home: string): string | undefined {
  try {
    return readFileSync(join(home, 'daemon', 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * How the CLI reaches the daemon: `STRATA_URL` (TCP, with `STRATA_TOKEN` or the local token file), else the local
 * Unix socket `$STRATA_HOME/daemon/strata.sock`.
 */
export function resolveTarget(env: NodeJS.ProcessEnv): DaemonTarget {
  const home = cliStrataHome(env);
  if (env.STRATA_URL) {
    return { baseUrl: env.STRATA_URL, token: env.STRATA_TOKEN ?? readToken(home) };
  }
  return { baseUrl: `http://127.0.0.1:${DEFAULT_DAEMON_PORT}`, socketPath: join(home, 'daemon', 'strata.sock') };
}

/**
 * The rule for the commands that can act on `$STRATA_HOME` directly (`strata network`, `strata storage`): with
 * `STRATA_URL` set the daemon it names is the one to act on, so they go through its API; without it they act on
 * the local home (the same store a local daemon uses).
 */
export function isRemoteDaemon(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.STRATA_URL);
}
