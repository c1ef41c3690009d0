import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from './token-bucket.js';

test('a bucket lets its burst through, then paces at its rate', () => {
  let now = 0;
  const b = new TokenBucket(100, 10, () => now);
  for (let i = 0; i < 10; i++) assert.equal(b.take(1), 0);
  assert.equal(b.take(1), 10, '1 token at 100/s takes 10 ms');
  now += 10;
  assert.equal(b.take(1), 0);
});

test('a request larger than the burst goes once the bucket is full and leaves a debt', () => {
  let now = 0;
  const b = new TokenBucket(1000, 100, () => now);
  assert.equal(b.take(500), 0);
  assert.ok(b.take(1) > 0);
  now += 401;
  assert.equal(b.take(1), 0);
});

test('rate 0 is unlimited', () => {
  const b = new TokenBucket(0);
  for (let i = 0; i < 1000; i++) assert.equal(b.take(1_000_000), 0);
});

test('acquire waits for tokens and honours abort', async () => {
  const b = new TokenBucket(1000, 1);
  const t0 = performance.now();
  await b.acquire(1);
  await b.acquire(1);
  await b.acquire(1);
  assert.ok(performance.now() - t0 >= 1);
  const slow = new TokenBucket(1, 1);
  await slow.acquire(1);
  const ac = new AbortController();
  const p = slow.acquire(1, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
});
