// WASI sandboxes end to end: hand-written WebAssembly modules (encoded in the test) run in worker threads by
// node:wasi. The console (stdout, stderr, stdin), a preopened file, the exit code in info, the CPU limit on a
// runaway loop (CPU time, not wall time), the memory cap (a grow beyond it fails inside the module; a module
// that needs more at start is refused), every escape we know of (.., absolute paths, planted symbolic and hard
// links, links created at run time), bad modules refused at launch with nothing left, and no descriptor leaks.
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SandboxManager } from '../../src/services/sandboxes/wasi-sandbox.js';
import { I32, op, WasmBuilder } from '../../src/services/sandboxes/wasm-encoder.js';
import {
  catModule,
  echoModule,
  growModule,
  helloModule,
  spinModule,
  symlinkModule,
  trapModule,
  WASI_ERRNO,
} from '../helpers/wasi-modules.js';

const home = mkdtempSync(join(tmpdir(), 'strata-wasi-'));
const mgr = new SandboxManager({ home });
const SECRET = 'TOP-SECRET-HOST-CONTENT';
writeFileSync(join(home, 'secret.txt'), SECRET);
after(() => rmSync(home, { recursive: true, force: true }));

let seq = 0;
function uniq(prefix: string): string {
  return `${prefix}-${++seq}`;
}

/** Launches, collects the whole console, waits for the end. */
async function runToEnd(spec: Parameters<SandboxManager['launch']>[0], input?: string) {
  await mgr.launch(spec);
  let out = '';
  const sub = mgr.subscribeConsole(spec.name, (b) => {
    out += Buffer.from(b).toString('utf8');
  });
  out = Buffer.from(sub.history).toString('utf8') + out;
  if (input !== undefined) {
    mgr.sendConsole(spec.name, input);
    mgr.closeConsoleInput(spec.name);
  }
  const exit = await mgr.wait(spec.name);
  return { out, exit, info: await mgr.info(spec.name) };
}

function sandboxNames(): string[] {
  return readdirSync(join(home, 'sandboxes')).filter((n) => !n.startsWith('.'));
}

test('a module prints to the console (stdout and stderr) and its exit code is in info', async () => {
  const name = uniq('hello');
  const { out, exit, info } = await runToEnd({ name, module: helloModule('hello from wasi\n', 7, 'to stderr\n') });
  assert.equal(out, 'hello from wasi\nto stderr\n');
  assert.equal(exit.reason, 'exit');
  assert.equal(exit.code, 7);
  assert.equal(info.status, 'stopped');
  assert.equal(info.exitCode, 7);
  // start runs it again in the same folder.
  await mgr.start(name);
  assert.equal((await mgr.wait(name)).code, 7);
  await mgr.delete(name);
  assert.ok(!existsSync(join(home, 'sandboxes', name)));
});

test('stdin comes from the console', async () => {
  const { out, exit } = await runToEnd({ name: uniq('echo'), module: echoModule() }, 'line one\nline two\n');
  assert.equal(out, 'line one\nline two\n');
  assert.equal(exit.code, 0);
});

test('a module reads a preopened file of its folder', async () => {
  const { out, exit } = await runToEnd({
    name: uniq('cat'),
    module: catModule('data/greeting.txt'),
    files: { 'data/greeting.txt': 'preopened content\n' },
  });
  assert.equal(exit.code, 0);
  assert.equal(out, 'preopened content\n');
});

test('escapes: .., absolute paths and host paths never reach a file outside the folder', async () => {
  const attempts = [
    '../secret.txt',
    '../../secret.txt',
    '../../../secret.txt',
    'sub/../../../../secret.txt',
    './../secret.txt',
    '/etc/passwd',
    join(home, 'secret.txt'),
    '/proc/self/environ',
    '..',
  ];
  for (const path of attempts) {
    const { out, exit } = await runToEnd({ name: uniq('esc'), module: catModule(path), files: { 'sub/x': 'x' } });
    assert.doesNotMatch(out, new RegExp(SECRET), `${path} leaked the secret`);
    assert.doesNotMatch(out, /root:x:0:0/, `${path} leaked /etc/passwd`);
    assert.equal(exit.reason, 'exit');
    assert.notEqual(exit.code, 0, `${path} opened something`);
    // `..` above the folder stays at the folder (ENOENT for a name not there); absolute paths are ENOTCAPABLE.
    const allowed: number[] = [WASI_ERRNO.ENOENT, WASI_ERRNO.NOTCAPABLE];
    assert.ok(allowed.includes(exit.code as number), `${path}: errno ${exit.code}`);
  }
});

