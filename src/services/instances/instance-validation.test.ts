import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkHostname,
  checkInstanceName,
  validateCreate,
  validateWorkloadCreate,
  validateWorkloadPatch,
} from './instance-validation.js';

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

test('sandbox args, env and files: sizes, NUL bytes, names, paths; refused for the wrong type', () => {
  const sb = { name: 's', image: 'm.wasm', type: 'sandbox', module: 'AGFzbQ==' };
  const v = validateWorkloadCreate(
    { ...sb, args: ['a b', ''], env: { A_1: 'x=y', _B: '' }, files: [{ path: 'd/f.txt', content: 'aGk=' }] },
    'sandbox',
  );
  assert.deepEqual(v.args, ['a b', '']);
  assert.deepEqual(v.env, { A_1: 'x=y', _B: '' });
  assert.equal(Buffer.from(v.files?.['d/f.txt'] ?? []).toString(), 'hi');
  assert.throws(
    () => validateWorkloadCreate({ ...sb, args: ['a\0b'] }, 'sandbox'),
    /^StrataError: invalid args: 'a\\0b'/,
  );
  assert.throws(
    () => validateWorkloadCreate({ ...sb, args: ['x'.repeat(70_000)] }, 'sandbox'),
    /invalid args: 70001 bytes/,
  );
  assert.throws(
    () => validateWorkloadCreate({ ...sb, env: { '1A': 'x' } }, 'sandbox'),
    /invalid env: '1A' is not a variable name/,
  );
  assert.throws(() => validateWorkloadCreate({ ...sb, env: { 'A=B': 'x' } }, 'sandbox'), /invalid env: 'A=B'/);
  assert.throws(() => validateWorkloadCreate({ ...sb, env: { A: 'x\0' } }, 'sandbox'), /invalid env: the value of A/);
  for (const path of ['../x', '/etc/passwd', 'a//b']) {
    assert.throws(
      () => validateWorkloadCreate({ ...sb, files: [{ path, content: '' }] }, 'sandbox'),
      /^StrataError: invalid files: invalid path '/,
      path,
    );
  }
  assert.throws(
    () =>
      validateWorkloadCreate(
        {
          ...sb,
          files: [
            { path: 'a', content: '' },
            { path: './a', content: '' },
          ],
        },
        'sandbox',
      ),
    /'a' is given twice/,
  );
  const ct = { name: 'c', image: 'busybox', type: 'container' };
  assert.throws(() => validateWorkloadCreate({ ...ct, args: ['x'] }, 'container'), /invalid args: only a sandbox/);
  assert.deepEqual(validateWorkloadCreate({ ...ct, env: { A: 'b' } }, 'container').env, { A: 'b' });
  assert.throws(() => validateCreate({ name: 'v', image: 'debian', env: { A: 'b' } }), /invalid env: only a container/);
});

test('limits changes: each type takes its own fields and refuses the others naming them', () => {
  assert.deepEqual(
    validateWorkloadPatch({ memory: '32M', limits: { cpuQuotaPercent: 0 }, pidsLimit: 9 }, 'container'),
    {
      memoryBytes: 32 * 1024 * 1024,
      cpuQuotaPercent: 0,
      pidsLimit: 9,
    },
  );
  assert.deepEqual(validateWorkloadPatch({ cpuTimeLimitMs: 5, memory: '8M' }, 'sandbox'), {
    cpuTimeLimitMs: 5,
    memoryBytes: 8 * 1024 * 1024,
  });
  assert.throws(
    () => validateWorkloadPatch({ limits: { cpuWeight: 5 } }, 'sandbox'),
    /^StrataError: invalid limits\.cpuWeight/,
  );
  assert.throws(() => validateWorkloadPatch({ pidsLimit: 5 }, 'sandbox'), /invalid pidsLimit/);
  assert.throws(() => validateWorkloadPatch({ cpuTimeLimitMs: 5 }, 'container'), /invalid cpuTimeLimitMs/);
  assert.throws(() => validateWorkloadPatch({ limits: { diskIops: 5 } }, 'container'), /invalid limits\.diskIops/);
  assert.throws(() => validateWorkloadPatch({ memory: '1M' }, 'container'), /below the minimum of 4M/);
  assert.throws(() => validateWorkloadPatch({}, 'container'), /nothing to change/);
});
