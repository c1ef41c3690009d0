import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { archOfElfMachine, debianArchOf, detectCgroups, elfArchInRoot, resolveInRoot } from './host-checks.js';

function temp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'strata-hc-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('architecture names', () => {
  assert.equal(debianArchOf('x64'), 'amd64');
  assert.equal(debianArchOf('riscv64'), 'riscv64');
  assert.equal(archOfElfMachine(62), 'amd64');
  assert.equal(archOfElfMachine(243), 'riscv64');
  assert.equal(archOfElfMachine(9999), 'machine-9999');
});

test('cgroup detection: v2 controllers, v1 hierarchies, none', async (t) => {
  const d = temp(t);
  assert.equal((await detectCgroups(d)).kind, 'none');
  writeFileSync(join(d, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  assert.equal((await detectCgroups(d)).kind, 'cgroup-v2');
  writeFileSync(join(d, 'cgroup.controllers'), 'cpu io\n');
  assert.match((await detectCgroups(d)).why ?? '', /lacks the memory, pids controller/);
  rmSync(join(d, 'cgroup.controllers'));
  for (const c of ['memory', 'cpu', 'pids']) {
    mkdirSync(join(d, c));
    writeFileSync(join(d, c, 'tasks'), '');
  }
  assert.match((await detectCgroups(d)).why ?? '', /lacks the freezer hierarchy/);
  mkdirSync(join(d, 'freezer'));
  writeFileSync(join(d, 'freezer', 'tasks'), '');
  assert.equal((await detectCgroups(d)).kind, 'cgroup-v1');
});

test('resolveInRoot follows links inside the root and never above it', async (t) => {
  const root = temp(t);
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('/bin/busybox', join(root, 'usr', 'bin', 'sh'));
  symlinkSync('../../../../../etc', join(root, 'up'));
  assert.equal(await resolveInRoot(root, '/bin/sh'), join(root, 'usr', 'bin', 'busybox'));
  assert.equal(await resolveInRoot(root, '/up/passwd'), join(root, 'etc', 'passwd'));
  symlinkSync('loop', join(root, 'loop'));
  await assert.rejects(resolveInRoot(root, '/loop'), /too many symbolic links/);
});

test('elfArchInRoot reads e_machine; a script or nothing is undefined', async (t) => {
  const root = temp(t);
  mkdirSync(join(root, 'bin'));
  const elf = Buffer.alloc(64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeUInt16LE(183, 18);
  writeFileSync(join(root, 'bin', 'busybox'), elf);
  symlinkSync('busybox', join(root, 'bin', 'sh'));
  assert.equal(await elfArchInRoot(root, '/bin/sh'), 'arm64');
  writeFileSync(join(root, 'bin', 'script'), '#!/bin/sh\n');
  assert.equal(await elfArchInRoot(root, '/bin/script'), undefined);
  assert.equal(await elfArchInRoot(root, '/bin/none'), undefined);
});