test('escapes through links: planted links are refused at start, new ones cannot be made', async () => {
  // A module cannot create a symbolic link (to the host, or a relative one climbing out).
  for (const target of ['/etc/passwd', join(home, 'secret.txt'), '../../..', '.']) {
    const name = uniq('mklink');
    const { exit } = await runToEnd({ name, module: symlinkModule(target, 'link') });
    assert.equal(exit.code, WASI_ERRNO.PERM, `symlink to ${target}`);
    assert.ok(!existsSync(join(home, 'sandboxes', name, 'files', 'link')));
  }

  // A symbolic link planted in the folder (by anyone on the host) stops the next start.
  const name = uniq('planted');
  const { exit } = await runToEnd({ name, module: catModule('link'), files: { 'ok.txt': 'fine' } });
  assert.equal(exit.code, WASI_ERRNO.ENOENT);
  const files = join(home, 'sandboxes', name, 'files');
  symlinkSync(join(home, 'secret.txt'), join(files, 'link'));
  await assert.rejects(mgr.start(name), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, /symbolic link/);
    return true;
  });
  assert.equal((await mgr.info(name)).status, 'stopped');
  rmSync(join(files, 'link'));
  // A relative link pointing out, deeper in the tree.
  symlinkSync('../../../secret.txt', join(files, 'rel'));
  await assert.rejects(mgr.start(name), /symbolic link/);
  rmSync(join(files, 'rel'));
  // A hard link to a host file (same file system) is refused as well.
  linkSync(join(home, 'secret.txt'), join(files, 'hard'));
  await assert.rejects(mgr.start(name), /hard links/);
  rmSync(join(files, 'hard'));
  await mgr.start(name);
  assert.equal((await mgr.wait(name)).code, WASI_ERRNO.ENOENT);
});

test('the CPU limit ends a runaway loop; it counts CPU time, not time spent waiting', async () => {
  const t0 = performance.now();
  const { exit, info } = await runToEnd({ name: uniq('spin'), module: spinModule(), limits: { cpuTimeMs: 300 } });
  const wall = performance.now() - t0;
  assert.equal(exit.reason, 'cpu-limit');
  assert.equal(exit.code, null);
  assert.match(exit.message ?? '', /thread CPU time/);
  assert.ok(exit.cpuMs >= 300, `cpu ${exit.cpuMs} ms`);
  assert.ok(wall < 5000, `took ${wall} ms`);
  assert.equal(info.lastExit?.reason, 'cpu-limit');

  // A module blocked on stdin for longer than its CPU budget is not ended.
  const name = uniq('idle');
  await mgr.launch({ name, module: echoModule(), limits: { cpuTimeMs: 200 } });
  await new Promise((r) => setTimeout(r, 800));
  const during = await mgr.info(name);
  assert.equal(during.status, 'running');
  assert.equal(during.cpuLimitBasis, 'thread-cpu-time');
  mgr.sendConsole(name, 'late\n');
  mgr.closeConsoleInput(name);
  const done = await mgr.wait(name);
  assert.equal(done.reason, 'exit');
  assert.equal(done.code, 0);
});

