// Load test of the daemon (a benchmark, not a timed test): 50 concurrent clients issue 10,000 API requests over
// TCP with the token against a real `strata daemon` holding 20 instances (a few of them running VMs), and the
// latency percentiles are printed. Run: node scripts/build.mjs && node --import tsx bench/daemon-load.ts
// Knobs: LOAD_CLIENTS, LOAD_REQUESTS, LOAD_INSTANCES, LOAD_RUNNING_BUILTIN, LOAD_RUNNING_QEMU, LOAD_SETTLE_S.
import { rmSync } from 'node:fs';
import type { Operation } from '../src/api/schema/index.js';
import { DaemonClient } from '../src/cli/client.js';
import { tempHome } from '../test/helpers/daemon-harness.js';
import { killVmms, linkDebianImage, startDaemonProcess } from '../test/helpers/daemon-process.js';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 50);
const REQUESTS = Number(process.env.LOAD_REQUESTS ?? 10_000);
const INSTANCES = Number(process.env.LOAD_INSTANCES ?? 20);
const RUNNING_BUILTIN = Number(process.env.LOAD_RUNNING_BUILTIN ?? 2);
const RUNNING_QEMU = Number(process.env.LOAD_RUNNING_QEMU ?? 2);
/** Seconds to let the running guests boot first, so the figures are for a steady daemon, not a booting host. */
const SETTLE_S = Number(process.env.LOAD_SETTLE_S ?? 30);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const home = tempHome('ld-');
  await linkDebianImage(home);
  const daemon = await startDaemonProcess(home);
  try {
    const admin = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
    const names: string[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      const name = `load${i}`;
      names.push(name);
      const engine = i < RUNNING_BUILTIN ? 'builtin' : i < RUNNING_BUILTIN + RUNNING_QEMU ? 'qemu' : 'builtin';
      const start = i < RUNNING_BUILTIN + RUNNING_QEMU;
      const op = await admin.call<Operation>('POST', '/1.0/instances', {
        name,
        image: 'debian',
        engine,
        memory: '128M',
        diskSize: '64M',
        start,
      });
      await admin.waitOperation(op);
    }
    process.stdout.write(
      `daemon ${daemon.url}: ${INSTANCES} instances (${RUNNING_BUILTIN} builtin + ${RUNNING_QEMU} qemu running)\n`,
    );
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));

    const mix: [number, (c: DaemonClient, n: string) => Promise<unknown>][] = [
      [40, (c) => c.raw('GET', '/1.0/instances')],
      [25, (c, n) => c.raw('GET', `/1.0/instances/${n}`)],
      [15, (c, n) => c.raw('GET', `/1.0/instances/${n}/state`)],
      [10, (c) => c.raw('GET', '/1.0/operations')],
      [5, (c) => c.raw('GET', '/1.0')],
      [
        4,
        (c, n) =>
          c.raw('PATCH', `/1.0/instances/${n}`, { limits: { cpuWeight: 50 + Math.floor(Math.random() * 100) } }),
      ],
      [1, (c) => c.raw('GET', '/metrics')],
    ];
    const pick = () => {
      let r = Math.random() * 100;
      for (const [w, f] of mix) {
        r -= w;
        if (r < 0) return f;
      }
      return mix[0]![1];
    };
    const latencies: number[] = [];
    const errors: string[] = [];
    let issued = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const client = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
        while (issued < REQUESTS) {
          issued++;
          const name = names[Math.floor(Math.random() * names.length)]!;
          const start = performance.now();
          try {
            const res = (await pick()(client, name)) as { status: number; body: unknown };
            if (res.status >= 400) errors.push(`${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
          } catch (err) {
            errors.push((err as Error).message);
          }
          latencies.push(performance.now() - start);
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const f = (ms: number) => `${ms.toFixed(1)} ms`;
    process.stdout.write(
      [
        `requests: ${latencies.length} from ${CLIENTS} concurrent clients in ${wallS.toFixed(1)} s (${(latencies.length / wallS).toFixed(0)} req/s)`,
        `errors:   ${errors.length}${errors.length ? ` (first: ${errors[0]})` : ''}`,
        `latency:  p50 ${f(percentile(latencies, 50))}  p90 ${f(percentile(latencies, 90))}  p99 ${f(percentile(latencies, 99))}  max ${f(latencies.at(-1) ?? 0)}`,
        '',
      ].join('\n'),
    );
    for (const name of names)
      await admin.waitOperation(await admin.call<Operation>('DELETE', `/1.0/instances/${name}?force=true`));
    if (errors.length > 0) process.exitCode = 1;
  } finally {
    await daemon.stop();
    killVmms(home);
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
