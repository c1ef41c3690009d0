import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the daemon keeps its files under `$STRATA_HOME`. */
export interface DaemonPaths {
  home: string;
  /** `daemon/`, mode 0700. */
  dir: string;
  /** The SQLite state. */
  db: string;
  /** The bearer token, mode 0600. */
  token: string;
  /** The Unix socket, mode 0600. */
  socket: string;
  /** Where a running daemon says how to reach it (pid, url, socket). */
  info: string;
}

/** The daemon's paths under `home`. */
export function daemonPaths(home: string): DaemonPaths {
  const dir = join(home, 'daemon');
  return {
    home,
    dir,
    db: join(dir, 'state.db'),
    token: join(dir, 'token'),
    socket: join(dir, 'strata.sock'),
    info: join(dir, 'daemon.json'),
  };
}

/** What `daemon.json` holds. */
export interface DaemonInfo {
  pid: number;
  url: string;
  socket: string;
  startedAt: string;
}

/** Reads the token, creating a new random one (mode 0600) on first start. */
export function ensureToken(paths: DaemonPaths): string {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
  try {
    const t = readFileSync(paths.token, 'utf8').trim();
    if (t.length >= 32) {
      chmodSync(paths.token, 0o600);
      return t;
    }
  } catch {
    // No token yet: this is the first start.
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(paths.token, `${token}\n`, { mode: 0o600 });
  chmodSync(paths.token, 0o600);
  return token;
}

/** The running daemon's info, or undefined. */
export function readDaemonInfo(paths: DaemonPaths): DaemonInfo | undefined {
  try {
    return JSON.parse(readFileSync(paths.info, 'utf8')) as DaemonInfo;
  } catch {
    return undefined;
  }
}