test('memory: a grow beyond the cap fails cleanly inside the module; more at start is refused', async () => {
  const cap = 1024 * 1024; // 16 pages
  const refused = await runToEnd({ name: uniq('grow'), module: growModule(100), limits: { memoryBytes: cap } });
  assert.equal(refused.out, 'grow refused\n');
  assert.equal(refused.exit.code, 3);
  // A module declaring a larger maximum than the cap is held to the cap too.
  const declared = await runToEnd({
    name: uniq('grow-max'),
    module: growModule(20, { min: 1, max: 1000 }),
    limits: { memoryBytes: cap },
  });
  assert.equal(declared.out, 'grow refused\n');
  // An imported memory is created with the cap as its maximum.
  const imported = await runToEnd({
    name: uniq('grow-imp'),
    module: growModule(100, { min: 1, imported: true }),
    limits: { memoryBytes: cap },
  });
  assert.equal(imported.out, 'grow refused\n');
  const within = await runToEnd({ name: uniq('grow-ok'), module: growModule(10), limits: { memoryBytes: cap } });
  assert.equal(within.out, 'grew\n');
  assert.equal(within.exit.code, 0);

  const before = sandboxNames();
  await assert.rejects(
    mgr.launch({ name: uniq('big'), module: growModule(0, { min: 100 }), limits: { memoryBytes: cap } }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /needs 6400 KiB of memory at start, more than the sandbox's cap of 1024 KiB/);
      return true;
    },
  );
  assert.deepEqual(sandboxNames(), before, 'nothing left behind');
});

test('bad modules fail at launch with one line and leave nothing behind', async () => {
  const before = sandboxNames();
  const bad = async (module: Uint8Array, pattern: RegExp) => {
    await assert.rejects(mgr.launch({ name: uniq('bad'), module }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, pattern);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  };
  await bad(new TextEncoder().encode('#!/bin/sh\necho not wasm\n'), /not a valid WebAssembly module/);
  const truncated = helloModule('x');
  await bad(truncated.subarray(0, truncated.length - 5), /not a valid WebAssembly module/);
  // Valid WebAssembly, but not a WASI command.
  const noStart = new WasmBuilder();
  noStart.defineMemory(1);
  noStart.exportFunc('main', noStart.func([], [], [], []));
  await bad(noStart.build(), /exports no _start/);
  const foreign = new WasmBuilder();
  foreign.importFunc('env', 'system', [I32], [I32]);
  foreign.defineMemory(1);
  foreign.exportFunc('_start', foreign.func([], [], [], [...op.i32Const(0), ...op.call(0), ...op.drop]));
  await bad(foreign.build(), /imports function env\.system/);
  // A table is host memory outside the linear memory: one above the sandbox's table limit is refused.
  const bigTable = new WasmBuilder();
  bigTable.defineTable(1_000_000);
  bigTable.defineMemory(1);
  bigTable.exportFunc('_start', bigTable.func([], [], [], []));
  await bad(bigTable.build(), /table of 1000000 entries/);
  await assert.rejects(mgr.launch({ name: uniq('nofile'), modulePath: join(home, 'missing.wasm') }), {
    code: 'NOT_FOUND',
  });
  await assert.rejects(mgr.launch({ name: 'Bad Name', module: helloModule('x') }), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(sandboxNames(), before);
});

test('a trap ends the run with reason trap; stop ends a running module; pause is refused', async () => {
  const { exit } = await runToEnd({ name: uniq('trap'), module: trapModule() });
  assert.equal(exit.reason, 'trap');
  assert.match(exit.message ?? '', /unreachable/);

  const name = uniq('stop');
  await mgr.launch({ name, module: echoModule() });
  await assert.rejects(mgr.pause(name), { code: 'CONFLICT' });
  const info = await mgr.stop(name);
  assert.equal(info.status, 'stopped');
  assert.equal(info.lastExit?.reason, 'stopped');
});

test('no host descriptor outlives a sandbox (node:wasi keeps them; the manager closes them)', async () => {
  const count = () => readdirSync('/proc/self/fd').length;
  // Warm up (worker machinery opens its own descriptors once).
  await runToEnd({ name: uniq('warm'), module: catModule('f'), files: { f: 'x' } });
  const before = count();
  for (let i = 0; i < 8; i++) {
    await runToEnd({ name: uniq('fd'), module: catModule('f'), files: { f: 'x' } });
    await runToEnd({ name: uniq('fdspin'), module: spinModule(), limits: { cpuTimeMs: 50 } });
  }
  assert.ok(count() <= before + 2, `descriptors ${before} -> ${count()}`);
});
