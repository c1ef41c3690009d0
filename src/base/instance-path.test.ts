import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instancePathComponents } from './instance-path.js';

test('instance paths: relative components only', () => {
  assert.deepEqual(instancePathComponents('etc/hosts'), ['etc', 'hosts']);
  assert.deepEqual(instancePathComponents('./a/./b.txt'), ['a', 'b.txt']);
  for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a/', '.', 'a\0b', 'x'.repeat(5000)]) {
    assert.throws(() => instancePathComponents(bad), /^StrataError: invalid path '/, JSON.stringify(bad));
  }
  assert.throws(() => instancePathComponents('/etc/passwd'), /is absolute/);
  assert.throws(() => instancePathComponents('../x'), /'\.\.' could lead outside/);
});
