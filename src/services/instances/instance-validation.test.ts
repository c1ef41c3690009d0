import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInstanceName, validateCreate } from './instance-validation.js';

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
