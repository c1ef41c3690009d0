// File push and pull through the daemon (`PUT`/`GET /1.0/instances/{name}/files`), for a WASI sandbox's folder and,
// with root and runc, a running busybox container's layer, next to writing and reading the same bytes to a local
// file in this process (the floor: what is left is HTTP, the path checks, the rename and, for a container, fsync and
// the overlay). Each figure is the median of 10 round trips over TCP with the token.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Operation } from '../src/api/schema/index.js';
import { DaemonClient } from '../src/cli/client.js';
import { ensureContainerImage } from '../test/helpers/container-images.js';
import { startTestDaemon } from '../test/helpers/daemon-harness.js';
import { helloModule } from '../test/helpers/wasi-modules.js';
import type { BenchSection } from './report.js';

const SIZES = [4096, 1 << 20, 16 << 20];
const RUNS = 10;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function row(what: string, size: number, ms: number): string {
  const mibs = size / (1 << 20) / (ms / 1000);
  const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
  return `${what.padEnd(34)} ${label.padStart(7)} ${ms.toFixed(1).padStart(9)} ms ${mibs.toFixed(0).padStart(7)} MiB/s`;
}

async function waitOp(c: DaemonClient, op: Operation): Promise<void> {
  const done = await c.call<Operation>('GET', `/1.0/operations/${op.id}/wait?timeout=120`);
  if (done.status !== 'success') throw new Error(`operation failed: ${done.errorMessage}`);
}

async function pushPull(c: DaemonClient, name: string, path: string, size: number): Promise<[number, number]> {
  const bytes = new Uint8Array(randomBytes(size));
  const push: number[] = [];
  const pull: number[] = [];
  const url = `/1.0/instances/${name}/files?path=${encodeURIComponent(path)}`;
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    await c.call('PUT', url, bytes);
    push.push(performance.now() - t);
    t = performance.now();
    const back = await c.call<Buffer>('GET', url);
    pull.push(performance.now() - t);
    if (back.length !== size) throw new Error(`pulled ${back.length} bytes of ${size}`);
  }
  return [median(push), median(pull)];
}

function localFloor(dir: string, size: number): [number, number] {
  const bytes = randomBytes(size);
  const write: number[] = [];
  const read: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    writeFileSync(join(dir, 'floor.bin'), bytes);
    write.push(performance.now() - t);
    t = performance.now();
    readFileSync(join(dir, 'floor.bin'));
    read.push(performance.now() - t);
  }
  return [median(write), median(read)];
}

function canRunContainers(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Push and pull latency and throughput of the file route. */
export const instanceFilesSection: BenchSection = {
  name: 'files',
  title: 'file push and pull through the daemon (median of 10; local file I/O in this process as the floor)',
  async run(progress) {
    const home = mkdtempSync(join(tmpdir(), 'strata-bench-files-'));
    const containers = canRunContainers();
    if (containers) {
      progress('preparing the busybox container image...');
      const img = await ensureContainerImage('busybox');
      mkdirSync(join(home, 'images'), { recursive: true });
      symlinkSync(join(img.rootfsPath, '..'), join(home, 'images', 'busybox-container'));
    }
    const daemon = await startTestDaemon(home);
    const c = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
    const lines = [`${'path'.padEnd(34)} ${'size'.padStart(7)} ${'time'.padStart(12)} ${'rate'.padStart(13)}`];
    try {
      const module = Buffer.from(helloModule('bench\n')).toString('base64');
      await waitOp(
        c,
        await c.call<Operation>('POST', '/1.0/instances', { name: 'bf-sb', image: 'h.wasm', type: 'sandbox', module }),
      );
      if (containers) {
        const body = { name: 'bf-ct', image: 'busybox', type: 'container', command: ['sleep', '3600'] };
        await waitOp(c, await c.call<Operation>('POST', '/1.0/instances', body));
      }
      for (const size of SIZES) {
        progress(`measuring ${size} bytes...`);
        const [w, r] = localFloor(home, size);
        lines.push(row('local write (floor)', size, w), row('local read (floor)', size, r));
        const [sp, sl] = await pushPull(c, 'bf-sb', 'data/f.bin', size);
        lines.push(row('sandbox push', size, sp), row('sandbox pull', size, sl));
        if (containers) {
          const [cp, cl] = await pushPull(c, 'bf-ct', 'root/f.bin', size);
          lines.push(row('running container push', size, cp), row('running container pull', size, cl));
        }
      }
      if (!containers) lines.push('containers: not measured (needs root and runc)');
    } finally {
      for (const name of ['bf-sb', 'bf-ct']) {
        const op = await c.call<Operation>('DELETE', `/1.0/instances/${name}?force=true`).catch(() => undefined);
        if (op) await waitOp(c, op).catch(() => undefined);
      }
      await daemon.close();
      rmSync(home, { recursive: true, force: true });
    }
    return lines;
  },
};
