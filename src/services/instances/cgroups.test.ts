import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CgroupControls, VMM_OVERHEAD_BYTES } from './cgroups.js';

const limits = { cpuWeight: 200, cpuQuotaPercent: 50, diskIops: 0, diskBytesPerSec: 0, nicBytesPerSec: 0 };

test('cgroup v2: weight, quota and memory cap are written and the pid joins the group', () => {
  const root = mkdtempSync(join(tmpdir(), 'cg2-'));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  const c = CgroupControls.detect(root);
  assert.equal(c.support.kind, 'cgroup-v2');
  const notes = c.apply('vm1', 4242, limits, 256 * 1024 * 1024);
  assert.deepEqual(notes, []);
  const dir = join(root, 'strata', 'vm1');
  assert.equal(readFileSync(join(dir, 'cpu.weight'), 'utf8'), '200');
  assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '50000 100000');
  assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8'), String(256 * 1024 * 1024 + VMM_OVERHEAD_BYTES));
  assert.equal(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '4242');
  writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 10\nthrottled_usec 2500000\n');
  assert.equal(c.throttledSeconds('vm1'), 2.5);
});

test('cgroup v1: shares scale from weight, quota in cfs units, no quota is -1', () => {
  const root = mkdtempSync(join(tmpdir(), 'cg1-'));
  mkdirSync(join(root, 'cpu'));
  writeFileSync(join(root, 'cpu', 'cpu.shares'), '1024');
  mkdirSync(join(root, 'memory'));
  const c = CgroupControls.detect(root);
  assert.equal(c.support.kind, 'cgroup-v1');
  c.apply('vm1', 7, { ...limits, cpuQuotaPercent: 0 }, 64 * 1024 * 1024);
  assert.equal(readFileSync(join(root, 'cpu', 'strata', 'vm1', 'cpu.shares'), 'utf8'), '2048');
  assert.equal(readFileSync(join(root, 'cpu', 'strata', 'vm1', 'cpu.cfs_quota_us'), 'utf8'), '-1');
  assert.equal(
    readFileSync(join(root, 'memory', 'strata', 'vm1', 'memory.limit_in_bytes'), 'utf8'),
    String(64 * 1024 * 1024 + VMM_OVERHEAD_BYTES),
  );
});

test('a scope keeps the groups of daemons with different homes apart', () => {
  const root = mkdtempSync(join(tmpdir(), 'cg2s-'));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory\n');
  const a = CgroupControls.detect(root, 'homeA');
  const b = CgroupControls.detect(root, 'homeB');
  a.apply('vm1', 11, limits, 64 * 1024 * 1024);
  b.apply('vm1', 22, { ...limits, cpuQuotaPercent: 0 }, 64 * 1024 * 1024);
  assert.equal(readFileSync(join(root, 'strata', 'homeA', 'vm1', 'cgroup.procs'), 'utf8'), '11');
  assert.equal(readFileSync(join(root, 'strata', 'homeB', 'vm1', 'cgroup.procs'), 'utf8'), '22');
  assert.equal(readFileSync(join(root, 'strata', 'homeA', 'vm1', 'cpu.max'), 'utf8'), '50000 100000');
  assert.equal(readFileSync(join(root, 'strata', 'homeB', 'vm1', 'cpu.max'), 'utf8'), 'max 100000');
  assert.equal(readFileSync(join(root, 'strata', 'homeA', 'cgroup.subtree_control'), 'utf8'), '+cpu +memory');
  assert.throws(() => CgroupControls.detect(root, '../x'), /invalid cgroup scope '\.\.\/x'/);
});

test('without cgroups the controls say clearly that CPU limits are not enforced', () => {
  const c = CgroupControls.detect(mkdtempSync(join(tmpdir(), 'cg0-')));
  assert.equal(c.support.kind, 'none');
  assert.match(c.support.summary, /NOT enforced/);
  assert.match(c.apply('vm1', 1, limits, 1)[0] ?? '', /NOT enforced/);
});

test('a daemon scope on the host cgroups is removed when the daemon closes, unless an instance group is left', async (t) => {
  const root = '/sys/fs/cgroup';
  const probe = CgroupControls.detect(root);
  if (probe.support.kind === 'none' || process.getuid?.() !== 0) {
    t.skip(`no writable host cgroups: ${probe.support.summary}`);
    return;
  }
  const scopeDir = (scope: string) =>
    probe.support.kind === 'cgroup-v2' ? join(root, 'strata', scope) : join(root, 'cpu', 'strata', scope);
  const scope = `test-close-${process.pid}`;
  const c = CgroupControls.detect(root, scope);
  // A process standing in for a VMM that keeps running after its daemon stops.
  const vmm = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((r) => vmm.once('exit', r));
  t.after(() => vmm.kill('SIGKILL'));
  assert.deepEqual(c.apply('vmclose', vmm.pid as number, limits, 64 * 1024 * 1024), []);
  c.close();
  assert.ok(existsSync(scopeDir(scope)), 'the scope stays while an instance group is in it');
  vmm.kill('SIGKILL');
  await exited;
  c.remove('vmclose');
  c.close();
  assert.equal(existsSync(scopeDir(scope)), false, 'the empty scope is gone');
  assert.ok(existsSync(scopeDir('')), 'the shared parent stays');
});
