// The conformance suite every BlockBackend implementation runs (src/machine/ports/block-backend.ts): each
// implementation's test calls `blockBackendSuite` with a factory. Random workloads are seeded; a failure prints
// the seed so it replays.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStrataError } from '../../base/errors.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';

/** What a factory hands the suite. */
export interface SuiteSubject {
  /** A fresh, writable backend. */
  backend: BlockBackend & { close(): Promise<void> };
  /** The bytes it holds before any write (the backing data of an overlay, or zeros). */
  initial: Uint8Array;
  /** Opens the same disk again after `backend.close()` (read-only when asked). */
  reopen: (readOnly: boolean) => Promise<BlockBackend & { close(): Promise<void> }>;
  /** Optional consistency check of the closed disk (a qcow2 image runs its refcount check here). */
  verifyClosed?: () => Promise<void>;
  /** Removes whatever the subject created. */
  cleanup: () => Promise<void>;
}

/** A small deterministic generator (xorshift32). */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

async function rejectsWith(p: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p(), (err: unknown) => isStrataError(err) && err.code === code);
}

/** Registers the conformance tests for one implementation. */
export function blockBackendSuite(name: string, make: () => Promise<SuiteSubject>): void {
  describe(`BlockBackend conformance: ${name}`, () => {
    test('identity: capacity a multiple of 512, serial at most 20 bytes, writable', async () => {
      const s = await make();
      try {
        assert.equal(s.backend.sizeBytes % 512, 0);
        assert.equal(s.backend.sizeBytes, s.initial.length);
        assert.ok(Buffer.byteLength(s.backend.serial) <= 20);
        assert.equal(s.backend.readOnly, false);
        await s.backend.close();
      } finally {
        await s.cleanup();
      }
    });

    test('reads the initial content', async () => {
      const s = await make();
      try {
        const all = new Uint8Array(s.backend.sizeBytes);
        await s.backend.read(0, all);
        assert.ok(Buffer.from(all).equals(Buffer.from(s.initial)));
        await s.backend.close();
      } finally {
        await s.cleanup();
      }
    });

    for (const seed of [1, 2, 3]) {
      test(`random writes, discards and write-zeroes match a model (seed ${seed})`, async () => {
        const s = await make();
        try {
          const b = s.backend;
          const model = s.initial.slice();
          const rnd = seeded(seed);
          const sectors = b.sizeBytes / 512;
          for (let i = 0; i < 400; i++) {
            const len = (1 + (rnd() % Math.min(300, sectors))) * 512;
            const off = (rnd() % (sectors - len / 512 + 1)) * 512;
            const op = rnd() % 10;
            if (op < 6) {
              const data = new Uint8Array(len);
              for (let k = 0; k < len; k += 512) data.fill(rnd() & 0xff, k, k + 512);
              await b.write(off, data);
              model.set(data, off);
            } else if (op < 7) {
              await b.discard(off, len);
              model.fill(0, off, off + len);
            } else if (op < 8) {
              await b.writeZeroes(off, len, rnd() % 2 === 0);
              model.fill(0, off, off + len);
            } else if (op < 9) {
              const got = new Uint8Array(len);
              await b.read(off, got);
              assert.ok(Buffer.from(got).equals(Buffer.from(model.subarray(off, off + len))), `seed ${seed} op ${i}`);
            } else await b.flush();
          }
          const all = new Uint8Array(b.sizeBytes);
          await b.read(0, all);
          assert.ok(Buffer.from(all).equals(Buffer.from(model)), `seed ${seed}: final content differs`);
          await b.close();
          await s.verifyClosed?.();
          const again = await s.reopen(true);
          const back = new Uint8Array(again.sizeBytes);
          await again.read(0, back);
          assert.ok(Buffer.from(back).equals(Buffer.from(model)), `seed ${seed}: content after reopen differs`);
          await again.close();
        } finally {
          await s.cleanup();
        }
      });
    }

    test('concurrent requests on disjoint ranges all land', async () => {
      const s = await make();
      try {
        const b = s.backend;
        const chunk = 8192;
        const n = Math.min(32, Math.floor(b.sizeBytes / chunk));
        const bufs = Array.from({ length: n }, (_, i) => new Uint8Array(chunk).fill(i + 1));
        await Promise.all(bufs.map((buf, i) => b.write(i * chunk, buf)));
        const reads = Array.from({ length: n }, () => new Uint8Array(chunk));
        await Promise.all(reads.map((r, i) => b.read(i * chunk, r)));
        for (const [i, r] of reads.entries()) assert.ok(r.every((v) => v === i + 1));
        await b.close();
      } finally {
        await s.cleanup();
      }
    });

    test('bad requests reject with INVALID_ARGUMENT', async () => {
      const s = await make();
      try {
        const b = s.backend;
        await rejectsWith(() => b.read(b.sizeBytes, new Uint8Array(512)), 'INVALID_ARGUMENT');
        await rejectsWith(() => b.write(b.sizeBytes - 512, new Uint8Array(1024)), 'INVALID_ARGUMENT');
        await rejectsWith(() => b.read(100, new Uint8Array(512)), 'INVALID_ARGUMENT');
        await rejectsWith(() => b.discard(-512, 512), 'INVALID_ARGUMENT');
        await b.close();
      } finally {
        await s.cleanup();
      }
    });

    test('flushed data survives close and reopen; a read-only reopen refuses writes', async () => {
      const s = await make();
      try {
        const data = new Uint8Array(4096).fill(0x5a);
        await s.backend.write(0, data);
        await s.backend.flush();
        await s.backend.close();
        const ro = await s.reopen(true);
        assert.equal(ro.readOnly, true);
        const got = new Uint8Array(4096);
        await ro.read(0, got);
        assert.ok(got.every((v) => v === 0x5a));
        await rejectsWith(() => ro.write(0, data), 'INVALID_ARGUMENT');
        await ro.close();
      } finally {
        await s.cleanup();
      }
    });
  });
}
