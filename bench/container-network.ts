// Container networking benchmark: two network namespaces (what a container's eth0 lives in) on one Strata network,
// each attached by the TAP bridge helper to the userspace switch, next to the same two namespaces joined by a
// kernel veth pair. Measures the time to attach a NIC (helper start until the switch port exists), ping round trip,
// and bulk TCP throughput (busybox httpd to wget, 64 MiB). Needs root, /dev/net/tun, busybox and the built helper.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { attachContainerNic, tapBridgeUnavailable } from '../src/services/containers/network-hook.js';
import { serveNetwork } from '../src/services/network/network-host.js';
import type { BenchSection } from './report.js';

const run = promisify(execFile);
const FILE_MIB = 64;

/** What {@link measureContainerNetwork} returns. */
export interface ContainerNetworkFigures {
  /** Median time from starting the helper to its port on the switch, ms. */
  attachMs: number;
  /** Average ping round trip through the helpers and the switch, ms. */
  strataRttMs: number;
  /** The same over a veth pair, ms. */
  vethRttMs: number;
  /** wget of a file from busybox httpd through the helpers and the switch, MiB/s. */
  strataMiBps: number;
  /** The same over a veth pair, MiB/s. */
  vethMiBps: number;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

async function pingAvgMs(ns: string, ip: string): Promise<number> {
  const r = await run('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '20', '-i', '0.05', ip]);
  const m = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (!m) throw new Error(`no ping summary: ${r.stdout}`);
  return Number(m[1]);
}

/** Serves `dir` from namespace `server` and times a wget of `big` from namespace `client`, MiB/s. */
async function throughput(server: string, client: string, ip: string, dir: string): Promise<number> {
  const httpd = spawn('ip', ['netns', 'exec', server, 'busybox', 'httpd', '-f', '-p', '8099', '-h', dir], {
    stdio: 'ignore',
  });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await run('ip', ['netns', 'exec', client, 'busybox', 'wget', '-q', '-O', '/dev/null', `http://${ip}:8099/big`], {
      timeout: 120_000,
    });
    return FILE_MIB / ((performance.now() - t0) / 1000);
  } finally {
    httpd.kill();
  }
}

/** Measures attach time, round trip and throughput through the helper next to a veth pair. */
export async function measureContainerNetwork(): Promise<ContainerNetworkFigures> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const missing = tapBridgeUnavailable();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-net-'));
  writeFileSync(join(dir, 'big'), Buffer.alloc(FILE_MIB * 1024 * 1024, 7));
  const tag = process.pid % 100000;
  const spaces = ['a', 'b', 'c', 'd'].map((x) => `sbn-${x}-${tag}`);
  const [a, b, c, d] = spaces as [string, string, string, string];
  const host = await serveNetwork({ name: 'benchnet' }, { runDir: dir, dnsUpstream: null });
  const removers: (() => Promise<void>)[] = [];
  try {
    for (const ns of spaces) sh('ip', ['netns', 'add', ns]);
    for (const ns of spaces) sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const attach = (ns: string, port: string) =>
      attachContainerNic({
        netnsPath: `/run/netns/${ns}`,
        endpointPath: host.endpoint.path,
        network: 'benchnet',
        portName: port,
      });
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const nic = await attach(a, `probe${i}`);
      times.push(performance.now() - t0);
      await nic.remove();
    }
    times.sort((x, y) => x - y);
    for (const [ns, port] of [
      [a, 'bench-a'],
      [b, 'bench-b'],
    ] as const) {
      const nic = await attach(ns, port);
      removers.push(() => nic.remove());
    }
    sh('ip', ['netns', 'exec', a, 'ip', 'addr', 'add', '10.201.0.1/24', 'dev', 'eth0']);
    sh('ip', ['netns', 'exec', b, 'ip', 'addr', 'add', '10.201.0.2/24', 'dev', 'eth0']);
    sh('ip', ['link', 'add', `sbv-${tag}`, 'netns', c, 'type', 'veth', 'peer', 'name', `sbw-${tag}`, 'netns', d]);
    sh('ip', ['netns', 'exec', c, 'ip', 'addr', 'add', '10.202.0.1/24', 'dev', `sbv-${tag}`]);
    sh('ip', ['netns', 'exec', d, 'ip', 'addr', 'add', '10.202.0.2/24', 'dev', `sbw-${tag}`]);
    sh('ip', ['netns', 'exec', c, 'ip', 'link', 'set', `sbv-${tag}`, 'up']);
    sh('ip', ['netns', 'exec', d, 'ip', 'link', 'set', `sbw-${tag}`, 'up']);
    return {
      attachMs: times[Math.floor(times.length / 2)] ?? 0,
      strataRttMs: await pingAvgMs(b, '10.201.0.1'),
      vethRttMs: await pingAvgMs(d, '10.202.0.1'),
      strataMiBps: await throughput(a, b, '10.201.0.1', dir),
      vethMiBps: await throughput(c, d, '10.202.0.1', dir),
    };
  } finally {
    for (const r of removers) await r().catch(() => undefined);
    for (const ns of spaces) spawnSync('ip', ['netns', 'del', ns]);
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Container NICs through the TAP bridge helper and the userspace switch, next to a kernel veth pair. */
export const containerNetworkSection: BenchSection = {
  name: 'container-net',
  title: 'container NIC (TAP bridge helper + userspace switch vs a kernel veth pair)',
  async run() {
    const f = await measureContainerNetwork();
    const row = (label: string, s: number, v: number, unit: string) =>
      `${label.padEnd(34)} ${s.toFixed(2).padStart(9)} ${unit.padEnd(5)} ${v.toFixed(2).padStart(9)} ${unit.padEnd(5)} ${(s / v).toFixed(2).padStart(7)}x`;
    return [
      `${'measure'.padEnd(34)} ${'strata'.padStart(15)} ${'veth'.padStart(15)} ${'ratio'.padStart(8)}`,
      row('ping round trip (avg of 20)', f.strataRttMs, f.vethRttMs, 'ms'),
      row(`TCP wget ${FILE_MIB} MiB`, f.strataMiBps, f.vethMiBps, 'MiB/s'),
      `${'attach a NIC (median of 10)'.padEnd(34)} ${f.attachMs.toFixed(1).padStart(9)} ms`,
    ];
  },
};
