// Container and sandbox benchmark: container start latency through Strata next to `runc run` of the same bundle
// (the config.json Strata wrote, the same overlay mounted), exec latency next to `runc exec`, and the time from
// launching a WASI sandbox to its exit. Needs root and runc; the busybox container image is built on first use.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Operation, StrataEvent } from '../src/api/schema/index.js';
import { DaemonClient } from '../src/cli/client.js';
import { ContainerManager } from '../src/services/containers/container-manager.js';
import { SandboxManager } from '../src/services/sandboxes/wasi-sandbox.js';
import { ensureContainerImage } from '../test/helpers/container-images.js';
import { startTestDaemon } from '../test/helpers/daemon-harness.js';
import { helloModule } from '../test/helpers/wasi-modules.js';
import type { BenchSection } from './report.js';

/** Median and 90th percentile of one measurement, in milliseconds. */
export interface LatencyFigure {
  medianMs: number;
  p90Ms: number;
  runs: number;
}

/** What {@link measureContainers} returns. */
export interface ContainerFigures {
  /** `runc run` of /bin/true in Strata's bundle, until runc exits (create, start, wait, delete). */
  runcRunTrue: LatencyFigure;
  /** Strata `start` of a container whose init is /bin/true, until its exit is handled and the run cleaned up. */
  strataStartToExit: LatencyFigure;
  /** Strata `start` until the container's init runs (the call resolves). */
  strataStartToRunning: LatencyFigure;
  /**
   * Through the daemon: `PUT /1.0/instances/NAME/state` start of a /bin/true container until the event stream says
   * it stopped (request, operation, start, exit handled, event pushed).
   */
  daemonStartToExitEvent: LatencyFigure;
  /** `runc exec ID true` into a running container. */
  runcExecTrue: LatencyFigure;
  /** Strata `exec(name, ['true'])`. */
  strataExecTrue: LatencyFigure;
  /** WASI sandbox launch of a hello module until its exit (worker start, compile, run). */
  sandboxLaunchToExit: LatencyFigure;
  runcVersion: string;
}

/** Options of {@link measureContainers}. */
export interface ContainerBenchOptions {
  /** Iterations per figure (default 20). */
  runs?: number;
}

function figure(samples: number[]): LatencyFigure {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { medianMs: at(0.5), p90Ms: at(0.9), runs: s.length };
}

function timeProcess(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
    });
  });
}

/**
 * Start latency through the daemon's API: an in-process daemon (its own home, the shared busybox image linked in)
 * runs a container whose init is /bin/true; each sample is one start request until the `instance-stopped` event
 * arrives on the event WebSocket.
 */
async function measureDaemonStart(rootfsPath: string, runs: number): Promise<number[]> {
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-dct-'));
  mkdirSync(join(home, 'images'), { recursive: true });
  symlinkSync(join(rootfsPath, '..'), join(home, 'images', 'busybox-container'));
  const daemon = await startTestDaemon(home);
  const client = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
  const name = `bench-d${process.pid}`;
  const ws = client.websocket('/1.0/events');
  const waiters: ((e: StrataEvent) => void)[] = [];
  ws.on('message', (d: Buffer) => {
    const e = JSON.parse(d.toString('utf8')) as StrataEvent;
    for (const w of waiters.splice(0)) w(e);
  });
  const stoppedEvent = () =>
    new Promise<void>((resolve) => {
      const wait = (e: StrataEvent) => {
        if (e.resource === `/1.0/instances/${name}` && (e.data as { action?: string }).action === 'instance-stopped') {
          resolve();
        } else waiters.push(wait);
      };
      waiters.push(wait);
    });
  const finish = async (op: Operation) => {
    const done = await client.call<Operation>('GET', `/1.0/operations/${op.id}/wait?timeout=60`);
    if (done.status !== 'success') throw new Error(`${op.kind}: ${done.errorMessage ?? done.status}`);
  };
  const times: number[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let stopped = stoppedEvent();
    await finish(
      await client.call<Operation>('POST', '/1.0/instances', {
        name,
        image: 'busybox',
        type: 'container',
        command: ['/bin/true'],
      }),
    );
    await stopped;
    for (let i = 0; i < runs + 2; i++) {
      stopped = stoppedEvent();
      const t0 = performance.now();
      await finish(await client.call<Operation>('PUT', `/1.0/instances/${name}/state`, { action: 'start' }));
      await stopped;
      if (i >= 2) times.push(performance.now() - t0);
    }
    await finish(await client.call<Operation>('DELETE', `/1.0/instances/${name}?force=true`));
  } finally {
    ws.close();
    await daemon.close();
    rmSync(home, { recursive: true, force: true });
  }
  return times;
}

