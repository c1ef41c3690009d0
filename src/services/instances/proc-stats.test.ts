import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readProcUsage } from './proc-stats.js';

test('reads CPU time and RSS of this process, nothing for a process that does not exist', () => {
  const u = readProcUsage(process.pid);
  assert.ok(u);
  assert.ok(u.rssBytes > 1024 * 1024, `rss ${u.rssBytes}`);
  assert.ok(u.cpuSeconds >= 0);
  assert.equal(readProcUsage(2 ** 22 + 12345), undefined);
});
