import { StrataError } from '../../base/errors.js';
import { parseMac } from '../../services/network/ethernet.js';
import { checkNetworkName, parseVlanId } from '../../services/network/network-store.js';

/** One `--nic network=NAME[,mac=MAC][,vlan=N][,port=NAME]` of `strata run`. */
export interface NicOption {
  network: string;
  /** The guest's MAC (6 bytes); absent: a random locally administered one. */
  mac?: Uint8Array;
  /** Access VLAN of this NIC's switch port, overriding the network's. */
  vlan?: number;
  /** Name of the switch port (for `strata network capture --port`); default derived from the process id. */
  port?: string;
}

const PORT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/**
 * Parses one `--nic` value: comma-separated `key=value` settings, `network=` required. Throws INVALID_ARGUMENT
 * naming the bad part (an unknown network is found later, when the store is read).
 */
export function parseNicOption(value: string): NicOption {
  const nic: Partial<NicOption> = {};
  for (const s of value.split(',')) {
    const eq = s.indexOf('=');
    const key = eq < 0 ? s : s.slice(0, eq);
    const v = eq < 0 ? '' : s.slice(eq + 1);
    if (key === 'network' && v) {
      checkNetworkName(v);
      nic.network = v;
    } else if (key === 'mac') {
      const m = parseMac(v);
      const bytes = m === undefined ? undefined : Uint8Array.from(v.split(/[:-]/), (x) => Number.parseInt(x, 16));
      // IEEE 802 clause 8.2: the group bit (LSB of the first octet) set is a multicast address, never a NIC's.
      if (bytes?.length !== 6 || (bytes[0]! & 1) === 1 || bytes.every((b) => b === 0)) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `invalid MAC address '${v}' in --nic '${value}': use six hex pairs like 52:54:00:12:34:56, unicast`,
        );
      }
      nic.mac = bytes;
    } else if (key === 'vlan') {
      nic.vlan = parseVlanId(v);
    } else if (key === 'port' && PORT_NAME_RE.test(v)) {
      nic.port = v;
    } else {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `invalid --nic '${value}': unknown or bad setting '${s}' (use network=NAME[,mac=MAC][,vlan=N][,port=NAME])`,
      );
    }
  }
  if (!nic.network) {
    throw new StrataError('INVALID_ARGUMENT', `invalid --nic '${value}': network=NAME is required`);
  }
  return nic as NicOption;
}

/** Commander collector for a repeatable `--nic`. */
export function collectNicOption(value: string, previous: NicOption[] | undefined): NicOption[] {
  return [...(previous ?? []), parseNicOption(value)];
}
