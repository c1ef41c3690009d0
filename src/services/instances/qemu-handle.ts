import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ConsoleRing } from '../../hypervisor/console-ring.js';
import type { VmmExit, VmmRateLimits, VmmState, VmmStats } from '../../hypervisor/vmm-protocol.js';
import type { ConsoleListener, ConsoleSubscription, NicCounters, QemuNic, VmHandle } from './engine.js';
import { readProcUsage } from './proc-stats.js';
import { QEMU_FILES } from './qemu-args.js';
import type { QmpClient } from './qmp-client.js';
import { abortable, type ProcessExitInfo } from './vmm-handle.js';

/** QMP `query-status` states to the VMM states the platform uses. */
function vmmStateOf(status: string): VmmState {
  if (status === 'running') return 'running';
  if (status === 'prelaunch') return 'configured';
  if (status === 'shutdown' || status === 'guest-panicked' || status === 'internal-error') return 'exited';
  return 'paused';
}

/** The last `bytes` of a file (empty when it does not exist). */
function readTail(path: string, bytes: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return new Uint8Array(0);
  }
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return new Uint8Array(buf);
  } finally {
    closeSync(fd);
  }
}

/**
 * A VM on the QEMU engine: QEMU itself is the VMM process, driven over QMP. The serial console is QEMU's socket
 * chardev, which takes one client: this handle is that client and fans output out to any number of viewers, with a
 * 1 MiB ring seeded from `console.log` (QEMU appends every byte there) so history survives a daemon restart.
 */
export class QemuVmHandle implements VmHandle {
  private readonly ring = new ConsoleRing();
  private readonly viewers = new Set<ConsoleListener>();
  private readonly viewerEnds = new Set<() => void>();
  private readonly goneListeners = new Set<(e: VmmExit) => void>();
  private goneExit: VmmExit | undefined;
  private console: Socket | undefined;
  private quitRequested = false;
  private guestPoweredOff = false;
  private detached = false;
  private nics: QemuNic[] = [];
  private nicCounters: ((nic: QemuNic) => Promise<NicCounters | undefined>) | undefined;

  constructor(
    private readonly qmp: QmpClient,
    private readonly runDir: string,
    readonly pid: number,
    private readonly guestMemoryBytes: number,
    private readonly processExit?: ProcessExitInfo,
  ) {
    this.ring.append(readTail(join(runDir, QEMU_FILES.consoleLog), this.ring.capacityBytes));
    qmp.onEvent((e) => {
      if (e.event === 'SHUTDOWN' && e.data?.guest === true) {
        // -no-shutdown keeps QEMU alive after a guest power-off; end it now that we know how the guest ended.
        this.guestPoweredOff = true;
        void this.qmp.command('quit').catch(() => undefined);
      }
    });
    qmp.onClosed(() => void this.onQmpClosed());
  }

