/**
 * Hand-written WASI preview1 command modules for the sandbox tests, built with the test encoder. Memory layout
 * of every module: iovec at 0, result slots at 8 and 12, a path at 64, text at 256, a 4 KiB buffer at 1024.
 */

import { I32, I64, op, WasmBuilder } from '../../src/services/sandboxes/wasm-encoder.js';

const W = 'wasi_snapshot_preview1';
const IOV = 0;
const NWRITTEN = 8;
const OPENED_FD = 12;
const PATH = 64;
const TEXT = 256;
const BUF = 1024;
const BUF_LEN = 4096;

/** WASI errno values the tests check (wasi_snapshot_preview1 `errno`). */
export const WASI_ERRNO = { SUCCESS: 0, ACCES: 2, BADF: 8, ENOENT: 44, NOTDIR: 54, PERM: 63, NOTCAPABLE: 76 } as const;

interface Imports {
  fdWrite: number;
  fdRead: number;
  pathOpen: number;
  procExit: number;
  pathSymlink: number;
}

function base(memory: { min: number; max?: number; imported?: boolean } = { min: 1 }): { b: WasmBuilder; f: Imports } {
  const b = new WasmBuilder();
  const f: Imports = {
    fdWrite: b.importFunc(W, 'fd_write', [I32, I32, I32, I32], [I32]),
    fdRead: b.importFunc(W, 'fd_read', [I32, I32, I32, I32], [I32]),
    pathOpen: b.importFunc(W, 'path_open', [I32, I32, I32, I32, I32, I64, I64, I32, I32], [I32]),
    procExit: b.importFunc(W, 'proc_exit', [I32], []),
    pathSymlink: b.importFunc(W, 'path_symlink', [I32, I32, I32, I32, I32], [I32]),
  };
  if (memory.imported) b.importMemory('env', 'memory', memory.min, memory.max);
  else b.defineMemory(memory.min, memory.max);
  return { b, f };
}

/** Instructions: write `len` bytes at `ptr` to `fd` (result dropped). */
function write(f: Imports, fd: number, ptr: number[], len: number[]): number[] {
  return [
    ...op.i32Const(IOV),
    ...ptr,
    ...op.i32Store(0),
    ...op.i32Const(IOV),
    ...len,
    ...op.i32Store(4),
    ...op.i32Const(fd),
    ...op.i32Const(IOV),
    ...op.i32Const(1),
    ...op.i32Const(NWRITTEN),
    ...op.call(f.fdWrite),
    ...op.drop,
  ];
}

function text(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Prints `message` on stdout (and `err` on stderr when given), then exits with `code`. */
export function helloModule(message: string, code = 0, err?: string): Uint8Array {
  const { b, f } = base();
  b.data(TEXT, message);
  const errAt = TEXT + 1024;
  if (err) b.data(errAt, err);
  const body = [
    ...write(f, 1, op.i32Const(TEXT), op.i32Const(text(message))),
    ...(err ? write(f, 2, op.i32Const(errAt), op.i32Const(text(err))) : []),
    ...op.i32Const(code),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [], body));
  return b.build();
}

/**
 * Opens `path` relative to the preopen (fd 3) and prints its first 4 KiB; exits 0, or with the WASI errno of
 * path_open when it fails. `follow` sets the lookup flag that follows symbolic links.
 */
export function catModule(path: string, follow = true): Uint8Array {
  const { b, f } = base();
  b.data(PATH, path);
  const body = [
    // errno = path_open(3, follow, PATH, len, 0, FD_READ, 0, 0, OPENED_FD)
    ...op.i32Const(3),
    ...op.i32Const(follow ? 1 : 0),
    ...op.i32Const(PATH),
    ...op.i32Const(text(path)),
    ...op.i32Const(0),
    ...op.i64Const(2),
    ...op.i64Const(0),
    ...op.i32Const(0),
    ...op.i32Const(OPENED_FD),
    ...op.call(f.pathOpen),
    ...op.localTee(0),
    ...op.if,
    ...op.localGet(0),
    ...op.call(f.procExit),
    ...op.end,
    // fd_read(opened, iov{BUF, BUF_LEN}, 1, NWRITTEN)
    ...op.i32Const(IOV),
    ...op.i32Const(BUF),
    ...op.i32Store(0),
    ...op.i32Const(IOV),
    ...op.i32Const(BUF_LEN),
    ...op.i32Store(4),
    ...op.i32Const(OPENED_FD),
    ...op.i32Load(0),
    ...op.i32Const(IOV),
    ...op.i32Const(1),
    ...op.i32Const(NWRITTEN),
    ...op.call(f.fdRead),
    ...op.localTee(0),
    ...op.if,
    ...op.localGet(0),
    ...op.call(f.procExit),
    ...op.end,
    ...write(f, 1, op.i32Const(BUF), [...op.i32Const(NWRITTEN), ...op.i32Load(0)]),
    ...op.i32Const(0),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [I32], body));
  return b.build();
}

