import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleEscapeParser } from './console-escape.js';

const bytes = (s: string) => new TextEncoder().encode(s);

test('plain input passes through', () => {
  const p = new ConsoleEscapeParser();
  const r = p.feed(bytes('ls -l\r'));
  assert.deepEqual([...r.guest], [...bytes('ls -l\r')]);
  assert.deepEqual(r.commands, []);
});

test('Ctrl-A x quits, Ctrl-A h helps, Ctrl-A a sends Ctrl-A', () => {
  const p = new ConsoleEscapeParser();
  const r = p.feed(bytes('a\x01hb\x01ac\x01x'));
  assert.deepEqual([...r.guest], [...bytes('ab\x01c')]);
  assert.deepEqual(r.commands, ['help', 'quit']);
});

test('an escape split across chunks still works', () => {
  const p = new ConsoleEscapeParser();
  assert.deepEqual(p.feed(bytes('z\x01')).commands, []);
  const r = p.feed(bytes('X'));
  assert.deepEqual(r.commands, ['quit']);
  assert.equal(r.guest.length, 0);
});

test('an unbound escape key is reported, not sent', () => {
  const p = new ConsoleEscapeParser();
  const r = p.feed(bytes('\x01q'));
  assert.deepEqual(r.commands, ['unknown']);
  assert.equal(r.guest.length, 0);
});
