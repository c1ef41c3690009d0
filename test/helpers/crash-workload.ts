// The seeded write workload of the qcow2 crash test, shared by the writer child process and the verifier.
import { seeded } from '../../src/services/storage/block-backend.suite.js';

/** One step of the workload. */
export type CrashOp =
  | { kind: 'write'; offset: number; length: number }
  | { kind: 'discard'; offset: number; length: number }
  | { kind: 'flush' };

/** The ops of a workload over a disk of `size` bytes. */
export function crashOps(seed: number, size: number, count: number): CrashOp[] {
  const rnd = seeded(seed);
  const sectors = size / 512;
  const ops: CrashOp[] = [];
  for (let i = 0; i < count; i++) {
    const r = rnd() % 100;
    if (r < 15) {
      ops.push({ kind: 'flush' });
      continue;
    }
    const big = rnd() % 8 === 0;
    const len = (1 + (rnd() % (big ? 1024 : 64))) * 512;
    const offset = (rnd() % (sectors - len / 512)) * 512;
    ops.push({ kind: r < 88 ? 'write' : 'discard', offset, length: len });
  }
  return ops;
}

/** The content op `op` writes to sector `sector`: a stamp naming both, so any sector tells who wrote it. */
export function stamp(op: number, sector: number, out: Uint8Array): void {
  out.fill((op * 31 + sector * 7) & 0xff);
  const dv = new DataView(out.buffer, out.byteOffset, 8);
  dv.setUint32(0, op + 1);
  dv.setUint32(4, sector);
}

/** The data of a write op. */
export function writeData(op: number, offset: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let s = 0; s < length / 512; s++) stamp(op, offset / 512 + s, data.subarray(s * 512, s * 512 + 512));
  return data;
}
