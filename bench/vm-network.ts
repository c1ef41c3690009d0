// VM-to-VM TCP throughput: two Debian guests, one sends MiBs of zeros with busybox `nc` to the other, which
// discards them. `measureVmNetwork` is for bench/run.ts; running this file alone prints the figures.
//
// Strata: two `strata run` processes whose virtio-net NICs attach to one network (a plain switch, served by a
// background `strata network serve`), so every frame crosses two Unix sockets and the switch process.
// Reference: the same image, guests and commands on QEMU TCG (qemu-system-riscv64 -M virt, virtio-net-device),
// the two QEMU processes joined by QEMU's `-netdev socket` (one listens on 127.0.0.1, the other connects): also
// one host socket between two emulated guests, with no switch process in between (QEMU cannot join our switch).
// Both sides use the same static addresses, so nothing but the engines differs.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from '../test/helpers/console-session.js';
import { ensureDebianImage } from '../test/helpers/debian-image.js';
import { runStrata, STRATA_BIN } from '../test/helpers/strata-cli.js';
import { type ImagePaths, imagePaths, QEMU_CPU } from './boot-and-compute.js';
import { ratioHeader, ratioRow } from './report.js';

/** Throughput of one engine. */
export interface VmNetworkFigures {
  engine: 'strata' | 'qemu';
  /** MiB sent. */
  mib: number;
  /** Seconds the sending guest measured from the first byte to the receiver closing (its /proc/uptime). */
  seconds: number;
  /** Host wall seconds from typing the command to its last line (includes console echo): a check on `seconds`. */
  wallSeconds: number;
  /** MiB/s. */
  mibPerS: number;
  /** Round-trip time of a ping between the guests, ms (average of 10, after a warm-up). */
  pingMs: number;
}

const SENDER_IP = '192.168.90.1';
const RECEIVER_IP = '192.168.90.2';
const PORT = 5001;

