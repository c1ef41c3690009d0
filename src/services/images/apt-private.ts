/**
 * apt-get under a private configuration: fetches Debian packages for another architecture without touching the
 * host's apt state. The private `apt.conf` (passed with `APT_CONFIG`, which apt reads first) points every state,
 * cache, source and configuration-fragment directory into the image cache, so the host's `apt.conf.d` hooks
 * (`APT::Update::Post-Invoke*`, cache cleaners) never run for our updates; only the host's HTTP proxy settings
 * are carried over. Signature checking is apt's own: `apt-get update` verifies the mirror's `InRelease` with
 * the keyring named by `signed-by`, and every package hash we later check comes from that signed index.
 */

import { spawn } from 'node:child_process';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { fsError, mkdirChecked, writeFileChecked } from './fs-checked.js';
import { findExecutable, runTool } from './host-tools.js';

/** Debian release code names and aliases a host's sources may name (suffixes like `-updates` are stripped). */
const DEBIAN_SUITES = new Set([
  'buster',
  'bullseye',
  'bookworm',
  'trixie',
  'forky',
  'duke',
  'sid',
  'oldoldstable',
  'oldstable',
  'stable',
  'testing',
  'unstable',
]);

/** One `deb` entry of the host's apt sources, one line or one deb822 stanza. */
export interface AptSourceEntry {
  uris: string[];
  suites: string[];
  /** The file the entry came from, for messages. */
  file: string;
}

/** The `deb` entries of a one-line-style `sources.list` text (`deb-src`, comments and blank lines skipped). */
export function parseOneLineSources(text: string, file: string): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2]) out.push({ uris: [m[1]], suites: [m[2]], file });
  }
  return out;
}

/** The `deb` entries of a deb822 `.sources` text (sources.list(5)); stanzas with `Enabled: no` are skipped. */
export function parseDeb822Sources(text: string, file: string): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  const stanzas = text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n')
    .split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m?.[1]) continue;
      last = m[1].toLowerCase();
      fields.set(last, (m[2] ?? '').trim());
    }
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter((w) => w !== '');
    if (!words('types').includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    if (words('uris').length === 0 || words('suites').length === 0) continue;
    out.push({ uris: words('uris'), suites: words('suites'), file });
  }
  return out;
}

/** True when `suite` names a Debian release archive (not its security archive). */
export function isDebianReleaseSuite(suite: string): boolean {
  if (/-security$/.test(suite)) return false;
  return DEBIAN_SUITES.has(suite.replace(/-(updates|backports|proposed-updates|backports-sloppy)$/, ''));
}

/**
 * The URI of the Debian mirror the host's apt sources name: the first `deb` entry (`sources.list`, then
 * `sources.list.d/*.list` and `*.sources` in name order) whose suite is a Debian release and which is not a
 * security archive. Undefined when there is none.
 */
export async function discoverDebianMirror(aptEtcDir = '/etc/apt'): Promise<{ uri: string; file: string } | undefined> {
  const entries: AptSourceEntry[] = [];
  const main = join(aptEtcDir, 'sources.list');
  const mainText = await readFile(main, 'utf8').catch(() => undefined);
  if (mainText !== undefined) entries.push(...parseOneLineSources(mainText, main));
  const partsDir = join(aptEtcDir, 'sources.list.d');
  const names = (await readdir(partsDir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const file = join(partsDir, name);
    if (name.endsWith('.list')) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) entries.push(...parseOneLineSources(text, file));
    } else if (name.endsWith('.sources')) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) entries.push(...parseDeb822Sources(text, file));
    }
  }
  const ranked = [
    ...entries.filter((e) => e.suites.some((s) => DEBIAN_SUITES.has(s))),
    ...entries.filter((e) => e.suites.some(isDebianReleaseSuite)),
  ];
  for (const e of ranked) {
    const uri = e.uris.find((u) => /^https?:\/\//.test(u) && !/debian-security\/?$/.test(u));
    if (uri) return { uri: uri.replace(/\/+$/, ''), file: e.file };
  }
  return undefined;
}

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
      // The store usually lives in a 0700 home the `_apt` sandbox user cannot enter.
      'APT::Sandbox::User "root";',
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
    }).catch(() => undefined);
    if (!out) return [];
    return out.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => /^Acquire::(http|https)::Proxy(::[^\s"]+)? "[^"]*";$/.test(l));
  }

  /** `apt-get update`: downloads and verifies the signed index (conditional requests when it is unchanged). */
  async update(signal: AbortSignal): Promise<AptUpdateResult> {
    const out = await this.run('apt-get', ['update'], signal);
    const hits = (out.match(/^Hit:/gm) ?? []).length;
    const gets = (out.match(/^Get:/gm) ?? []).length;
    const fetched = /^Fetched (\d+(?:\.\d+)?) ([kMG]?)B/m.exec(out);
    const mult: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9 };
    const fetchedBytes = fetched ? Math.round(Number(fetched[1]) * (mult[fetched[2] ?? ''] ?? 1)) : 0;
    return { hits, gets, fetchedBytes };
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

  private run(tool: string, args: string[], signal: AbortSignal): Promise<string> {
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
        if (code === 0) resolve(stdout);
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
