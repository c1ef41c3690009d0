import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHostname, checkInstanceName, validateCreate, validateWorkloadCreate } from './instance-validation.js';

test('instance names are DNS labels: no dots, slashes or upper case', () => {
  for (const ok of ['a', 'vm1', 'web-01', 'x'.repeat(63)]) checkInstanceName(ok);
  for (const bad of ['', '-a', 'a-', '..', '../x', 'a/b', 'A', 'a.b', 'x'.repeat(64), 'a b', 'a\0b']) {
    assert.throws(() => checkInstanceName(bad), /invalid name/, JSON.stringify(bad));
  }
});

test('defaults, sizes in text or bytes, and per-engine bounds', () => {
  const v = validateCreate({ name: 'a', image: 'debian' });
  assert.equal(v.engine, 'builtin');
  assert.equal(v.memoryBytes, 512 * 1024 * 1024);
  assert.equal(v.diskSizeBytes, 4 * 1024 ** 3);
  assert.equal(validateCreate({ name: 'a', image: 'debian', memory: 268435456 }).memoryBytes, 256 * 1024 * 1024);
  assert.throws(() => validateCreate({ name: 'a', image: 'debian', memory: '4G' }), /invalid memory.*builtin/);
  assert.equal(validateCreate({ name: 'a', image: 'debian', memory: '4G', engine: 'qemu' }).memoryBytes, 4 * 1024 ** 3);
  assert.throws(() => validateCreate({ name: 'a', image: 'debian', cpus: 2 }), /invalid cpus/);
  assert.equal(validateCreate({ name: 'a', image: 'debian', cpus: 2, engine: 'qemu' }).cpus, 2);
  assert.throws(() => validateCreate({ name: 'a', image: 'debian', diskSize: '100' }), /invalid diskSize/);
  assert.throws(
    () => validateCreate({ name: 'a', image: 'debian', limits: { cpuQuotaPercent: -1 } }),
    /cpuQuotaPercent/,
  );
});

test('container settings: hostname, init command, pids limit; each refused for a type it does not apply to', () => {
  const v = validateWorkloadCreate(
    { name: 'c', image: 'debian', hostname: 'Box-1', command: ['/bin/sh', '-c', 'sleep 9'], pidsLimit: 64 },
    'container',
  );
  assert.equal(v.hostname, 'Box-1');
  assert.deepEqual(v.command, ['/bin/sh', '-c', 'sleep 9']);
  assert.equal(v.pidsLimit, 64);
  for (const bad of ['', '-a', 'a-', 'a_b', 'a.b', 'x'.repeat(64), 'a b']) {
    assert.throws(() => checkHostname(bad), new RegExp(`invalid hostname: '${bad}' is not a host name label`));
  }
  assert.throws(
    () => validateWorkloadCreate({ name: 'c', image: 'debian', hostname: 'not_a_label' }, 'container'),
    /invalid hostname: 'not_a_label'/,
  );
  assert.throws(() => validateWorkloadCreate({ name: 'c', image: 'debian', command: [] }, 'container'), /command/);
  assert.throws(() => validateWorkloadCreate({ name: 'c', image: 'debian', command: [''] }, 'container'), /command/);
  assert.throws(
    () => validateWorkloadCreate({ name: 'c', image: 'debian', pidsLimit: 0 }, 'container'),
    /invalid pidsLimit: '0' must be a whole number from 1/,
  );
  assert.throws(
    () => validateWorkloadCreate({ name: 's', image: 'm.wasm', module: 'AA==', hostname: 'h' }, 'sandbox'),
    /invalid hostname: only a container takes it, not a sandbox/,
  );
  assert.throws(
    () => validateWorkloadCreate({ name: 'c', image: 'debian', cpuTimeLimitMs: 100 }, 'container'),
    /invalid cpuTimeLimitMs: only a sandbox takes it, not a container/,
  );
  assert.throws(
    () => validateCreate({ name: 'v', image: 'debian', pidsLimit: 5 }),
    /invalid pidsLimit: only a container/,
  );
  assert.throws(
    () => validateCreate({ name: 'v', image: 'debian', command: ['x'] }),
    /invalid command: only a container/,
  );
});

test('sandbox settings: the CPU time limit is a whole number of ms', () => {
  const v = validateWorkloadCreate({ name: 's', image: 'm.wasm', module: 'AA==', cpuTimeLimitMs: 1500 }, 'sandbox');
  assert.equal(v.cpuTimeLimitMs, 1500);
  assert.throws(
    () => validateWorkloadCreate({ name: 's', image: 'm.wasm', module: 'AA==', cpuTimeLimitMs: 1.5 }, 'sandbox'),
    /invalid cpuTimeLimitMs: '1.5'/,
  );
});