/** Waits for the shell of a booting guest. */
async function ready(s: ConsoleSession): Promise<void> {
  await s.waitFor(/strata: debian image ready/, 400_000);
  await s.waitFor(/:~# /, 60_000, s.transcript.search(/strata: debian image ready/));
}

/** Stops the DHCP client the image starts and gives eth0 a static address. */
async function configure(s: ConsoleSession, ip: string): Promise<void> {
  await s.command(
    `kill $(pidof udhcpc) 2>/dev/null; ip -4 addr flush dev eth0; ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && echo CONF$((1+1))`,
    /CONF2/,
    60_000,
  );
}

/** The transfer itself, on two booted guests; returns the figures. */
async function transfer(
  engine: 'strata' | 'qemu',
  sender: ConsoleSession,
  receiver: ConsoleSession,
  mib: number,
): Promise<VmNetworkFigures> {
  await configure(sender, SENDER_IP);
  await configure(receiver, RECEIVER_IP);
  // The first ping resolves the address (ARP); the figure is the average of the next ten.
  await sender.command(`ping -c 2 -w 30 ${RECEIVER_IP} >/dev/null; echo WARM$((1+1))`, /WARM2/, 90_000);
  const ping = await sender.command(
    `ping -c 10 -i 0.2 -w 30 ${RECEIVER_IP} | tail -1`,
    /round-trip min\/avg\/max = [\d.]+\/([\d.]+)\//,
    90_000,
  );
  receiver.typeLine(`nc -l -p ${PORT} > /dev/null; echo RECV$((1+1))`);
  await new Promise((r) => setTimeout(r, 2000));
  const t0 = performance.now();
  const m = await sender.command(
    `s=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc ${RECEIVER_IP} ${PORT}; echo NET_UPTIME $s $(cut -d' ' -f1 /proc/uptime)`,
    /NET_UPTIME ([\d.]+) ([\d.]+)\r?\n/,
    1_200_000,
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  await receiver.waitFor(/RECV2/, 120_000);
  const seconds = Number(m[2]) - Number(m[1]);
  return { engine, mib, seconds, wallSeconds, mibPerS: mib / seconds, pingMs: Number(ping[1]) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function stopAll(sessions: ConsoleSession[]): Promise<void> {
  for (const s of sessions) s.typeLine('poweroff -f');
  await Promise.all(sessions.map((s) => s.waitExit(60_000)));
}

/** Two guests on Strata's engine joined by a Strata network. */
export async function measureStrata(mib: number): Promise<VmNetworkFigures> {
  const shared = await ensureDebianImage();
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-net-'));
  symlinkSync(join(shared, 'images'), join(home, 'images'));
  const sessions: ConsoleSession[] = [];
  try {
    const c = await runStrata(['network', 'create', 'bench'], { env: { STRATA_HOME: home } });
    if (c.code !== 0) throw new Error(`strata network create: ${c.stderr}`);
    for (const [i, mac] of ['02:00:00:5a:00:01', '02:00:00:5a:00:02'].entries()) {
      sessions.push(
        new ConsoleSession(
          process.execPath,
          [STRATA_BIN, 'run', '--image', 'debian', '--memory', '256M', '--nic', `network=bench,mac=${mac},port=g${i}`],
          { STRATA_HOME: home },
        ),
      );
    }
    await Promise.all(sessions.map(ready));
    const figures = await transfer('strata', sessions[0]!, sessions[1]!, mib);
    await stopAll(sessions);
    return figures;
  } finally {
    for (const s of sessions) s.kill();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Two guests on QEMU TCG joined by `-netdev socket` over 127.0.0.1. */
export async function measureQemu(img: ImagePaths, mib: number): Promise<VmNetworkFigures> {
  const port = await freePort();
  const qemu = (netdev: string, mac: string) =>
    new ConsoleSession('qemu-system-riscv64', [
      '-M',
      'virt',
      '-cpu',
      QEMU_CPU,
      '-m',
      '256',
      '-nographic',
      '-bios',
      img.firmware,
      '-kernel',
      img.kernel,
      '-initrd',
      img.initrd,
      '-append',
      img.cmdline,
      '-netdev',
      netdev,
      '-device',
      `virtio-net-device,netdev=n0,mac=${mac}`,
    ]);
  const sessions = [qemu(`socket,id=n0,listen=127.0.0.1:${port}`, '02:00:00:5a:00:01')];
  try {
    await new Promise((r) => setTimeout(r, 1000));
    sessions.push(qemu(`socket,id=n0,connect=127.0.0.1:${port}`, '02:00:00:5a:00:02'));
    await Promise.all(sessions.map(ready));
    const figures = await transfer('qemu', sessions[0]!, sessions[1]!, mib);
    await stopAll(sessions);
    return figures;
  } finally {
    for (const s of sessions) s.kill();
  }
}

/** Both engines, one after the other (never concurrently: they would share the host's cores). */
export async function measureVmNetwork(mib = 8): Promise<{ strata: VmNetworkFigures; qemu: VmNetworkFigures }> {
  const img = imagePaths(await ensureDebianImage());
  const strata = await measureStrata(mib);
  const qemu = await measureQemu(img, mib);
  return { strata, qemu };
}

/** The table of a `measureVmNetwork` result: throughput and ping next to the QEMU reference, with ratios. */
export function vmNetworkRows(r: { strata: VmNetworkFigures; qemu: VmNetworkFigures }): string[] {
  return [
    ratioHeader('VM-to-VM (busybox nc, ping)', 'strata', 'qemu-socket'),
    ratioRow(`TCP ${r.strata.mib} MiB guest to guest`, r.strata.mibPerS, r.qemu.mibPerS, 'MiB/s'),
    ratioRow('ping RTT guest to guest (avg 10)', r.strata.pingMs, r.qemu.pingMs, 'ms'),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureVmNetwork(Number(process.env.BENCH_NET_MIB ?? 8));
  for (const line of vmNetworkRows(r)) process.stdout.write(`${line}\n`);
  for (const f of [r.strata, r.qemu]) {
    process.stdout.write(`${f.engine}: guest ${f.seconds.toFixed(2)} s, host wall ${f.wallSeconds.toFixed(2)} s\n`);
  }
}
