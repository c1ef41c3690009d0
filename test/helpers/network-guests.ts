import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './console-session.js';
import { ensureDebianImage } from './debian-image.js';
import { type CliResult, runStrata, STRATA_BIN } from './strata-cli.js';

/**
 * A Strata home of its own for network tests (networks, sockets and background network servers are per home),
 * sharing the pulled Debian image of the shared test store through a symlink. `cleanup` removes it (the image
 * stays).
 */
export async function networkTestHome(): Promise<{ home: string; cleanup: () => void }> {
  const shared = await ensureDebianImage();
  const home = mkdtempSync(join(tmpdir(), 'strata-net-'));
  symlinkSync(join(shared, 'images'), join(home, 'images'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** `strata ARGS` in `home`; throws with its output unless it exits 0. */
export async function strataOk(home: string, args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  const r = await runStrata(args, { env: { STRATA_HOME: home }, timeoutMs });
  if (r.code !== 0) throw new Error(`strata ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

/** A Debian guest on Strata's engine with its console, booted with `extraArgs` (e.g. `--nic ...`). */
export class Guest {
  readonly vm: ConsoleSession;
  /** The address the guest's eth0 got by DHCP (after `ready`, when the network has DHCP). */
  dhcpAddress: string | undefined;
  private seq = 0;

  constructor(
    readonly name: string,
    home: string,
    extraArgs: readonly string[],
    memory = '256M',
  ) {
    this.vm = new ConsoleSession(
      process.execPath,
      [STRATA_BIN, 'run', '--image', 'debian', '--memory', memory, ...extraArgs],
      { STRATA_HOME: home },
    );
  }

  /** Waits for the shell; with `dhcp`, first for eth0's DHCP lease (its address is kept in `dhcpAddress`). */
  async ready(opts: { dhcp: boolean; timeoutMs?: number }): Promise<void> {
    const t = opts.timeoutMs ?? 300_000;
    if (opts.dhcp) {
      const m = await this.vm.waitFor(/strata: eth0 configured by DHCP: ([\d.]+)\//, t);
      this.dhcpAddress = m[1];
    }
    await this.vm.waitFor(/strata: debian image ready/, t);
    await this.vm.waitFor(/:~# /, 60_000, this.vm.transcript.search(/strata: debian image ready/));
  }

  /**
   * Runs a shell command and returns its output (between unique markers) and exit status. The markers are built
   * by the shell, so the echoed command line never matches them.
   */
  async sh(command: string, timeoutMs = 60_000): Promise<{ out: string; rc: number }> {
    const id = `${this.name}x${++this.seq}`;
    const m = await this.vm.command(
      `echo "<<$((0))${id}"; ${command}; echo "${id}$((0))>> rc=$?"`,
      new RegExp(`<<0${id}\\r?\\n([\\s\\S]*?)${id}0>> rc=(\\d+)\\r?\\n`),
      timeoutMs,
    );
    return { out: m[1] ?? '', rc: Number(m[2]) };
  }

  /** Pings `ip` `count` times (deadline `deadlineS` seconds); returns how many replies came back. */
  async ping(ip: string, count = 3, deadlineS = 10): Promise<number> {
    return (await this.pingOut(ip, count, deadlineS)).received;
  }

  /** Like `ping`, with busybox ping's output. */
  async pingOut(ip: string, count = 3, deadlineS = 10): Promise<{ received: number; out: string }> {
    const r = await this.sh(`ping -c ${count} -w ${deadlineS} ${ip}`, (deadlineS + 60) * 1000);
    const m = /(\d+) packets received/.exec(r.out);
    return { received: Number(m?.[1] ?? 0), out: r.out };
  }

  /** Powers the guest off and waits for its process to end (killing it after `timeoutMs`). */
  async stop(timeoutMs = 60_000): Promise<void> {
    this.vm.typeLine('poweroff -f');
    await this.vm.waitExit(timeoutMs);
  }
}
