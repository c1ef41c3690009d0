/**
 * apt-get under a private configuration: fetches Debian packages for another architecture without touching the
 * host's apt state. The private `apt.conf` (passed with `APT_CONFIG`, which apt reads first) points every state,
 * cache, source and configuration-fragment directory into the image cache, so the host's `apt.conf.d` hooks
 * (`APT::Update::Post-Invoke*`, cache cleaners) never run for our updates; only the host's HTTP proxy settings
 * are carried over. Signature checking is apt's own: `apt-get update` verifies the mirror's `InRelease` with
 * the keyring named by `signed-by`, and every package hash we later check comes from that signed index.
 */

import { spawn } from 'node:child_process';
import { access, constants, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked, writeFileChecked } from './fs-checked.js';
import { findExecutable, runTool } from './host-tools.js';

// Reading the host's sources lives in apt-sources.ts; re-exported here for the callers of this module.
export {
  type AptSourceEntry,
  discoverDebianMirror,
  isDebianReleaseSuite,
  parseDeb822Sources,
  parseOneLineSources,
} from './apt-sources.js';

/** One package file to download, as `apt-get download --print-uris` names it (hash from the signed index). */
export interface AptDownload {
  url: string;
  fileName: string;
  sizeBytes: number;
  sha256: string;
}

/** Parses `apt-get download --print-uris` output: `'URL' FILE SIZE SHA256:HEX` per line. */
export function parsePrintUris(text: string): AptDownload[] {
  const out: AptDownload[] = [];
  for (const line of text.split('\n')) {
    const m = /^'([^']+)'\s+(\S+)\s+(\d+)\s+(\S+)/.exec(line.trim());
    if (!m?.[1] || !m[2] || !m[3] || !m[4]) continue;
    const hash = /^SHA256:([0-9a-f]{64})$/i.exec(m[4]);
    if (!hash?.[1]) throw new StrataError('CHECKSUM', `apt gives no SHA256 for ${m[2]} (got '${m[4]}')`);
    out.push({ url: m[1], fileName: m[2], sizeBytes: Number(m[3]), sha256: hash[1].toLowerCase() });
  }
  return out;
}

/** One stanza of `apt-cache show`: field names as written (`Package`, `Version`, `Depends`). */
export type AptStanza = Map<string, string>;

/** Parses `apt-cache show` output into stanzas. */
export function parseStanzas(text: string): AptStanza[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const fields: AptStanza = new Map();
      let last = '';
      for (const line of block.split('\n')) {
        if (/^\s/.test(line) && last) {
          fields.set(last, `${fields.get(last) ?? ''}\n${line.trim()}`);
          continue;
        }
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m?.[1]) {
          last = m[1];
          fields.set(last, m[2] ?? '');
        }
      }
      return fields;
    })
    .filter((s) => s.has('Package'));
}

/** What `apt-get update` did: how many index files were unchanged (`Hit`) or fetched (`Get`), and bytes fetched. */
export interface AptUpdateResult {
  hits: number;
  gets: number;
  fetchedBytes: number;
  /** apt's own fallbacks worth telling (its `W:` lines about the download sandbox). */
  warnings: string[];
}

/** Settings of a private apt instance. */
export interface PrivateAptOptions {
  /** Folder for the private configuration, lists and cache (created when missing). */
  stateDir: string;
  /** The Debian mirror URI (`http://HOST/debian`). */
  mirror: string;
  suite: string;
  component: string;
  arch: string;
  /** The keyring that verifies the mirror's Release file. */
  keyring: string;
  /** The environment apt-get runs with (PATH decides which apt-get). */
  env: NodeJS.ProcessEnv;
}

/** A private apt instance: one mirror, one suite, one architecture, its own lists and cache. */
export class PrivateApt {
  constructor(private readonly opts: PrivateAptOptions) {}

  /** The `sources.list` line this instance uses. */
  sourcesLine(): string {
    const o = this.opts;
    return `deb [arch=${o.arch} signed-by=${o.keyring}] ${o.mirror} ${o.suite} ${o.component}\n`;
  }

