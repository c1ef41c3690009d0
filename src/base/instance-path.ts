import { StrataError } from './errors.js';

/** Most bytes one file push or pull carries (`PUT`/`GET /1.0/instances/{name}/files`). */
export const MAX_INSTANCE_FILE_BYTES = 16 * 1024 * 1024;

/** Most bytes of files a sandbox launch carries in its create request, all together (larger ones: push them). */
export const MAX_LAUNCH_FILES_BYTES = 640 * 1024;

/** Longest path a file push or pull takes. */
export const MAX_INSTANCE_PATH_CHARS = 4096;

/**
 * Checks a path inside an instance's own file tree (a sandbox's folder, a container's root file system) and returns
 * its components. The path is relative to that root: `etc/hosts`, `data/in.txt`. Refused, naming the path: an empty
 * path, a NUL byte, an absolute path (`/etc/passwd`: it would name the host's file), any `..` component, empty
 * components (`a//b`, a trailing `/`). `.` components are dropped. Links are the services' business: this checks
 * only the text.
 */
export function instancePathComponents(path: unknown): string[] {
  const bad = (why: string) => new StrataError('INVALID_ARGUMENT', `invalid path '${String(path)}': ${why}`);
  if (typeof path !== 'string' || path.length === 0) throw bad('give a path inside the instance');
  if (path.length > MAX_INSTANCE_PATH_CHARS) throw bad(`longer than ${MAX_INSTANCE_PATH_CHARS} characters`);
  if (path.includes('\0')) throw bad('it holds a NUL byte');
  if (path.startsWith('/')) throw bad("it is absolute: give it relative to the instance's root (etc/hosts)");
  const parts = path.split('/');
  if (parts.some((p) => p === '..')) throw bad("'..' could lead outside the instance");
  if (parts.some((p) => p === '')) throw bad('it has an empty component');
  const out = parts.filter((p) => p !== '.');
  if (out.length === 0) throw bad('it names the root folder, not a file');
  return out;
}

/** Refuses bytes pushed into an instance's file that are more than MAX_INSTANCE_FILE_BYTES. */
export function checkPushSize(bytes: number): void {
  if (bytes > MAX_INSTANCE_FILE_BYTES) {
    throw new StrataError('INVALID_ARGUMENT', `file too large: ${bytes} bytes, at most ${MAX_INSTANCE_FILE_BYTES}`);
  }
}

/**
 * Refuses a pull of `path` inside an instance whose opened file (`st`: its stat) is not a regular file, or has more
 * than MAX_INSTANCE_FILE_BYTES.
 */
export function checkPulledFile(path: string, st: { isFile(): boolean; size: number }): void {
  if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `invalid path '${path}': not a regular file`);
  if (st.size > MAX_INSTANCE_FILE_BYTES) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `file too large: '${path}' has ${st.size} bytes, at most ${MAX_INSTANCE_FILE_BYTES}`,
    );
  }
}
