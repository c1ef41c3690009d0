// The zstd decoder against the Debian `zstd` command line tool: seeded inputs of several kinds and sizes at
// several levels must round-trip; mutated frames must decode or fail with a StrataError, never crash or hang.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { isStrataError } from '../../../base/errors.js';
import { seeded } from '../block-backend.suite.js';
import { zstdDecompress } from './zstd-decoder.js';

const haveZstd = spawnSync('zstd', ['--version']).status === 0;
const skip = haveZstd ? false : 'the zstd tool is not installed (apt-get install zstd)';

function compress(data: Uint8Array, args: string[]): Uint8Array {
  const r = spawnSync('zstd', ['-c', '-q', ...args], { input: data, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return new Uint8Array(r.stdout);
}

const WORDS = ['the ', 'qcow2 ', 'cluster ', 'refcount ', 'zstd ', 'block ', '\n', 'lorem ', 'ipsum ', '0123456789'];

function sample(kind: string, size: number, seed: number): Uint8Array {
  const rnd = seeded(seed);
  const b = new Uint8Array(size);
  switch (kind) {
    case 'text': {
      let at = 0;
      while (at < size) {
        const w = Buffer.from(WORDS[rnd() % WORDS.length]!);
        b.set(w.subarray(0, size - at), at);
        at += w.length;
      }
      return b;
    }
    case 'random':
      for (let i = 0; i < size; i++) b[i] = rnd() & 0xff;
      return b;
    case 'zeros':
      return b;
    case 'skewed':
      for (let i = 0; i < size; i++) b[i] = 'aaaabbbccd\u00ff'.charCodeAt(rnd() % 11) & 0xff;
      return b;
    default:
      // structured: runs, repeats at varying distances, some noise
      for (let i = 0; i < size; i++)
        b[i] = rnd() % 5 === 0 ? rnd() & 0xff : i > 300 ? b[i - 1 - (rnd() % 300)]! : i & 0xff;
      return b;
  }
}

describe('zstd decoder against the zstd tool', { skip }, () => {
  let cases = 0;
  for (const kind of ['text', 'random', 'zeros', 'skewed', 'structured']) {
    test(kind, () => {
      for (const size of [1, 17, 1000, 65536, 400_000]) {
        for (const level of ['-1', '-6', '-19', '--fast=3']) {
          if (size > 65536 && level === '-19') continue;
          const data = sample(kind, size, size + level.length);
          const frame = compress(data, level.split(' '));
          const out = zstdDecompress(frame, size);
          assert.ok(Buffer.from(out).equals(Buffer.from(data)), `${kind} ${size} bytes at ${level}`);
          cases++;
        }
      }
    });
  }
  test('multiple frames, a skippable frame, checksums off and padding after the data', () => {
    const a = sample('text', 5000, 1);
    const b = sample('structured', 7000, 2);
    const fa = compress(a, ['-3', '--no-check']);
    const fb = compress(b, ['-5']);
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const all = Buffer.concat([fa, skippable, fb, Buffer.alloc(300)]);
    const out = zstdDecompress(all, 12000);
    assert.ok(Buffer.from(out).equals(Buffer.concat([a, b])));
    assert.ok(cases >= 0);
  });
  test('an output limit smaller than the content is an error, not an overrun', () => {
    const frame = compress(sample('text', 10000, 3), ['-3']);
    assert.throws(
      () => zstdDecompress(frame, 4096),
      (e: unknown) => isStrataError(e),
    );
  });
  test('seeded mutations decode or fail with a StrataError', () => {
    const rnd = seeded(77);
    const frames = [
      compress(sample('text', 65536, 4), ['-3']),
      compress(sample('structured', 65536, 5), ['-19']),
      compress(sample('skewed', 20000, 6), ['-1']),
    ];
    let errors = 0;
    for (let i = 0; i < 800; i++) {
      const f = Buffer.from(frames[i % frames.length]!);
      const flips = 1 + (rnd() % 4);
      for (let k = 0; k < flips; k++) f[rnd() % f.length] = rnd() & 0xff;
      const cut = rnd() % 5 === 0 ? f.subarray(0, rnd() % f.length) : f;
      try {
        zstdDecompress(cut, 65536);
      } catch (e) {
        assert.ok(isStrataError(e), `mutation ${i}: ${e instanceof Error ? e.stack : String(e)}`);
        errors++;
      }
    }
    assert.ok(errors > 100);
  });
});
