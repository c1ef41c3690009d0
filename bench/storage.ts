// Storage benchmark: Strata's qcow2 backend next to `qemu-img bench` in the same run, like for like:
// - every run of each engine starts from a byte-identical copy of the same image (one empty image made by
//   `qemu-img create` for the allocating writes; one fully written image for the reads and the overwrites);
// - the timed work is the requests only. `qemu-img bench -t writeback` issues no flush inside its timed region
//   (its dirty metadata is written when the image is closed, after the timer), so Strata's timed runs issue none
//   either; both engines' writes end in the host page cache, and close() flushes outside the timer for both.
// qemu-img bench has no random pattern: "random" requests use a stride (offset += step, wrapping at the image
// end) that visits every 4 KiB block of the image in a scattered order; Strata replays exactly those offsets.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDisk } from '../src/services/storage/open-disk.js';
import type { BenchSection } from './report.js';

/** Figures of one engine. */
export interface StorageFigures {
  randReadIops: number;
  /** 4 KiB strided reads with 8 requests in flight. */
  randReadQd8Iops: number;
  randWriteIops: number;
  seqReadMiBs: number;
  seqWriteMiBs: number;
}

/** Options of {@link measureStorage}. */
export interface StorageBenchOptions {
  /** Image size in MiB (default 256). */
  sizeMiB?: number;
  /** 4 KiB requests per random run (default 20000). */
  randomOps?: number;
}

const STEP = 4096 * 997; // odd multiple of 4 KiB: with a power-of-two image size the stride visits every block

function qemuBench(path: string, args: string[], depth = 1): number {
  const r = spawnSync('qemu-img', ['bench', '-f', 'qcow2', '-t', 'writeback', '-d', String(depth), ...args, path], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`qemu-img bench ${args.join(' ')}: ${r.stderr}`);
  const m = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
  if (!m) throw new Error(`qemu-img bench: unexpected output ${r.stdout}`);
  return Number(m[1]);
}

async function strataRun(
  path: string,
  count: number,
  size: number,
  step: number,
  imageBytes: number,
  write: boolean,
): Promise<number> {
  const disk = await openDisk(path, { format: 'qcow2' });
  const buf = new Uint8Array(size).fill(0xa5);
  const t0 = performance.now();
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (write) await disk.write(offset, buf);
    else await disk.read(offset, buf);
    offset = (offset + step) % imageBytes;
  }
  // no flush inside the timed region: qemu-img bench times none either (see the header)
  const seconds = (performance.now() - t0) / 1000;
  await disk.close();
  return seconds;
}

