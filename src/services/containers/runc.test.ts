import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkContainerId, lastLogError, Runc, runcMessage } from './runc.js';

test('runcMessage takes msg="..." of the last log line', () => {
  const stderr =
    'time="2026-11-26T08:00:00Z" level=warning msg="ignored"\n' +
    'time="2026-11-26T08:00:00Z" level=error msg="container \\"x\\" does not exist"\n';
  assert.equal(runcMessage(stderr), 'container "x" does not exist');
  assert.equal(runcMessage('plain failure\n'), 'plain failure');
});

test('lastLogError reads the JSON log', () => {
  const log =
    '{"level":"info","msg":"starting"}\n{"level":"error","msg":"runc run failed: exec: \\"x\\": not found"}\n{"lev';
  assert.equal(lastLogError(log), 'runc run failed: exec: "x": not found');
  assert.equal(lastLogError('{"level":"info","msg":"ok"}\n'), undefined);
});

test('container ids', () => {
  checkContainerId('web-1.a_b');
  assert.throws(() => checkContainerId('Web'), /invalid container name/);
  assert.throws(() => checkContainerId('../x'), /invalid container name/);
  assert.throws(() => checkContainerId(''), /invalid container name/);
});

test('a missing runc is UNAVAILABLE naming the Debian package', async () => {
  const r = new Runc('/nonexistent/runc', '/tmp/none');
  await assert.rejects(r.version(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /Debian package 'runc'/);
    return true;
  });
});
