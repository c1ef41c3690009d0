/**
 * The host's apt sources, read to find its Debian mirror: one-line `sources.list` files and deb822 `.sources`
 * files (sources.list(5)), and the `--mirror` URL as apt gets it.
 */

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { fsError } from './fs-checked.js';

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
  const mainText = await readIfExists(main);
  if (mainText !== undefined) entries.push(...parseOneLineSources(mainText, main));
  const partsDir = join(aptEtcDir, 'sources.list.d');
  const names = await readdir(partsDir).catch((err: NodeJS.ErrnoException) => {
    // No sources.list.d is a normal apt setup; any other failure is reported, not taken for "no mirror".
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [] as string[];
    throw fsError(err, partsDir, 'reading');
  });
  for (const name of names.sort()) {
    const file = join(partsDir, name);
    const parse = name.endsWith('.list') ? parseOneLineSources : name.endsWith('.sources') ? parseDeb822Sources : null;
    if (!parse) continue;
    const text = await readIfExists(file);
    if (text !== undefined) entries.push(...parse(text, file));
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

/**
 * The text of `path`, or undefined when it does not exist (a dangling link in sources.list.d included). Other
 * failures (permission denied, I/O) are errors naming the file: an unreadable sources file must not pass for
 * one without a Debian mirror.
 */
async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(err, path, 'reading');
  }
}

/**
 * A mirror URL as apt's sources line gets it: parsed by WHATWG URL and written back from its `href` (so
 * spaces and other characters are escaped, the host lower-cased), without trailing slashes. INVALID_ARGUMENT
 * naming the text when it is not an http(s) URL.
 */
export function normalizeMirrorUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StrataError('INVALID_ARGUMENT', `invalid mirror URL '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StrataError('INVALID_ARGUMENT', `invalid mirror URL '${text}': use http:// or https://`);
  }
  if (url.search || url.hash) {
    throw new StrataError('INVALID_ARGUMENT', `invalid mirror URL '${text}': no query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}
