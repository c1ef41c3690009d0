import { basename } from 'node:path';
import { StrataError } from '../base/errors.js';
import type { Clock } from '../machine/devices/ports.js';
import type { BlockBackend } from '../machine/ports/block-backend.js';
import type { NetBackend } from '../machine/ports/net-backend.js';
import { hostClock, type LocalVm, startLocalVm } from './local-vm.js';
import { RateLimitedDisk } from './rate-limited-disk.js';
import { RateLimitedNic } from './rate-limited-nic.js';
import type { VmExit } from './vm-runner.js';
import type { VmmBootConfig, VmmExit, VmmNicConfig, VmmState, VmmStats } from './vmm-protocol.js';

/** What the VMM's machine needs from its process. */
export interface VmmMachineHost {
  /** The compiled hart. */
  hartModule: WebAssembly.Module;
  /** Reads a boot file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Opens the instance's disk (absent: disks are not attached). */
  openDisk?: ((path: string) => Promise<BlockBackend>) | undefined;
  /**
   * Attaches one NIC to its network (absent: NICs are not attached). The backend's `close()` detaches it; the
   * machine closes every NIC when the guest is gone.
   */
  attachNic?: ((nic: VmmNicConfig) => Promise<NetBackend & { close(): Promise<void> | void }>) | undefined;
  /** Receives console output. */
  onConsole(bytes: Uint8Array): void;
  /** Told once when the guest is gone for good. */
  onExit(exit: VmmExit): void;
}

/**
 * The guest of one VMM on the builtin engine: boots the `virt` machine from the boot config, pauses it (no guest
 * instruction runs and guest time stands still), resumes, stops. Guest RAM is allocated once at boot with exactly
 * `memoryBytes`: that is the hard memory cap, the guest can never grow it.
 */
export class BuiltinVmmMachine {
  /** Where the VM is in its life. */
  state: VmmState = 'configured';
  /** When the guest was booted (ISO time). */
  startedAt: string | undefined;
  /** How the guest ended, once it has. */
  exit: VmmExit | undefined;
  private vm: LocalVm | undefined;
  private disk: RateLimitedDisk | undefined;
  private nics: { limited: RateLimitedNic; close: () => Promise<void> | void }[] = [];
  private readonly abort = new AbortController();
  private pausedAtNs: number | undefined;
  private pausedTotalNs = 0;
  private stopRequested = false;

  constructor(
    public config: VmmBootConfig,
    private readonly host: VmmMachineHost,
  ) {}

  /** Changes the boot config before boot; CONFLICT afterwards (limits may change any time). */
  configure(patch: Partial<Omit<VmmBootConfig, 'name'>>): void {
    const onlyLimits = Object.keys(patch).every((k) => k === 'limits');
    if (this.state !== 'configured' && !onlyLimits) {
      throw new StrataError('CONFLICT', `cannot configure VM '${this.config.name}': it is ${this.state}`);
    }
    this.config = { ...this.config, ...patch, limits: { ...this.config.limits, ...patch.limits } };
    this.disk?.setLimits({ iops: this.config.limits.diskIops, bytesPerSec: this.config.limits.diskBytesPerSec });
    for (const n of this.nics) n.limited.setRate(this.config.limits.nicBytesPerSec ?? 0);
  }

  /** Boots the guest. Bad boot files throw before anything runs and leave the VMM configured. */
  async start(): Promise<void> {
    if (this.state !== 'configured') {
      throw new StrataError('CONFLICT', `cannot start VM '${this.config.name}': it is ${this.state}`);
    }
    const c = this.config;
    const read = async (path: string) => ({ name: basename(path), bytes: await this.host.readFile(path) });
    const kernel = await read(c.kernelPath);
    const initrd = c.initrdPath ? await read(c.initrdPath) : undefined;
    const firmware = c.firmwarePath ? await read(c.firmwarePath) : undefined;
    const disks: BlockBackend[] = [];
    if (c.diskPath && this.host.openDisk) {
      this.disk = new RateLimitedDisk(await this.host.openDisk(c.diskPath), {
        iops: c.limits.diskIops,
        bytesPerSec: c.limits.diskBytesPerSec,
      });
      disks.push(this.disk);
    }
    const macs = (c.nics ?? []).map((n) => parseMacText(n.mac));
    await this.attachNics();
    const clock: Clock = {
      // Guest time stands still while paused: the monotonic clock leaves out paused spans.
      monotonicNs: () => (this.pausedAtNs ?? hostClock.monotonicNs()) - this.pausedTotalNs,
      wallClockNs: hostClock.wallClockNs,
    };
    const nics = this.nics.map((n, i) => ({ backend: n.limited, mac: macs[i] }));
    try {
      this.vm = startLocalVm(
        { memoryBytes: c.memoryBytes, kernel, initrd, firmware, cmdline: c.cmdline, htif: false, disks, nics },
        {
          hartModule: this.host.hartModule,
          signal: this.abort.signal,
          clock,
          paused: () => this.pausedAtNs !== undefined,
          onConsoleOutput: (bytes) => this.host.onConsole(bytes),
        },
      );
    } catch (err) {
      // A machine that cannot be built (too many devices) leaves the VMM configured, its NICs detached.
      this.closeNics();
      throw err;
    }
    this.state = 'running';
    this.startedAt = new Date().toISOString();
    this.vm.done.then(
      (exit) => this.finish(exitOf(exit, this.stopRequested)),
      (err: unknown) => this.finish({ kind: 'error', reason: (err as Error).message }),
    );
  }

