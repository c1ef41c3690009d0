import { readFileSync } from 'node:fs';

/** CPU time and resident memory of a process, read from /proc (Linux); undefined when unreadable. */
export interface ProcUsage {
  cpuSeconds: number;
  rssBytes: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux architecture we run on). */
const USER_HZ = 100;
const PAGE_BYTES = 4096;

/** Reads `/proc/<pid>/stat`: utime + stime and rss (fields 14, 15 and 24, proc(5)). */
export function readProcUsage(pid: number): ProcUsage | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its closing parenthesis.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const rssPages = Number(rest[21]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(rssPages)) return undefined;
  return { cpuSeconds: (utime + stime) / USER_HZ, rssBytes: rssPages * PAGE_BYTES };
}
