/** Bytes in binary units, one decimal when small: `512 MiB`, `1.5 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 10 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/** A short relative time: `just now`, `5 min ago`, `3 h ago`, or the date. */
export function formatAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}

/** The clock time of an ISO date, `14:03:27`. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}

/** The instance name in an API path such as `/1.0/instances/web1`, if it is one. */
export function instanceOf(resource: string): string | undefined {
  const m = /^\/1\.0\/instances\/([^/]+)/.exec(resource);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** An event's or operation's kind in plain words: `instance-started` → `started`, `instance.launch` → `launch`. */
export function plainAction(kind: string): string {
  return kind.replace(/^instance[-.]/, '').replace(/[-.]/g, ' ');
}

/**
 * Splits a line into arguments as a shell would for plain words: blanks separate them, and '…' or "…" keep blanks
 * (and the other quote) inside one. An unclosed quote is an error naming it.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`the quote ${quote} is not closed`);
  if (inWord) out.push(cur);
  return out;
}

/** Environment variables from `NAME=value` lines (blank lines skipped); a line without a valid name is an error. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line.trim() : line.slice(0, eq).trim();
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`'${line.trim()}' is not NAME=value`);
    env[name] = line.slice(eq + 1);
  }
  return env;
}

/** Text from base64 (UTF-8; bytes that are not UTF-8 show as U+FFFD). */
export function fromBase64(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
