import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from './errors.js';
import { formatBytes, parseSizeBytes } from './units.js';

test('parseSizeBytes reads binary suffixes as QEMU does', () => {
  assert.equal(parseSizeBytes('512M'), 512 * 1024 * 1024);
  assert.equal(parseSizeBytes('4G'), 4 * 1024 ** 3);
  assert.equal(parseSizeBytes('1.5KiB'), 1536);
  assert.equal(parseSizeBytes('65536'), 65536);
  assert.equal(parseSizeBytes(' 2 gb '), 2 * 1024 ** 3);
});

test('parseSizeBytes names the bad value', () => {
  for (const bad of ['', 'lots', '12Q', '-5M', '0', '0.3']) {
    assert.throws(
      () => parseSizeBytes(bad, 'memory'),
      (err: unknown) =>
        err instanceof StrataError && err.code === 'INVALID_ARGUMENT' && err.message.includes(`'${bad}'`),
      bad,
    );
  }
});

test('formatBytes picks a readable unit', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(31 * 1024 * 1024 + 300 * 1024), '31.3 MiB');
  assert.equal(formatBytes(200 * 1024 ** 3), '200 GiB');
});
