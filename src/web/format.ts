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
