// Crash safety of the qcow2 backend: a child process runs a seeded write workload and prints "acked N" after
// each completed flush; it is killed with SIGKILL at a random moment, many times over. Each image must then pass
// `qemu-img check` (leaks allowed), hold every write acknowledged by a flush (or a later write over it), and
// after one read-write open by Strata (which repairs the dirty image) pass `qemu-img check` with no leaks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seeded } from '../../src/services/storage/block-backend.suite.js';
import { createQcow2 } from '../../src/services/storage/image-create.js';
import { openDisk } from '../../src/services/storage/open-disk.js';
import { type CrashOp, crashOps, stamp } from '../helpers/crash-workload.js';
import { haveQemuImg, qemuCheck } from '../helpers/qemu-img.js';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, '..', 'helpers', 'qcow2-crash-writer.ts');
const dir = mkdtempSync(join(tmpdir(), 'strata-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROUNDS = Number(process.env.STRATA_CRASH_ROUNDS ?? 20);
const MASTER_SEED = Number(process.env.STRATA_CRASH_SEED ?? 20261126);
const SIZE = 16 << 20;
const OPS = 20000;

/** Runs the writer until a random moment after it opened the image, then SIGKILLs it; returns the last ack. */
function runAndKill(path: string, seed: number, killAfterMs: number): Promise<{ acked: number; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path, String(seed), String(SIZE), String(OPS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let acked = 0;
    let finished = false;
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^acked (\d+)$/.exec(line);
        if (m) acked = Number(m[1]);
        if (line === 'done') finished = true;
        if (line === 'open') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`writer exited ${code}: ${err}`));
      else resolve({ acked, finished });
    });
  });
}

/** Checks every sector: the content after the acked ops, or what a later (unacknowledged) op left there. */
function verify(disk: Uint8Array, ops: CrashOp[], acked: number, label: string): void {
  const sectors = SIZE / 512;
  // owner[s]: op that last wrote sector s among the acked ops (-1: zeros)
  const owner = new Int32Array(sectors).fill(-1);
  for (let i = 0; i < acked; i++) {
    const op = ops[i]!;
    if (op.kind === 'flush') continue;
    owner.fill(op.kind === 'write' ? i : -1, op.offset / 512, (op.offset + op.length) / 512);
  }
  // the child may have run on after its last ack up to the second flush after it (killed after that flush
  // completed but before it printed); nothing later can have happened
  let horizon = acked;
  for (let flushes = 0; horizon < ops.length && flushes < 2; horizon++) {
    if (ops[horizon]!.kind === 'flush') flushes++;
  }
  const later: number[][] = Array.from({ length: sectors }, () => []);
  for (let i = acked; i < horizon; i++) {
    const op = ops[i]!;
    if (op.kind === 'flush') continue;
    for (let s = op.offset / 512; s < (op.offset + op.length) / 512; s++) later[s]!.push(op.kind === 'write' ? i : -1);
  }
  const want = new Uint8Array(512);
  const matches = (s: number, who: number): boolean => {
    const got = disk.subarray(s * 512, s * 512 + 512);
    if (who < 0) return got.every((v) => v === 0);
    stamp(who, s, want);
    return Buffer.from(got).equals(Buffer.from(want));
  };
  for (let s = 0; s < sectors; s++) {
    if (matches(s, owner[s]!)) continue;
    const alt = later[s]!.some((who) => matches(s, who));
    assert.ok(alt, `${label}: sector ${s} lost acknowledged data (acked ${acked}, owner op ${owner[s]})`);
  }
}

async function readAll(path: string, readOnly: boolean): Promise<Uint8Array> {
  const d = await openDisk(path, { readOnly });
  const all = new Uint8Array(d.sizeBytes);
  await d.read(0, all);
  await d.close();
  return all;
}

test(`SIGKILL at random points of a write workload, ${ROUNDS} times (seed ${MASTER_SEED})`, {
  skip: haveQemuImg() ? false : 'qemu-img is not installed',
  timeout: 120_000,
}, async () => {
  const rnd = seeded(MASTER_SEED);
  let totalAcked = 0;
  let leaky = 0;
  let killedMidRun = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const seed = rnd();
    const clusterSize = [65536, 4096, 512][round % 3]!;
    const path = join(dir, `crash-${round}.qcow2`);
    await createQcow2(path, { sizeBytes: SIZE, clusterSize });
    const killAfter = rnd() % 900;
    const { acked, finished } = await runAndKill(path, seed, killAfter);
    if (!finished) killedMidRun++;
    const label = `round ${round} (seed ${seed}, ${clusterSize}-byte clusters, killed after ${killAfter} ms)`;
    const c = qemuCheck(path);
    assert.equal(c.corruptions, 0, `${label}: qemu-img check found corruptions\n${c.raw}`);
    assert.equal(c.checkErrors, 0, `${label}: qemu-img check errors\n${c.raw}`);
    if (c.leaks > 0) leaky++;
    const ops = crashOps(seed, SIZE, OPS);
    verify(await readAll(path, true), ops, acked, label);
    // a read-write open repairs the (dirty) image: no leaks afterwards, same data
    const repaired = await readAll(path, false);
    const c2 = qemuCheck(path);
    assert.deepEqual([c2.corruptions, c2.leaks, c2.status], [0, 0, 0], `${label}: after repair\n${c2.raw}`);
    verify(repaired, ops, acked, `${label} after repair`);
    totalAcked += acked;
    rmSync(path);
  }
  process.stdout.write(
    `# crash rounds ${ROUNDS} (${killedMidRun} killed mid-run), acked ops verified ${totalAcked}, images with leaks ${leaky}\n`,
  );
  assert.ok(killedMidRun >= ROUNDS / 2, 'most rounds must be killed while writing');
});
