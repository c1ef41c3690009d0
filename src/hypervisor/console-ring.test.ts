import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleRing } from './console-ring.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('the ring keeps everything until it is full', () => {
  const r = new ConsoleRing(8);
  r.append(bytes('abc'));
  r.append(bytes('def'));
  assert.equal(text(r.snapshot()), 'abcdef');
});

test('the ring drops the oldest bytes and keeps the last capacity bytes across wrap-around', () => {
  const r = new ConsoleRing(8);
  let all = '';
  for (let i = 0; i < 50; i++) {
    const chunk = String.fromCharCode(97 + (i % 26)).repeat(1 + (i % 5));
    all += chunk;
    r.append(bytes(chunk));
    assert.equal(text(r.snapshot()), all.slice(-8));
  }
  assert.equal(r.totalBytes, all.length);
});

test('a chunk larger than the ring leaves its last bytes', () => {
  const r = new ConsoleRing(4);
  r.append(bytes('xy'));
  r.append(bytes('0123456789'));
  assert.equal(text(r.snapshot()), '6789');
});
