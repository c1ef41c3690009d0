import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleSession } from '../test/helpers/console-session.js';
import { STRATA_BIN } from '../test/helpers/strata-cli.js';

/** Where the engines find the image's files. */
export interface ImagePaths {
  home: string;
  kernel: string;
  initrd: string;
  firmware: string;
  cmdline: string;
}

/** Figures of one engine on the boot-and-compute work. */
export interface EngineFigures {
  engine: string;
  /** Wall seconds from process start to the image's ready line. */
  bootToShellS: number;
  /** Seconds the guest measured for sha256sum of 32 MiB of zeros. */
  sha256S: number;
  /** Host CPU used by the engine's process while the booted guest idles, in % of one core. */
  idleCpuPercent: number;
}

/**
 * The in-guest integer workload, timed by the guest's own clock (/proc/uptime, 10 ms resolution; busybox `date`
 * has no nanoseconds): prints `BENCH_UPTIME <start> <end>` in seconds.
 */
export const SHA256_WORKLOAD =
  "s=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=1M count=32 2>/dev/null | sha256sum; echo BENCH_UPTIME $s $(cut -d' ' -f1 /proc/uptime)";

/** The CPU QEMU emulates for comparison: RV64GC without the extensions our hart does not have. */
export const QEMU_CPU = 'rv64,zba=false,zbb=false,zbc=false,zbs=false,sstc=false,h=false,v=false';

/** Reads the image files out of a STRATA_HOME's debian manifest. */
export function imagePaths(home: string): ImagePaths {
  const dir = join(home, 'images', 'debian');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    kernelCmdline: string;
    files: { path: string; role: string }[];
  };
  const file = (pred: (f: { path: string; role: string }) => boolean) => {
    const f = manifest.files.find(pred);
    if (!f) throw new Error('image manifest lacks a file the benchmark needs');
    return join(dir, f.path);
  };
  return {
    home,
    kernel: file((f) => f.role === 'kernel'),
    initrd: file((f) => f.role === 'initrd'),
    firmware: file((f) => f.path.endsWith('fw_dynamic.bin')),
    cmdline: manifest.kernelCmdline,
  };
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerS = 100;
  return (Number(fields[11]) + Number(fields[12])) / ticksPerS;
}

/** Boots one engine, times boot-to-shell, runs the workload, measures idle CPU, powers off. */
export async function measureEngine(
  engine: 'strata' | 'qemu',
  img: ImagePaths,
  idleSeconds = 10,
): Promise<EngineFigures> {
  const session =
    engine === 'strata'
      ? new ConsoleSession(process.execPath, [STRATA_BIN, 'run', '--image', 'debian'], { STRATA_HOME: img.home })
      : new ConsoleSession('qemu-system-riscv64', [
          '-M',
          'virt',
          '-cpu',
          QEMU_CPU,
          '-m',
          '512',
          '-nographic',
          '-bios',
          img.firmware,
          '-kernel',
          img.kernel,
          '-initrd',
          img.initrd,
          '-append',
          img.cmdline,
        ]);
  try {
    await session.waitFor(/image ready/, 300_000);
    const bootToShellS = (performance.now() - session.startedMs) / 1000;
    await session.waitFor(/:~# /, 60_000, session.transcript.search(/image ready/));
    const m = await session.command(SHA256_WORKLOAD, /BENCH_UPTIME ([\d.]+) ([\d.]+)\r?\n/, 600_000);
    const sha256S = Number(m[2]) - Number(m[1]);
    await new Promise((r) => setTimeout(r, 1000));
    const pid = session.child.pid ?? 0;
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleCpuPercent = ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    session.typeLine('poweroff -f');
    await session.waitExit(60_000);
    return { engine, bootToShellS, sha256S, idleCpuPercent };
  } finally {
    session.kill();
  }
}