/** Measures the figures above. */
export async function measureContainers(opts: ContainerBenchOptions = {}): Promise<ContainerFigures> {
  const runs = opts.runs ?? 20;
  const img = await ensureContainerImage('busybox');
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-ct-'));
  const parent = `/strata-bench-${process.pid}`;
  const mgr = new ContainerManager({ home, cgroupParent: parent, stopTimeoutMs: 2000 });
  const image = { name: img.name, arch: img.arch, rootfsPath: img.rootfsPath };
  const runcVersion = await mgr.runc.version();
  try {
    // Strata: start of a /bin/true container until its exit is handled.
    const once = 'bench-true';
    await mgr.create({ name: once, image, command: ['/bin/true'] });
    const toExit: number[] = [];
    const toRunning: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const exited = new Promise<void>((resolve) => {
        const off = mgr.onExit(once, () => {
          off();
          resolve();
        });
      });
      const t0 = performance.now();
      // An init that ends at once is still a start: `start` resolves once runc has started it.
      await mgr.start(once);
      const t1 = performance.now();
      await exited;
      // Wait until the run's cleanup is done (the manager lets go of it).
      while ((await mgr.info(once)).status !== 'stopped') await new Promise((r) => setTimeout(r, 1));
      const t2 = performance.now();
      if (i >= 2) {
        toRunning.push(t1 - t0);
        toExit.push(t2 - t0);
      }
    }

    // runc run of the same bundle: Strata's config.json, the same overlay mounted by hand.
    const dir = join(home, 'containers', once);
    const bundle = join(dir, 'bundle');
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { root: { path: string } };
    const mount = spawnSync('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${img.rootfsPath},upperdir=${join(dir, 'layer', 'upper')},workdir=${join(dir, 'layer', 'work')}`,
      config.root.path,
    ]);
    if (mount.status !== 0) throw new Error(`mount: ${mount.stderr.toString()}`);
    const runcRoot = join(home, 'runc-raw');
    const raw: number[] = [];
    try {
      for (let i = 0; i < runs + 2; i++) {
        const ms = await timeProcess('runc', ['--root', runcRoot, 'run', '--bundle', bundle, `raw-${i}`]);
        if (i >= 2) raw.push(ms);
      }
    } finally {
      spawnSync('umount', [config.root.path]);
    }
    await mgr.delete(once);

    // exec latency into a running container.
    const live = 'bench-exec';
    await mgr.launch({ name: live, image });
    const strataExec: number[] = [];
    const runcExec: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      await mgr.exec(live, ['true']);
      const ms = performance.now() - t0;
      const rms = await timeProcess('runc', ['--root', mgr.runc.stateDir, 'exec', live, 'true']);
      if (i >= 2) {
        strataExec.push(ms);
        runcExec.push(rms);
      }
    }
    await mgr.delete(live, { force: true });

    // WASI sandbox: launch to exit. The built module (dist/, fresh under `npm run bench`) is used when present:
    // from TypeScript sources the worker first loads tsx, which costs about 300 ms that users never pay.
    const built = new URL('../dist/services/sandboxes/wasi-sandbox.js', import.meta.url);
    const Manager = existsSync(fileURLToPath(built))
      ? ((await import(built.href)) as { SandboxManager: typeof SandboxManager }).SandboxManager
      : SandboxManager;
    const sb = new Manager({ home });
    const sbTimes: number[] = [];
    const module = helloModule('hi\n');
    for (let i = 0; i < Math.max(5, Math.floor(runs / 2)) + 2; i++) {
      const t0 = performance.now();
      await sb.launch({ name: `hello-${i}`, module });
      await sb.wait(`hello-${i}`);
      if (i >= 2) sbTimes.push(performance.now() - t0);
      await sb.delete(`hello-${i}`);
    }

    const daemonTimes = await measureDaemonStart(img.rootfsPath, runs);

    return {
      daemonStartToExitEvent: figure(daemonTimes),
      runcRunTrue: figure(raw),
      strataStartToExit: figure(toExit),
      strataStartToRunning: figure(toRunning),
      runcExecTrue: figure(runcExec),
      strataExecTrue: figure(strataExec),
      sandboxLaunchToExit: figure(sbTimes),
      runcVersion,
    };
  } finally {
    for (const c of await mgr.list().catch(() => [])) await mgr.delete(c.name, { force: true }).catch(() => undefined);
    for (const h of [
      'memory',
      'cpu',
      'cpuacct',
      'cpuset',
      'pids',
      'freezer',
      'devices',
      'blkio',
      'systemd',
      'unified',
    ]) {
      spawnSync('rmdir', [join('/sys/fs/cgroup', h, parent.slice(1))]);
    }
    spawnSync('rmdir', [join('/sys/fs/cgroup', parent.slice(1))]);
    rmSync(home, { recursive: true, force: true });
  }
}

/** The report's lines for {@link ContainerFigures}: Strata next to runc, ratio = Strata / runc. */
export function containerRows(f: ContainerFigures): string[] {
  const row = (label: string, s: LatencyFigure, r: LatencyFigure | undefined) =>
    `${label.padEnd(38)} ${s.medianMs.toFixed(1).padStart(8)} ms (p90 ${s.p90Ms.toFixed(1).padStart(6)}) ${
      r
        ? `${r.medianMs.toFixed(1).padStart(8)} ms (p90 ${r.p90Ms.toFixed(1).padStart(6)}) ${(s.medianMs / r.medianMs).toFixed(2).padStart(6)}x`
        : ''
    }`;
  return [
    `${`containers (${f.runcVersion}), median of ${f.strataStartToExit.runs}`.padEnd(38)} ${'strata'.padStart(22)} ${'runc'.padStart(22)} ${'ratio'.padStart(7)}`,
    row('start /bin/true to exit, cleaned up', f.strataStartToExit, f.runcRunTrue),
    row('  the same through the daemon API', f.daemonStartToExitEvent, f.runcRunTrue),
    row('start until the init runs', f.strataStartToRunning, undefined),
    row('exec true', f.strataExecTrue, f.runcExecTrue),
    row('wasi sandbox launch to exit', f.sandboxLaunchToExit, undefined),
    'runc: `runc run` of the bundle Strata wrote, its overlay mounted once for all runs; Strata mounts and',
    'unmounts the overlay, makes the console FIFOs and removes the cgroups on every start (service level:',
    'ContainerManager.start; daemon: start request until the instance-stopped event on the event stream)',
  ];
}

/** The section for bench/run.ts. */
export const containersSection: BenchSection = {
  name: 'containers',
  title: 'containers (Strata vs runc run of the same bundle) and WASI sandboxes',
  run: async () => containerRows(await measureContainers()),
};