/** Strided 4 KiB reads with `depth` requests in flight. */
async function strataReadDepth(
  path: string,
  count: number,
  step: number,
  imageBytes: number,
  depth: number,
): Promise<number> {
  const disk = await openDisk(path, { format: 'qcow2', readOnly: true });
  const t0 = performance.now();
  let offset = 0;
  let issued = 0;
  const worker = async (): Promise<void> => {
    const buf = new Uint8Array(4096);
    while (issued < count) {
      issued++;
      const at = offset;
      offset = (offset + step) % imageBytes;
      await disk.read(at, buf);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await disk.close();
  return seconds;
}

/** Measures both engines; needs qemu-img on the PATH. */
export async function measureStorage(
  opts: StorageBenchOptions = {},
): Promise<{ strata: StorageFigures; qemu: StorageFigures }> {
  const sizeMiB = opts.sizeMiB ?? 256;
  const ops = opts.randomOps ?? 20000;
  const bytes = sizeMiB << 20;
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-storage-'));
  try {
    const copy = (from: string, name: string): string => {
      const to = join(dir, name);
      copyFileSync(from, to);
      return to;
    };
    // One empty image, copied for each engine: sequential 1 MiB writes that allocate every cluster.
    const empty = join(dir, 'empty.qcow2');
    const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', empty, String(bytes)], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`qemu-img create: ${made.stderr}`);
    const sEmpty = copy(empty, 'strata-seqw.qcow2');
    const qEmpty = copy(empty, 'qemu-seqw.qcow2');
    const sSeqW = await strataRun(sEmpty, sizeMiB, 1 << 20, 1 << 20, bytes, true);
    const qSeqW = qemuBench(qEmpty, ['-w', '-s', '1M', '-c', String(sizeMiB), '--pattern=165']);
    // One fully allocated image (the one qemu-img wrote), copied for each engine: reads, then strided overwrites.
    const sFull = copy(qEmpty, 'strata-full.qcow2');
    const qFull = copy(qEmpty, 'qemu-full.qcow2');
    const sSeqR = await strataRun(sFull, sizeMiB, 1 << 20, 1 << 20, bytes, false);
    const qSeqR = qemuBench(qFull, ['-s', '1M', '-c', String(sizeMiB)]);
    const sRandR = await strataRun(sFull, ops, 4096, STEP, bytes, false);
    const qRandR = qemuBench(qFull, ['-s', '4k', '-S', String(STEP), '-c', String(ops)]);
    const sRandR8 = await strataReadDepth(sFull, ops, STEP, bytes, 8);
    const qRandR8 = qemuBench(qFull, ['-s', '4k', '-S', String(STEP), '-c', String(ops)], 8);
    const sRandW = await strataRun(copy(qEmpty, 'strata-w.qcow2'), ops, 4096, STEP, bytes, true);
    const qRandW = qemuBench(copy(qEmpty, 'qemu-w.qcow2'), ['-w', '-s', '4k', '-S', String(STEP), '-c', String(ops)]);
    return {
      strata: {
        randReadIops: ops / sRandR,
        randReadQd8Iops: ops / sRandR8,
        randWriteIops: ops / sRandW,
        seqReadMiBs: sizeMiB / sSeqR,
        seqWriteMiBs: sizeMiB / sSeqW,
      },
      qemu: {
        randReadIops: ops / qRandR,
        randReadQd8Iops: ops / qRandR8,
        randWriteIops: ops / qRandW,
        seqReadMiBs: sizeMiB / qSeqR,
        seqWriteMiBs: sizeMiB / qSeqW,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Table rows (benchmark, strata, qemu-img bench, ratio) for `npm run bench`. */
export function storageRows(r: { strata: StorageFigures; qemu: StorageFigures }): string[] {
  const row = (label: string, s: number, q: number, unit: string): string =>
    `${label.padEnd(34)} ${s.toFixed(0).padStart(9)} ${unit.padEnd(5)} ${q.toFixed(0).padStart(9)} ${unit.padEnd(5)} ${(s / q).toFixed(2).padStart(6)}x`;
  return [
    `${'qcow2 backend (QD1 unless said)'.padEnd(34)} ${'strata'.padStart(15)} ${'qemu-img bench'.padStart(15)} ${'ratio'.padStart(7)}`,
    row('4 KiB random read', r.strata.randReadIops, r.qemu.randReadIops, 'IOPS'),
    row('4 KiB random read, QD8', r.strata.randReadQd8Iops, r.qemu.randReadQd8Iops, 'IOPS'),
    row('4 KiB random write', r.strata.randWriteIops, r.qemu.randWriteIops, 'IOPS'),
    row('1 MiB sequential read', r.strata.seqReadMiBs, r.qemu.seqReadMiBs, 'MiB/s'),
    row('1 MiB sequential write (alloc)', r.strata.seqWriteMiBs, r.qemu.seqWriteMiBs, 'MiB/s'),
  ];
}

/** The storage section of `npm run bench` (bench/run.ts). */
export const storageSection: BenchSection = {
  name: 'storage',
  title: 'storage (qcow2 backend vs qemu-img bench)',
  run: async () => storageRows(await measureStorage()),
};

/** Measures and prints the storage rows. */
export async function runStorageBench(
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<void> {
  out('measuring storage (qcow2 backend vs qemu-img bench)...');
  for (const line of storageRows(await measureStorage())) out(line);
}

if (import.meta.url === `file://${process.argv[1]}`) await runStorageBench();