  /**
   * Checks that apt-get and the keyring exist and writes the private configuration. UNAVAILABLE when apt-get or
   * apt-cache is not in PATH, NOT_FOUND when the keyring is missing.
   */
  async prepare(): Promise<void> {
    for (const tool of ['apt-get', 'apt-cache']) {
      if (!(await findExecutable(tool, this.opts.env.PATH))) {
        throw new StrataError(
          'UNAVAILABLE',
          `${tool} not found in PATH: pulling Debian images needs apt (install the apt package)`,
        );
      }
    }
    const keyringReadable = await access(this.opts.keyring, constants.R_OK).then(
      () => true,
      () => false,
    );
    if (!keyringReadable) {
      throw new StrataError(
        'NOT_FOUND',
        `Debian archive keyring ${this.opts.keyring} not found: install debian-archive-keyring`,
      );
    }
    const d = this.opts.stateDir;
    for (const sub of [
      'etc/apt.conf.d',
      'etc/sources.list.d',
      'etc/preferences.d',
      'lists/partial',
      'cache/archives/partial',
      'state',
    ]) {
      await mkdirChecked(join(d, sub));
    }
    await writeFileChecked(join(d, 'etc/sources.list'), this.sourcesLine());
    const conf = [
      // apt reads APT_CONFIG first: these two keep it from reading the host's apt.conf and apt.conf.d after it.
      `Dir::Etc::main "${join(d, 'apt.conf')}";`,
      `Dir::Etc::parts "${join(d, 'etc/apt.conf.d')}";`,
      `Dir::Etc::sourcelist "${join(d, 'etc/sources.list')}";`,
      `Dir::Etc::sourceparts "${join(d, 'etc/sources.list.d')}";`,
      `Dir::Etc::preferences "${join(d, 'etc/preferences')}";`,
      `Dir::Etc::preferencesparts "${join(d, 'etc/preferences.d')}";`,
      `Dir::State "${join(d, 'state')}";`,
      `Dir::State::Lists "${join(d, 'lists')}";`,
      'Dir::State::status "/dev/null";',
      `Dir::Cache "${join(d, 'cache')}";`,
      `APT::Architecture "${this.opts.arch}";`,
      `APT::Architectures { "${this.opts.arch}"; };`,
      // Fail the update when any index fails instead of warning and using stale lists.
      'APT::Update::Error-Mode "any";',
      'Acquire::Retries "0";',
      'Acquire::http::Timeout "30";',
      'Acquire::https::Timeout "30";',
      'Acquire::Languages "none";',
      // Keep the index compressed (20 MB, not 54 MB) and build apt's package cache in memory (not 2 x 41 MB).
      'Acquire::GzipIndexes "true";',
      'Dir::Cache::pkgcache "";',
      'Dir::Cache::srcpkgcache "";',
      ...(await this.hostProxySettings()),
      '',
    ].join('\n');
    await writeFileChecked(join(d, 'apt.conf'), conf);
  }

