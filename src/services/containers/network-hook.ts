/**
 * Puts a container on a network. Node can open neither a TAP device nor an AF_PACKET socket, so a small native
 * helper does the data path: `build/strata-tap-bridge` (native/strata-tap-bridge.c) creates a TAP device as `eth0`
 * inside the container's network namespace, with the MAC the network assigned, attaches to the network's switch
 * endpoint (the Unix socket its `strata network serve` process listens on) and carries frames both ways, one
 * helper process per container NIC. The container's interface is then an ordinary port of the network's switch,
 * like a VM's NIC: it shows in the network's port list and gets its address from the network's DHCP.
 *
 * The helper is started detached (a daemon restart does not cut the container off) and is tied to the container:
 * it follows the container's init through a pidfd and exits when it ends, so a container that stops by itself
 * leaves no helper; the TAP device lives only as long as the helper, so nothing stays behind in any namespace.
 * `remove` ends it earlier (SIGTERM, then SIGKILL).
 */

import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StrataError } from '../../base/errors.js';

/** Where `npm run build` puts the helper (next to the compiled hart). */
export const TAP_BRIDGE_PATH = fileURLToPath(new URL('../../../build/strata-tap-bridge', import.meta.url));

/** What the hook needs. */
export interface ContainerNicOptions {
  /** The container's network namespace file: `ContainerInfo.netnsPath` (`/proc/PID/ns/net`). */
  netnsPath: string;
  /** The container's init: the helper exits when it does. */
  watchPid?: number | undefined;
  /** The network's switch endpoint socket. */
  endpointPath: string;
  /** Network name, for messages. */
  network: string;
  /** Name of the port on the network's switch (default: the interface name). */
  portName?: string | undefined;
  /** Name inside the container; default `eth0`. */
  ifName?: string | undefined;
  /** MAC address of the container's interface (`02:..`); default: the kernel picks one. */
  mac?: string | undefined;
  /** Access VLAN of the port (default: the network's). */
  vlan?: number | undefined;
  /** The helper executable (default TAP_BRIDGE_PATH). */
  helperPath?: string | undefined;
}

/** A container interface made by the hook. */
export interface ContainerNic {
  ifName: string;
  /** Port number on the network's switch. */
  portNo: number;
  /** The helper's pid. */
  pid: number;
  /**
   * When the helper started (`/proc/PID/stat` start time, in clock ticks since boot): with the pid, what names this
   * helper for good, so that a later daemon never ends another process that got the same pid. Undefined if unread.
   */
  startTime: string | undefined;
  /** Ends the helper (which removes the TAP device). Quiet when it is already gone. */
  remove(): Promise<void>;
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const PORTNAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const NETNS_RE = /^\/(proc\/\d+\/ns\/net|run\/netns\/[A-Za-z0-9_.-]+|var\/run\/netns\/[A-Za-z0-9_.-]+)$/;

/** Undefined when the helper is there, else why container networking cannot work (one line). */
export function tapBridgeUnavailable(helperPath = TAP_BRIDGE_PATH): string | undefined {
  if (!existsSync(helperPath)) {
    return `the TAP bridge helper ${helperPath} is missing: build Strata with a C compiler (cc) installed`;
  }
  if (!existsSync('/dev/net/tun')) return 'this host has no /dev/net/tun (TUN/TAP support)';
  return undefined;
}

/**
 * Starts the helper for one container NIC and resolves once it is attached to the switch. INVALID_ARGUMENT for bad
 * names; UNAVAILABLE when the helper is missing or fails (its one-line message). A failure leaves nothing behind:
 * the helper exits on any error before it is attached, and its TAP device goes with it.
 */
export async function attachContainerNic(opts: ContainerNicOptions): Promise<ContainerNic> {
  const ifName = opts.ifName ?? 'eth0';
  const portName = opts.portName ?? ifName;
  if (!IFNAME_RE.test(ifName))
    throw new StrataError('INVALID_ARGUMENT', `invalid interface name '${ifName}' (1-15 of A-Z a-z 0-9 _ . -)`);
  if (!PORTNAME_RE.test(portName))
    throw new StrataError('INVALID_ARGUMENT', `invalid port name '${portName}' (1-64 of A-Z a-z 0-9 _ . -)`);
  if (opts.mac !== undefined && !MAC_RE.test(opts.mac))
    throw new StrataError('INVALID_ARGUMENT', `invalid MAC address '${opts.mac}'`);
  if (opts.vlan !== undefined && (!Number.isInteger(opts.vlan) || opts.vlan < 1 || opts.vlan > 4094))
    throw new StrataError('INVALID_ARGUMENT', `invalid VLAN id ${opts.vlan}`);
  if (!NETNS_RE.test(opts.netnsPath))
    throw new StrataError('INVALID_ARGUMENT', `not a network namespace path: ${opts.netnsPath}`);
  const helper = opts.helperPath ?? TAP_BRIDGE_PATH;
  const missing = tapBridgeUnavailable(helper);
  if (missing) throw new StrataError('UNAVAILABLE', `containers cannot join networks: ${missing}`);
  const args = ['--socket', opts.endpointPath, '--ifname', ifName, '--netns', opts.netnsPath];
  args.push('--port-name', portName);
  if (opts.mac) args.push('--mac', opts.mac.toLowerCase());
  if (opts.vlan) args.push('--vlan', String(opts.vlan));
  if (opts.watchPid) args.push('--watch-pid', String(opts.watchPid));
  const child = spawn(helper, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  }).finally(() => {
    done = true;
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const portNo = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^attached (-?\d+) /m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('error', (e) => reject(new StrataError('UNAVAILABLE', `cannot run ${helper}: ${e.message}`)));
    void exited.then((code) => {
      const why =
        stderr
          .trim()
          .split('\n')
          .pop()
          ?.replace(/^strata-tap-bridge: /, '') || `exit ${code}`;
      reject(new StrataError('UNAVAILABLE', `container NIC on network '${opts.network}' failed: ${why}`));
    });
  });
  // Attached: the helper now runs on its own (it writes nothing more to stdout; errors on stderr are best effort).
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
  const pid = child.pid as number;
  const startTime = processStartTime(pid);
  const remove = async () => {
    // Once it has exited (and was reaped) its pid may belong to another process: never signal it then.
    if (!done) await endProcess(pid, exited);
    // Gone, perhaps still a zombie for a moment: let Node reap it, so no trace of it is left once this resolves.
    await Promise.race([exited, sleep(1000)]);
  };
  return { ifName, portNo, pid, startTime, remove };
}