  /** Attaches every configured NIC through the NIC rate limit; on failure detaches those attached and throws. */
  private async attachNics(): Promise<void> {
    const wanted = this.config.nics ?? [];
    if (wanted.length === 0) return;
    if (!this.host.attachNic) {
      throw new StrataError('UNAVAILABLE', `VM '${this.config.name}' has NICs but this VMM cannot attach them`);
    }
    try {
      for (const nic of wanted) {
        const backend = await this.host.attachNic(nic);
        this.nics.push({
          limited: new RateLimitedNic(backend, this.config.limits.nicBytesPerSec ?? 0),
          close: () => backend.close(),
        });
      }
    } catch (err) {
      this.closeNics();
      throw err;
    }
  }

  private closeNics(): void {
    for (const n of this.nics.splice(0)) {
      void Promise.resolve()
        .then(n.close)
        .catch(() => {
          // Detaching from a switch that is already gone changes nothing.
        });
    }
  }

  private finish(exit: VmmExit): void {
    this.state = 'exited';
    this.exit = exit;
    this.closeNics();
    void this.disk?.close().catch(() => {
      // The guest is gone; a failing close of its disk changes nothing the daemon can act on.
    });
    this.host.onExit(exit);
  }

  /** Stops running guest instructions; guest time stands still. */
  pause(): void {
    if (this.state !== 'running')
      throw new StrataError('CONFLICT', `cannot pause VM '${this.config.name}': ${this.state}`);
    this.pausedAtNs = hostClock.monotonicNs();
    this.state = 'paused';
  }

  /** Runs the guest again after {@link pause}. */
  resume(): void {
    if (this.state !== 'paused' || this.pausedAtNs === undefined) {
      throw new StrataError('CONFLICT', `cannot resume VM '${this.config.name}': it is ${this.state}`);
    }
    this.pausedTotalNs += hostClock.monotonicNs() - this.pausedAtNs;
    this.pausedAtNs = undefined;
    this.state = 'running';
    this.vm?.runner.wake();
  }

  /**
   * Stops the guest and resolves when it is gone. The builtin machine has no power button the guest listens to, so
   * a stop is a power cut whether forced or not; the disk is flushed and closed by the device layer.
   */
  async stop(_force: boolean): Promise<void> {
    if (this.state === 'exited') return;
    if (this.state === 'configured') {
      this.finish({ kind: 'stopped', reason: 'stopped before boot' });
      return;
    }
    this.stopRequested = true;
    if (this.pausedAtNs !== undefined) this.resume();
    this.abort.abort();
    await this.vm?.done.catch(() => undefined);
  }

  /** Sends console input to the guest. */
  sendInput(bytes: Uint8Array): void {
    if (!this.vm || this.state === 'exited') {
      throw new StrataError('CONFLICT', `VM '${this.config.name}' is ${this.state}: no console input taken`);
    }
    this.vm.sendInput(bytes);
  }

  /** Figures for metrics and `strata info`. */
  stats(consoleBytes: number): VmmStats {
    const cpu = process.cpuUsage();
    const d = this.disk?.counters;
    return {
      state: this.state,
      pid: process.pid,
      guestMemoryBytes: this.config.memoryBytes,
      rssBytes: process.memoryUsage.rss(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      diskReadBytes: d?.readBytes ?? 0,
      diskWriteBytes: d?.writeBytes ?? 0,
      diskReadOps: d?.readOps ?? 0,
      diskWriteOps: d?.writeOps ?? 0,
      nicRxBytes: sum(this.nics, (n) => n.limited.counters.rxBytes),
      nicTxBytes: sum(this.nics, (n) => n.limited.counters.txBytes),
      nicRxPackets: sum(this.nics, (n) => n.limited.counters.rxFrames),
      nicTxPackets: sum(this.nics, (n) => n.limited.counters.txFrames),
      consoleBytes,
    };
  }
}

/** Maps how the run loop ended to the VMM's exit record. */
function exitOf(exit: VmExit, stopRequested: boolean): VmmExit {
  switch (exit.kind) {
    case 'poweroff':
      return { kind: 'poweroff', reason: 'the guest powered off' };
    case 'aborted':
      return { kind: 'stopped', reason: stopRequested ? 'stopped' : 'aborted' };
    case 'reset':
      return { kind: 'reset', reason: 'the guest reset' };
    case 'fail':
      return { kind: 'fail', reason: `the guest reported failure (code ${exit.code})` };
    case 'htif':
      return { kind: exit.value === 1 ? 'poweroff' : 'fail', reason: `HTIF exit value ${exit.value}` };
    case 'fault':
      return { kind: 'fault', reason: `guest fault: ${exit.reason}` };
  }
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((acc, x) => acc + f(x), 0);
}

/** Six colon-separated hex pairs as bytes; undefined when absent. */
function parseMacText(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new StrataError('INVALID_ARGUMENT', `invalid MAC address '${text}' in the VM definition`);
  }
  return Uint8Array.from(parts, (x) => Number.parseInt(x, 16));
}
