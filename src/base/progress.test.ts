import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressBar } from './progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, write: (s: string) => chunks.push(s), isTTY, columns: 200 };
}

test('on a terminal the bar redraws one line with exact byte counts', () => {
  let now = 0;
  const out = sink(true);
  const bar = new ProgressBar(out, () => now, 100);
  bar.phase('downloading kernel', 2048);
  now = 1000;
  bar.update(1024);
  const last = out.chunks.at(-1) ?? '';
  assert.match(last, /^\r\x1b\[K/);
  assert.match(last, /downloading kernel \[#{12}\.{12}\] {2}50% 1\.0 KiB \/ 2\.0 KiB 1\.0 KiB\/s/);
  bar.update(2048);
  bar.done();
  assert.match(out.chunks.at(-1) ?? '', /100% 2\.0 KiB \/ 2\.0 KiB.*\n$/);
});

test('done() shows the bytes really reached: a phase cut short never claims 100%', () => {
  let now = 0;
  const out = sink(false);
  const bar = new ProgressBar(out, () => now);
  bar.phase('hashing', 4096);
  bar.update(1024);
  now = 1000;
  bar.done();
  assert.match(out.chunks.at(-1) ?? '', /^hashing {2}25% 1\.0 KiB \/ 4\.0 KiB 1\.0 KiB\/s\n$/);
  assert.doesNotMatch(out.chunks.join(''), /100%/);
});

test('fail() leaves the real figure and the reason, once', () => {
  let now = 0;
  const out = sink(true);
  const bar = new ProgressBar(out, () => now, 100);
  bar.phase('downloading 4 packages', 10 * 1024);
  now = 2000;
  bar.update(3 * 1024);
  bar.fail('cancelled');
  assert.match(
    out.chunks.at(-1) ?? '',
    /^\r\x1b\[Kdownloading 4 packages {2}30% 3\.0 KiB \/ 10\.0 KiB 1\.5 KiB\/s \(cancelled\)\n$/,
  );
  const n = out.chunks.length;
  bar.fail();
  bar.done();
  assert.equal(out.chunks.length, n, 'nothing more once the phase has ended');
});

test('off a terminal it prints one line per phase and no control codes', () => {
  let now = 0;
  const out = sink(false);
  const bar = new ProgressBar(out, () => now);
  bar.phase('building initramfs', 100);
  bar.update(50);
  now = 2000;
  bar.done('built initramfs');
  bar.note('hello');
  assert.deepEqual(out.chunks, ['built initramfs\n', 'hello\n']);
});

test('redraws are throttled', () => {
  let now = 0;
  const out = sink(true);
  const bar = new ProgressBar(out, () => now, 100);
  bar.phase('x', 1000);
  const before = out.chunks.length;
  for (let i = 0; i < 50; i++) bar.update(i);
  assert.equal(out.chunks.length, before);
  now = 150;
  bar.update(60);
  assert.equal(out.chunks.length, before + 1);
});
