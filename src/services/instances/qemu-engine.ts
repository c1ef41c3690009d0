import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { VmmExit, VmmNicConfig } from '../../hypervisor/vmm-protocol.js';
import { isAlive, logTail } from './builtin-engine.js';
import type { Engine, EngineVmSpec, NicCounters, QemuNic, VmHandle } from './engine.js';
import { chooseAccel, QEMU_FILES, qemuArgs, qemuNicSocket } from './qemu-args.js';
import { QemuVmHandle } from './qemu-handle.js';
import { QmpClient } from './qmp-client.js';

/** Options of the QEMU engine. */
export interface QemuEngineOptions {
  /** The QEMU binary (default `qemu-system-riscv64` on PATH). */
  binary?: string;
  /** Whether /dev/kvm is usable (default: checked). */
  kvmUsable?: boolean;
  /** How long QEMU may take to open its QMP socket. */
  startTimeoutMs?: number;
  /**
   * Joins a NIC to its network: asks the network's switch to dial `socketPath`, where QEMU's stream netdev for that
   * NIC listens. The daemon provides it (the network service is a sibling of this one); without it, a VM with NICs
   * is refused.
   */
  attachNic?: (nic: VmmNicConfig, socketPath: string, nicBytesPerSec: number) => Promise<{ portName: string }>;
  /** The traffic of a NIC as its guest sees it, read at the network's switch port (undefined: not known now). */
  nicCounters?: (nic: QemuNic) => Promise<NicCounters | undefined>;
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The QEMU engine: `qemu-system-riscv64` runs each VM (QEMU is the VMM process, started detached so it outlives a
 * daemon restart) with the same images as the builtin engine, driven over QMP; KVM when the host has it and the
 * image matches the host's architecture, TCG otherwise.
 */
export class QemuEngine implements Engine {
  readonly name = 'qemu' as const;
  private readonly binary: string;
  private availability: string | undefined | null = null;

  constructor(private readonly opts: QemuEngineOptions = {}) {
    this.binary = opts.binary ?? 'qemu-system-riscv64';
  }

  async unavailableReason(): Promise<string | undefined> {
    if (this.availability === null) {
      const r = spawnSync(this.binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
      this.availability =
        r.status === 0 ? undefined : `${this.binary} is not installed (apt-get install qemu-system-misc)`;
    }
    return this.availability;
  }

  async create(spec: EngineVmSpec, signal?: AbortSignal): Promise<VmHandle> {
    const why = await this.unavailableReason();
    if (why) throw new StrataError('UNAVAILABLE', why);
    const nics = spec.nics ?? [];
    const attachNic = this.opts.attachNic;
    if (nics.length > 0 && !attachNic) {
      throw new StrataError('UNAVAILABLE', `the qemu engine of this process cannot join networks (VM '${spec.name}')`);
    }
    const accel = chooseAccel(spec.arch, this.opts.kvmUsable ?? kvmUsable());
    const at = (name: string) => join(spec.runDir, name);
    writeFileSync(at(QEMU_FILES.engine), 'qemu');
    writeFileSync(at(QEMU_FILES.accel), accel);
    writeFileSync(at('memory'), String(spec.memoryBytes));
    const logFd = openSync(at(QEMU_FILES.log), 'a', 0o600);
    const child = spawn(this.binary, qemuArgs(spec, accel, at), {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const exitInfo = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      child.once('error', () => resolve({ code: -1, signal: null }));
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new StrataError('IO', `cannot start QEMU for '${spec.name}'`);
    writeFileSync(at(QEMU_FILES.pid), String(pid));
    let exited = false;
    void exitInfo.then(() => {
      exited = true;
    });
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    for (;;) {
      if (signal?.aborted) {
        child.kill('SIGKILL');
        throw new StrataError('ABORTED', `start of QEMU for '${spec.name}' cancelled`);
      }
      try {
        const qmp = await QmpClient.connect(at(QEMU_FILES.qmp), 2000);
        const handle = new QemuVmHandle(qmp, spec.runDir, pid, spec.memoryBytes, exitInfo);
        await handle.connectConsole();
        // QEMU set its netdevs up before it answered QMP, so their sockets listen now; the guest waits (-S).
        const joined: QemuNic[] = [];
        for (const [i, nic] of nics.entries()) {
          const { portName } = await attachNic!(nic, at(qemuNicSocket(i)), spec.limits.nicBytesPerSec ?? 0).catch(
            (err: unknown) => {
              child.kill('SIGKILL');
              qmp.close();
              throw new NicAttachError(err);
            },
          );
          joined.push({ network: nic.network, home: nic.home, portName });
        }
        writeFileSync(at(QEMU_NICS_FILE), JSON.stringify(joined));
        handle.setNics(joined, this.opts.nicCounters);
        return handle;
      } catch (err) {
        if (err instanceof NicAttachError) throw err.cause;
        // QEMU is not listening yet: try again until the deadline or until it exits.
      }
      if (exited || Date.now() > deadline) {
        if (!exited) child.kill('SIGKILL');
        throw new StrataError('UNAVAILABLE', `QEMU for '${spec.name}' did not start: ${logTail(spec.runDir)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async attach(runDir: string): Promise<VmHandle | { gone: VmmExit }> {
    const pid = Number(readText(join(runDir, QEMU_FILES.pid)));
    const memoryBytes = Number(readText(join(runDir, 'memory'))) || 0;
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(join(runDir, QEMU_FILES.qmp), 3000);
    } catch {
      if (pid > 0 && isAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        return { gone: { kind: 'error', reason: `QEMU (pid ${pid}) stopped answering QMP and was killed` } };
      }
      return { gone: { kind: 'error', reason: `QEMU (pid ${pid || '?'}) died while the daemon was away` } };
    }
    const status = await qmp.command<{ status: string }>('query-status').catch(() => ({ status: 'unknown' }));
    if (status.status === 'shutdown') {
      // The guest powered off while the daemon was away; -no-shutdown kept QEMU waiting to be told.
      await qmp.command('quit').catch(() => undefined);
      qmp.close();
      return { gone: { kind: 'poweroff', reason: 'the guest powered off while the daemon was away' } };
    }
    const handle = new QemuVmHandle(qmp, runDir, pid, memoryBytes);
    await handle.connectConsole().catch(() => undefined);
    handle.setNics(readNics(join(runDir, QEMU_NICS_FILE)), this.opts.nicCounters);
    return handle;
  }
}

/** The NICs a QEMU VM joined (so that a restarted daemon can still count their traffic). */
const QEMU_NICS_FILE = 'nics.json';

function readNics(path: string): QemuNic[] {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return Array.isArray(v)
      ? v.filter(
          (n): n is QemuNic =>
            typeof n?.network === 'string' && typeof n?.home === 'string' && typeof n?.portName === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

/** A NIC that could not join its network: ends the start instead of being retried. */
class NicAttachError extends Error {
  constructor(override readonly cause: unknown) {
    super('NIC attach failed');
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