/** Creates a symbolic link `link` -> `target` in the preopen; exits with the errno of path_symlink. */
export function symlinkModule(target: string, link: string): Uint8Array {
  const { b, f } = base();
  b.data(PATH, target);
  b.data(TEXT, link);
  const body = [
    ...op.i32Const(PATH),
    ...op.i32Const(text(target)),
    ...op.i32Const(3),
    ...op.i32Const(TEXT),
    ...op.i32Const(text(link)),
    ...op.call(f.pathSymlink),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [], body));
  return b.build();
}

/** Loops forever without calling anything: only the CPU limit ends it. */
export function spinModule(): Uint8Array {
  const { b } = base();
  b.exportFunc('_start', b.func([], [], [], [...op.loop, ...op.br(0), ...op.end]));
  return b.build();
}

/**
 * Asks for `pages` more pages of memory. When memory.grow fails (-1) prints "grow refused" and exits 3; when it
 * succeeds prints "grew" and exits 0.
 */
export function growModule(
  pages: number,
  memory: { min: number; max?: number; imported?: boolean } = { min: 1 },
): Uint8Array {
  const { b, f } = base(memory);
  b.data(TEXT, 'grow refused\n');
  b.data(TEXT + 64, 'grew\n');
  const body = [
    ...op.i32Const(pages),
    ...op.memoryGrow,
    ...op.i32Const(-1),
    ...op.i32Eq,
    ...op.if,
    ...write(f, 1, op.i32Const(TEXT), op.i32Const(13)),
    ...op.i32Const(3),
    ...op.call(f.procExit),
    ...op.end,
    ...write(f, 1, op.i32Const(TEXT + 64), op.i32Const(5)),
    ...op.i32Const(0),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [], body));
  return b.build();
}

/** Copies stdin to stdout until end of input, then exits 0. */
export function echoModule(): Uint8Array {
  const { b, f } = base();
  const body = [
    ...op.block,
    ...op.loop,
    ...op.i32Const(IOV),
    ...op.i32Const(BUF),
    ...op.i32Store(0),
    ...op.i32Const(IOV),
    ...op.i32Const(BUF_LEN),
    ...op.i32Store(4),
    ...op.i32Const(0),
    ...op.i32Const(IOV),
    ...op.i32Const(1),
    ...op.i32Const(NWRITTEN),
    ...op.call(f.fdRead),
    ...op.drop,
    ...op.i32Const(NWRITTEN),
    ...op.i32Load(0),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...write(f, 1, op.i32Const(BUF), [...op.i32Const(NWRITTEN), ...op.i32Load(0)]),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.i32Const(0),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [], body));
  return b.build();
}

/** A module that traps (`unreachable`). */
export function trapModule(): Uint8Array {
  const { b } = base();
  b.exportFunc('_start', b.func([], [], [], [...op.unreachable]));
  return b.build();
}

/**
 * Prints its arguments and its environment as WASI hands them over: the argv buffer (each argument ends in a NUL
 * byte, argv[0] first), a `|`, then the environ buffer (`NAME=value` each ending in NUL); exits 0. A WASI call that
 * fails exits with its errno.
 */
export function argsEnvModule(): Uint8Array {
  const { b, f } = base();
  const argsSizes = b.importFunc(W, 'args_sizes_get', [I32, I32], [I32]);
  const argsGet = b.importFunc(W, 'args_get', [I32, I32], [I32]);
  const envSizes = b.importFunc(W, 'environ_sizes_get', [I32, I32], [I32]);
  const envGet = b.importFunc(W, 'environ_get', [I32, I32], [I32]);
  const COUNT = 16;
  const SIZE = 20;
  const PTRS = 2048;
  const DATA = 8192;
  b.data(TEXT, '|');
  /** errno = fn(a, b); exit with it unless 0. */
  const checked = (fn: number, a: number, c: number) => [
    ...op.i32Const(a),
    ...op.i32Const(c),
    ...op.call(fn),
    ...op.localTee(0),
    ...op.if,
    ...op.localGet(0),
    ...op.call(f.procExit),
    ...op.end,
  ];
  const body = [
    ...checked(argsSizes, COUNT, SIZE),
    ...checked(argsGet, PTRS, DATA),
    ...write(f, 1, op.i32Const(DATA), [...op.i32Const(SIZE), ...op.i32Load(0)]),
    ...write(f, 1, op.i32Const(TEXT), op.i32Const(1)),
    ...checked(envSizes, COUNT, SIZE),
    ...checked(envGet, PTRS, DATA),
    ...write(f, 1, op.i32Const(DATA), [...op.i32Const(SIZE), ...op.i32Load(0)]),
    ...op.i32Const(0),
    ...op.call(f.procExit),
  ];
  b.exportFunc('_start', b.func([], [], [I32], body));
  return b.build();
}