  /**
   * The host's `Acquire::http(s)::Proxy` settings as apt.conf lines (from `apt-config dump` under the host's own
   * configuration), so a host that reaches its mirror through a proxy still does. Empty when there are none or
   * apt-config cannot tell.
   */
  private async hostProxySettings(): Promise<string[]> {
    const env: NodeJS.ProcessEnv = { ...this.opts.env, LC_ALL: 'C' };
    delete env.APT_CONFIG;
    const out = await runTool('apt-config', ['dump'], {
      env,
      signal: AbortSignal.timeout(10_000),
      onFail: (stderr) => new StrataError('UNAVAILABLE', `apt-config dump failed: ${stderr}`),
    }).catch(() => {
      // Proxy settings are optional: without apt-config's answer apt runs with no proxy, as documented above.
      return undefined;
    });
    if (!out) return [];
    return out.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => /^Acquire::(http|https)::Proxy(::[^\s"]+)? "[^"]*";$/.test(l));
  }

  /**
   * `apt-get update`: downloads and verifies the signed index (conditional requests when it is unchanged).
   * apt does the transfer itself and tells no byte counts, so `onBytes` is fed from the files growing in its
   * `lists/partial` download folder (polled; the total is not known in advance).
   */
  async update(signal: AbortSignal, onBytes?: (bytes: number) => void): Promise<AptUpdateResult> {
    const partial = join(this.opts.stateDir, 'lists', 'partial');
    const seen = new Map<string, number>();
    const poll = async (): Promise<void> => {
      for (const name of await readdir(partial)) {
        // apt re-compresses a fetched index into a temporary `NAME.lz4.XXXXXX` here: local work, not download.
        if (/\.\w+\.[A-Za-z0-9]{6}$/.test(name)) continue;
        const size = await stat(join(partial, name)).then(
          (st) => st.size,
          () => 0, // Finished and moved out between readdir and stat: its last size counts.
        );
        seen.set(name, Math.max(seen.get(name) ?? 0, size));
      }
      onBytes?.([...seen.values()].reduce((a, b) => a + b, 0));
    };
    const timer = onBytes
      ? setInterval(() => {
          poll().catch(() => {
            // Progress only: a folder apt is changing under us is read again at the next tick.
          });
        }, 200)
      : undefined;
    let out: string;
    try {
      out = await this.run('apt-get', ['update'], signal, true);
    } finally {
      clearInterval(timer);
    }
    const hits = (out.match(/^Hit:/gm) ?? []).length;
    const gets = (out.match(/^Get:/gm) ?? []).length;
    const fetched = /^Fetched (\d+(?:\.\d+)?) ([kMG]?)B/m.exec(out);
    const mult: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9 };
    const fetchedBytes = fetched ? Math.round(Number(fetched[1]) * (mult[fetched[2] ?? ''] ?? 1)) : 0;
    const warnings: string[] = [];
    if (/Download is performed unsandboxed as root/.test(out)) {
      // apt drops to `_apt` for downloads unless that user cannot enter the state folder (a 0700 home): then
      // apt itself falls back to root and warns. We do not force either way; we say which happened.
      warnings.push(
        `apt downloaded the index as root, not as its sandbox user _apt, which cannot enter ${this.opts.stateDir}`,
      );
    }
    return { hits, gets, fetchedBytes, warnings };
  }

  /** `apt-cache show --no-all-versions`: the candidate stanza of each package; NOT_FOUND naming a missing one. */
  async show(packages: readonly string[], signal: AbortSignal): Promise<Map<string, AptStanza>> {
    const out = await this.run('apt-cache', ['show', '--no-all-versions', ...packages], signal);
    const byName = new Map<string, AptStanza>();
    for (const s of parseStanzas(out)) {
      const name = s.get('Package');
      if (name && !byName.has(name)) byName.set(name, s);
    }
    for (const p of packages) {
      if (!byName.has(p)) {
        throw new StrataError(
          'NOT_FOUND',
          `package ${p} not found in ${this.opts.suite} ${this.opts.arch} at ${this.opts.mirror}`,
        );
      }
    }
    return byName;
  }

  /** `apt-get download --print-uris`: where each package is and its size and SHA256 from the signed index. */
  async printUris(packages: readonly string[], signal: AbortSignal): Promise<AptDownload[]> {
    const out = await this.run('apt-get', ['download', '--print-uris', ...packages], signal);
    const list = parsePrintUris(out);
    if (list.length !== packages.length) {
      throw new StrataError(
        'NOT_FOUND',
        `apt resolved ${list.length} of ${packages.length} packages (${packages.join(', ')})`,
      );
    }
    return list;
  }

  /** Runs an apt tool under the private configuration; resolves with stdout (and stderr when `withStderr`). */
  private run(tool: string, args: string[], signal: AbortSignal, withStderr = false): Promise<string> {
    const env = { ...this.opts.env, APT_CONFIG: join(this.opts.stateDir, 'apt.conf'), LC_ALL: 'C', LANG: 'C' };
    return new Promise((resolve, reject) => {
      const child = spawn(tool, args, { env, signal, stdio: ['ignore', 'pipe', 'pipe'], cwd: this.opts.stateDir });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
      });
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.name === 'AbortError') reject(new StrataError('ABORTED', `${tool} ${args[0]} cancelled`));
        else if (err.code === 'ENOENT') reject(new StrataError('UNAVAILABLE', `${tool} not found in PATH`));
        else reject(fsError(err, tool));
      });
      child.on('close', (code) => {
        if (code === 0) resolve(withStderr ? `${stdout}\n${stderr}` : stdout);
        else reject(this.classify(tool, args, stdout + '\n' + stderr, code));
      });
    });
  }

  /** Turns apt's failure output into one StrataError line that names the cause. */
  private classify(tool: string, args: string[], output: string, code: number | null): StrataError {
    const mirror = this.opts.mirror;
    const errLine = /^Err:\d+\s+\S+.*\n\s+(.+)$/m.exec(output)?.[1]?.trim();
    const eLine = /^E: (.+)$/m.exec(output)?.[1]?.trim();
    const cause = errLine ?? eLine ?? `exit code ${code}`;
    if (/No space left on device/i.test(output)) {
      return new StrataError('NO_SPACE', `no space left on device for apt state in ${this.opts.stateDir}: ${cause}`);
    }
    if (/NO_PUBKEY|not signed|signatures? (couldn't|could not|were invalid)|BADSIG|EXPKEYSIG/i.test(output)) {
      return new StrataError('CHECKSUM', `signature of the Debian index at ${mirror} does not verify: ${cause}`);
    }
    if (/Hash Sum mismatch|File has unexpected size/i.test(output)) {
      return new StrataError('CHECKSUM', `index from ${mirror} failed its checksum: ${cause}`);
    }
    if (/\b404\b/.test(output)) {
      return new StrataError(
        'NOT_FOUND',
        `Debian mirror ${mirror} has no ${this.opts.suite}/${this.opts.component} ${this.opts.arch} index: ${cause}`,
      );
    }
    if (
      /Could not connect|Connection refused|Temporary failure resolving|Could not resolve|Unable to connect|timed out|Network is unreachable|Failed to fetch/i.test(
        output,
      )
    ) {
      return new StrataError('NETWORK', `cannot reach Debian mirror ${mirror}: ${cause}`);
    }
    return new StrataError('UNAVAILABLE', `${tool} ${args[0]} failed: ${cause}`);
  }
}