/** Ends the helper `pid`: SIGTERM, then SIGKILL after 2 s; resolves once it is gone. */
async function endProcess(pid: number, exited?: Promise<unknown>): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const gone = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!alive(pid)) return true;
      if (exited && (await Promise.race([exited.then(() => true), sleep(20).then(() => false)]))) return true;
      if (!exited) await sleep(20);
    }
    return !alive(pid);
  };
  if (await gone(2000)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await gone(2000);
}

/**
 * Ends a helper left by an earlier daemon, found by its pid; checks that the pid is a TAP bridge helper (its
 * command line) that started at `startTime` (ContainerNic.startTime, when the record has it), so a reused pid, even
 * one now used by the helper of another container, is never signalled.
 */
export async function removeHelperByPid(pid: number, startTime?: string): Promise<void> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || !alive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.split('\0')[0]?.endsWith('strata-tap-bridge')) return;
  if (startTime !== undefined && processStartTime(pid) !== startTime) return;
  await endProcess(pid);
}

/**
 * True while the helper `pid` that started at `startTime` (ContainerNic.startTime) still runs: one read of
 * `/proc/PID/stat`, cheap enough to ask every second. A zombie, or another process that got the pid, is not it.
 */
export function helperRunning(pid: number, startTime: string | undefined): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || !alive(pid)) return false;
  return startTime === undefined || processStartTime(pid) === startTime;
}

/** Start time of process `pid` (field 22 of `/proc/PID/stat`, clock ticks since boot); undefined when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, start time 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited child not reaped yet (a zombie) counts as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The IPv4 address of interface `ifName` in the network namespace `netnsPath` (`10.0.1.5/24`), or null when it has
 * none; read from the host with `nsenter` and `ip`, so it works whatever tools the container's image has.
 */
export function readInterfaceIpv4(netnsPath: string, ifName = 'eth0'): Promise<string | null> {
  if (!NETNS_RE.test(netnsPath) || !IFNAME_RE.test(ifName)) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile('nsenter', [`--net=${netnsPath}`, 'ip', '-o', '-4', 'addr', 'show', 'dev', ifName], (err, stdout) => {
      if (err) resolve(null);
      else resolve(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/.exec(stdout)?.[1] ?? null);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