  /** Connects to the console socket (QEMU accepts it once it listens). */
  async connectConsole(): Promise<void> {
    const sock = connect(join(this.runDir, QEMU_FILES.console));
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    sock.on('error', () => {
      // QEMU went away: QMP's close reports it.
    });
    sock.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk);
      this.ring.append(bytes);
      for (const v of this.viewers) v(bytes);
    });
    this.console = sock;
  }

  private async onQmpClosed(): Promise<void> {
    if (this.detached) return;
    this.console?.destroy();
    let exit: VmmExit;
    if (this.guestPoweredOff) exit = { kind: 'poweroff', reason: 'the guest powered off' };
    else if (this.quitRequested) exit = { kind: 'stopped', reason: 'stopped' };
    else {
      const info = await Promise.race([
        this.processExit ?? Promise.resolve(undefined),
        new Promise<undefined>((r) => setTimeout(r, 2000)),
      ]);
      const how = info?.signal
        ? `was killed by ${info.signal}`
        : info
          ? `exited with code ${info.code}`
          : 'ended without a word (crashed or killed)';
      exit = { kind: 'error', reason: `the QEMU process (pid ${this.pid}) ${how}` };
    }
    this.goneExit = exit;
    for (const end of this.viewerEnds) end();
    for (const l of this.goneListeners) l(exit);
    this.goneListeners.clear();
  }

  async start(): Promise<void> {
    await this.qmp.command('cont');
  }

  async pause(): Promise<void> {
    await this.qmp.command('stop');
  }

  async resume(): Promise<void> {
    await this.qmp.command('cont');
  }

  async stop(force: boolean, signal?: AbortSignal): Promise<void> {
    // Gone, or let go of (a detached handle no longer hears QEMU end): nothing to wait for here.
    if (this.goneExit || this.detached) return;
    const gone = new Promise<void>((resolve) => this.onGone(() => resolve()));
    this.quitRequested = true;
    // The virt board has no power button a guest listens to: a stop ends QEMU (disk caches are flushed by QEMU).
    await this.qmp.command('quit').catch(() => undefined);
    const timer = setTimeout(
      () => {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      },
      force ? 3000 : 15_000,
    );
    try {
      await abortable(gone, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The NICs this VM joined and how to read their traffic (at the switch ports, since QEMU does not count it). */
  setNics(nics: QemuNic[], counters: ((nic: QemuNic) => Promise<NicCounters | undefined>) | undefined): void {
    this.nics = nics;
    this.nicCounters = counters;
  }

  private async nicTotals(): Promise<NicCounters | undefined> {
    const read = this.nicCounters;
    if (!read || this.nics.length === 0) return undefined;
    const total: NicCounters = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
    for (const nic of this.nics) {
      const c = await read(nic).catch(() => undefined);
      if (!c) continue;
      total.rxBytes += c.rxBytes;
      total.txBytes += c.txBytes;
      total.rxPackets += c.rxPackets;
      total.txPackets += c.txPackets;
    }
    return total;
  }

  async state(): Promise<VmmState> {
    const r = await this.qmp.command<{ status: string }>('query-status');
    return vmmStateOf(r.status);
  }

  async stats(): Promise<VmmStats> {
    const status = await this.state();
    const blocks = await this.qmp
      .command<{ device: string; stats: Record<string, number> }[]>('query-blockstats')
      .catch(() => []);
    const s = blocks.find((b) => b.device === 'disk0')?.stats ?? {};
    const proc = readProcUsage(this.pid);
    const nic = await this.nicTotals();
    return {
      state: status,
      pid: this.pid,
      guestMemoryBytes: this.guestMemoryBytes,
      rssBytes: proc?.rssBytes ?? 0,
      cpuSeconds: proc?.cpuSeconds ?? 0,
      diskReadBytes: s.rd_bytes ?? 0,
      diskWriteBytes: s.wr_bytes ?? 0,
      diskReadOps: s.rd_operations ?? 0,
      diskWriteOps: s.wr_operations ?? 0,
      nicRxBytes: nic?.rxBytes ?? 0,
      nicTxBytes: nic?.txBytes ?? 0,
      ...(nic ? { nicRxPackets: nic.rxPackets, nicTxPackets: nic.txPackets } : {}),
      consoleBytes: this.ring.totalBytes,
    };
  }

  async setLimits(limits: VmmRateLimits): Promise<void> {
    const blocks = await this.qmp.command<{ device: string }[]>('query-block');
    if (!blocks.some((b) => b.device === 'disk0')) return;
    await this.qmp.command('block_set_io_throttle', {
      device: 'disk0',
      bps: limits.diskBytesPerSec ?? 0,
      bps_rd: 0,
      bps_wr: 0,
      iops: limits.diskIops ?? 0,
      iops_rd: 0,
      iops_wr: 0,
    });
  }

  async subscribeConsole(listener: ConsoleListener): Promise<ConsoleSubscription> {
    const history = this.ring.snapshot();
    this.viewers.add(listener);
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    if (this.goneExit) end();
    this.viewerEnds.add(end);
    return {
      history,
      close: () => {
        this.viewers.delete(listener);
        this.viewerEnds.delete(end);
        end();
      },
      ended,
    };
  }

  async sendConsole(bytes: Uint8Array): Promise<void> {
    this.console?.write(bytes);
  }

  onGone(listener: (exit: VmmExit) => void): void {
    if (this.goneExit) listener(this.goneExit);
    else this.goneListeners.add(listener);
  }

  detach(): void {
    this.detached = true;
    this.console?.destroy();
    this.qmp.close();
  }
}
