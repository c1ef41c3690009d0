/**
 * The worker-thread entry of a WASI sandbox: instantiates one compiled module with Node's `node:wasi`
 * (WASI preview1) and runs its `_start`. It first reports its kernel thread id (from `/proc/thread-self`), so the
 * parent can read this thread's CPU time and end it when the budget is spent.
 *
 * Console: the module's stdout and stderr (fd 1, 2) never reach a host descriptor; `fd_write` on them is answered
 * here and the bytes are posted to the parent. Its stdin (fd 0) is read from a ring in shared memory that the
 * parent fills, blocking this thread (`Atomics.wait`) until input or end of input arrives. node:wasi itself gets
 * /dev/null for 0, 1 and 2.
 *
 * Escapes: node:wasi's own documentation says it is not a secure sandbox. Besides the checks in the parent (no
 * symbolic links and no extra hard links in the folder before start), this worker refuses `path_symlink` and
 * `path_link` (WASI errno EPERM), so a module cannot create a link that a later path lookup would follow out of
 * its folder. Each open file is a descriptor of the daemon's process, so `path_open` is refused (ENFILE) beyond
 * MAX_OPEN at once.
 */

import { openSync, readlinkSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { parentPort, workerData } from 'node:worker_threads';
import type { SandboxWorkerData, WorkerToParent } from './wasi-protocol.js';
import { StdinRing } from './wasi-protocol.js';

/** WASI preview1 errno values used here (wasi_snapshot_preview1 `errno` enum). */
const ERRNO_SUCCESS = 0;
const ERRNO_FAULT = 21;
const ERRNO_PERM = 63;
const ERRNO_NFILE = 41;

/** Most files and folders a module may hold open at once (each is a host descriptor of the daemon's process). */
const MAX_OPEN = 64;
let openFiles = 0;

const data = workerData as SandboxWorkerData;
const port = parentPort;
if (!port) throw new Error('wasi-worker must run in a worker thread');

function post(msg: WorkerToParent): void {
  port?.postMessage(msg);
}

function threadId(): number {
  try {
    const link = readlinkSync('/proc/thread-self');
    const tid = Number(/task\/(\d+)$/.exec(link)?.[1]);
    return Number.isSafeInteger(tid) ? tid : 0;
  } catch {
    return 0;
  }
}

post({ t: 'tid', tid: threadId() });

const devNull = openSync('/dev/null', 'r+');
post({ t: 'fd', fd: devNull });

const wasi = new WASI({
  version: 'preview1',
  args: data.args,
  env: data.env,
  preopens: { '/': data.dir },
  stdin: devNull,
  stdout: devNull,
  stderr: devNull,
  returnOnExit: true,
});

let memory: WebAssembly.Memory | undefined;
const stdin = new StdinRing(data.stdin, false);
const base = wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, (...a: never[]) => unknown> };
const orig = base.wasi_snapshot_preview1;

/** Reads the iovec array (`ciovec`: u32 buf, u32 len) at `ptr`; undefined when it lies outside memory. */
function iovecs(ptr: number, count: number): Array<[number, number]> | undefined {
  if (!memory) return undefined;
  const view = new DataView(memory.buffer);
  if (ptr < 0 || count < 0 || ptr + count * 8 > view.byteLength) return undefined;
  const out: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const buf = view.getUint32(ptr + i * 8, true);
    const len = view.getUint32(ptr + i * 8 + 4, true);
    if (buf + len > view.byteLength) return undefined;
    out.push([buf, len]);
  }
  return out;
}

const overrides: Record<string, (...a: number[]) => number> = {
  fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
    if (fd !== 1 && fd !== 2)
      return (orig.fd_write as unknown as (...a: number[]) => number)(fd, iovs, iovsLen, nwritten);
    const list = iovecs(iovs, iovsLen);
    if (!list || !memory || nwritten + 4 > memory.buffer.byteLength) return ERRNO_FAULT;
    let total = 0;
    for (const [, len] of list) total += len;
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const [buf, len] of list) {
      bytes.set(new Uint8Array(memory.buffer, buf, len), at);
      at += len;
    }
    if (total > 0) post({ t: 'out', fd, data: bytes });
    new DataView(memory.buffer).setUint32(nwritten, total, true);
    return ERRNO_SUCCESS;
  },
  fd_read(fd: number, iovs: number, iovsLen: number, nread: number): number {
    if (fd !== 0) return (orig.fd_read as unknown as (...a: number[]) => number)(fd, iovs, iovsLen, nread);
    const list = iovecs(iovs, iovsLen);
    if (!list || !memory || nread + 4 > memory.buffer.byteLength) return ERRNO_FAULT;
    let total = 0;
    for (const [buf, len] of list) {
      if (len === 0) continue;
      // Block only for the first bytes; later buffers take what is already there.
      const got = stdin.read(new Uint8Array(memory.buffer, buf, len), total === 0);
      total += got;
      if (got < len) break;
    }
    new DataView(memory.buffer).setUint32(nread, total, true);
    return ERRNO_SUCCESS;
  },
  path_open(...a: number[]): number {
    if (openFiles >= MAX_OPEN) return ERRNO_NFILE;
    const r = (orig.path_open as unknown as (...x: number[]) => number)(...a);
    if (r === ERRNO_SUCCESS) openFiles++;
    return r;
  },
  fd_close(fd: number): number {
    const r = (orig.fd_close as unknown as (...x: number[]) => number)(fd);
    if (r === ERRNO_SUCCESS && fd > 3 && openFiles > 0) openFiles--;
    return r;
  },
  path_symlink(): number {
    return ERRNO_PERM;
  },
  path_link(): number {
    return ERRNO_PERM;
  },
};

const pages = data.memoryPages ? new Int32Array(data.memoryPages) : undefined;
/** Keeps the parent's view of the linear memory size current (see SandboxWorkerData.memoryPages). */
function notePages(): void {
  if (pages && memory) Atomics.store(pages, 0, memory.buffer.byteLength / 65536);
}
const wasiFns: Record<string, (...a: never[]) => unknown> = {};
for (const [k, f] of Object.entries({ ...orig, ...overrides } as Record<string, (...a: never[]) => unknown>)) {
  wasiFns[k] = (...a: never[]) => {
    notePages();
    return f(...a);
  };
}
const imports: WebAssembly.Imports = {
  wasi_snapshot_preview1: wasiFns as WebAssembly.ModuleImports,
};
if (data.memoryImport) {
  const m = data.memoryImport;
  memory = new WebAssembly.Memory({ initial: m.initial, maximum: m.maximum });
  imports[m.module] = { ...(imports[m.module] ?? {}), [m.name]: memory };
}

try {
  const instance = new WebAssembly.Instance(data.module, imports);
  const exported = instance.exports.memory;
  if (exported instanceof WebAssembly.Memory) memory = exported;
  notePages();
  // node:wasi wants `exports.memory`; a module that imports its memory gets the one created above.
  const code = wasi.start({ exports: { _start: instance.exports._start, memory } } as unknown as WebAssembly.Instance);
  post({ t: 'exit', code: typeof code === 'number' ? code : 0 });
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  post({ t: 'trap', message, kind: err instanceof WebAssembly.RuntimeError ? 'trap' : 'error' });
}
