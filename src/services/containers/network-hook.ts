/**
 * The hook that puts a container on a network: given the container's network namespace, make a veth pair, move
 * one end into the namespace as `eth0` (with the MAC the network assigned), bring both ends up, and hand the host
 * end's interface name to a callback, which attaches it to the network's switch (a Linux bridge, or a userspace
 * switch reading the interface). The container's own DHCP client then asks the network for an address
 * (`dhclient eth0` in the Debian container image, `udhcpc -i eth0` in busybox).
 *
 * Done with iproute2 (`ip`) and util-linux (`nsenter`): `ip link set DEV netns PATH` takes a namespace file
 * path, so any `/proc/PID/ns/net` or `/run/netns/NAME` works. The pair disappears by itself when the container's
 * namespace does (its last process exits); `remove` deletes it earlier.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { StrataError } from '../../base/errors.js';

/** What the hook needs. */
export interface ContainerNicOptions {
  /** The container's network namespace file: `ContainerInfo.netnsPath` (`/proc/PID/ns/net`). */
  netnsPath: string;
  /** Name of the host end (at most 15 characters, IFNAMSIZ - 1). */
  hostIfName: string;
  /** Name inside the container; default `eth0`. */
  containerIfName?: string | undefined;
  /** MAC address of the container's interface (`52:54:00:..`); default: the kernel picks one. */
  mac?: string | undefined;
  mtu?: number | undefined;
}

/** A container interface made by the hook. */
export interface ContainerNic {
  hostIfName: string;
  containerIfName: string;
  /** Deletes the pair (both ends). Quiet when it is already gone. */
  remove(): Promise<void>;
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * Creates the veth pair for a container and hands the host end to `onHostEnd`. When any step or the callback
 * fails, the pair is deleted and the error rethrown (nothing is left behind). INVALID_ARGUMENT for bad names,
 * UNAVAILABLE when `ip`/`nsenter` are missing or the kernel refuses.
 */
export async function attachContainerNic(
  opts: ContainerNicOptions,
  onHostEnd: (hostIfName: string) => Promise<void> | void,
): Promise<ContainerNic> {
  const inside = opts.containerIfName ?? 'eth0';
  for (const n of [opts.hostIfName, inside]) {
    if (!IFNAME_RE.test(n))
      throw new StrataError('INVALID_ARGUMENT', `invalid interface name '${n}' (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  if (opts.mac !== undefined && !MAC_RE.test(opts.mac))
    throw new StrataError('INVALID_ARGUMENT', `invalid MAC address '${opts.mac}'`);
  if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
    throw new StrataError('INVALID_ARGUMENT', `invalid MTU ${opts.mtu}`);
  }
  if (!/^\/(proc\/\d+\/ns\/net|run\/netns\/[A-Za-z0-9_.-]+|var\/run\/netns\/[A-Za-z0-9_.-]+)$/.test(opts.netnsPath)) {
    throw new StrataError('INVALID_ARGUMENT', `not a network namespace path: ${opts.netnsPath}`);
  }
  const temp = `stmp${randomBytes(5).toString('hex')}`;
  await ip(['link', 'add', opts.hostIfName, 'type', 'veth', 'peer', 'name', temp]);
  const remove = async () => {
    await ip(['link', 'del', opts.hostIfName]).catch(() => undefined);
  };
  try {
    await ip(['link', 'set', temp, 'netns', opts.netnsPath]);
    const inNs = (args: string[]) => run('nsenter', [`--net=${opts.netnsPath}`, 'ip', ...args]);
    await inNs(['link', 'set', temp, 'name', inside]);
    if (opts.mac) await inNs(['link', 'set', inside, 'address', opts.mac]);
    if (opts.mtu) {
      await inNs(['link', 'set', inside, 'mtu', String(opts.mtu)]);
      await ip(['link', 'set', opts.hostIfName, 'mtu', String(opts.mtu)]);
    }
    await inNs(['link', 'set', 'lo', 'up']);
    await inNs(['link', 'set', inside, 'up']);
    await ip(['link', 'set', opts.hostIfName, 'up']);
    await onHostEnd(opts.hostIfName);
  } catch (err) {
    await remove();
    throw err;
  }
  return { hostIfName: opts.hostIfName, containerIfName: inside, remove };
}

function ip(args: string[]): Promise<string> {
  return run('ip', args);
}

function run(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new StrataError(
          'UNAVAILABLE',
          e.code === 'ENOENT' ? `${tool} not found in PATH (iproute2, util-linux)` : e.message,
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new StrataError('UNAVAILABLE', `${tool} ${args.join(' ')} failed: ${err.trim() || `exit ${code}`}`));
    });
  });
}
