/**
 * Networks as objects: their definitions, kept as one JSON file each under `$STRATA_HOME/networks/`, written
 * atomically (a temporary file linked into place, so a reader never sees half a file and two creators of one name
 * cannot both win). Validation names the bad value: names are a safe file-name alphabet (no path traversal),
 * subnets must not overlap another network's, VLAN ids are 1..4094, OpenFlow targets parse.
 */

import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { parseControllerTarget } from './openflow/agent.js';
import { cidrToString, ipToString, networkOf, parseCidr, subnetsOverlap } from './router/ipv4.js';

/** A network definition as stored. */
export interface NetworkSpec {
  /** Letters, digits, '-' and '_', starting with a letter or digit, at most 32. */
  name: string;
  /** The subnet, e.g. 10.0.1.0/24 (network address and prefix); absent for a plain switched network. */
  subnet?: string;
  /** The router's (gateway's) address on the subnet; default the first host address. */
  gateway?: string;
  /** Access VLAN of the network's ports (and its router) on its switch; default 1. */
  vlan?: number;
  /** The router hands out addresses by DHCP. */
  dhcp: boolean;
  /** Guests reach TCP/UDP services of the host's loopback through the gateway address, and DNS is forwarded. */
  nat: boolean;
  /**
   * Networks naming the same router share it: one process serves them, and its router forwards between their
   * subnets. Default: a router of its own.
   */
  router?: string;
  /** OpenFlow controller target (`ptcp:PORT[:ADDR]` or `tcp:ADDR[:PORT]`); default a listener on 127.0.0.1. */
  openflow?: string;
  /** ISO time of creation. */
  createdAt: string;
}

/** What `create` takes: a spec without its creation time. */
export type NetworkCreateInput = Omit<NetworkSpec, 'createdAt'>;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Throws INVALID_ARGUMENT unless `name` is a valid network (or router) name; `what` names the kind. */
export function checkNetworkName(name: string, what = 'network'): void {
  if (!NAME_RE.test(name)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid ${what} name '${name}': use 1-32 letters, digits, '-' or '_', starting with a letter or digit`,
    );
  }
}

/** Parses a VLAN id (1..4094, IEEE 802.1Q); INVALID_ARGUMENT names the value. */
export function parseVlanId(text: string | number): number {
  const n = typeof text === 'number' ? text : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 4094) {
    throw new StrataError('INVALID_ARGUMENT', `invalid VLAN id '${text}': must be a whole number from 1 to 4094`);
  }
  return n;
}

/** The router address and prefix of a spec with a subnet, e.g. 10.0.1.1/24. */
export function gatewayCidr(spec: Pick<NetworkSpec, 'subnet' | 'gateway' | 'name'>): string | undefined {
  if (!spec.subnet) return undefined;
  const c = parseCidr(spec.subnet);
  return `${spec.gateway ?? ipToString(networkOf(c) + 1)}/${c.prefix}`;
}

/** Validates and normalises a definition (subnet to its network address); throws naming the bad value. */
export function normaliseSpec(input: NetworkCreateInput): NetworkCreateInput {
  checkNetworkName(input.name);
  const out: NetworkCreateInput = { name: input.name, dhcp: input.dhcp, nat: input.nat };
  if (input.subnet !== undefined) {
    const c = parseCidr(input.subnet);
    out.subnet = cidrToString({ ip: networkOf(c), prefix: c.prefix });
    const gw = input.gateway ?? (c.ip !== networkOf(c) ? ipToString(c.ip) : undefined);
    if (gw !== undefined) {
      const g = parseCidr(`${gw}/${c.prefix}`);
      const bcast = (networkOf(c) | (~0 >>> c.prefix)) >>> 0;
      if (networkOf(g) !== networkOf(c) || g.ip === networkOf(c) || g.ip === bcast) {
        throw new StrataError('INVALID_ARGUMENT', `invalid gateway '${gw}': not a host address of ${out.subnet}`);
      }
      out.gateway = gw;
    }
  } else if (input.dhcp || input.nat || input.gateway) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `network '${input.name}': --dhcp, --nat and a gateway need --subnet (a router lives on a subnet)`,
    );
  }
  if (input.vlan !== undefined) out.vlan = parseVlanId(input.vlan);
  if (input.router !== undefined) {
    checkNetworkName(input.router, 'router');
    if (input.subnet === undefined) {
      throw new StrataError('INVALID_ARGUMENT', `network '${input.name}': --router needs --subnet`);
    }
    out.router = input.router;
  }
  if (input.openflow !== undefined) {
    parseControllerTarget(input.openflow);
    out.openflow = input.openflow;
  }
  return out;
}

/** The network definitions of one Strata home. */
export class NetworkStore {
  /** Where definitions live. */
  readonly dir: string;
  /** Where sockets and pid files of running networks live. */
  readonly runDir: string;

  constructor(readonly home: string) {
    this.dir = join(home, 'networks');
    this.runDir = join(home, 'run');
  }

  /** Every definition, by name. */
  async list(): Promise<NetworkSpec[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: NetworkSpec[] = [];
    for (const f of names.sort()) {
      if (!f.endsWith('.json') || !NAME_RE.test(f.slice(0, -5))) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, f), 'utf8')) as NetworkSpec);
      } catch {
        // A file removed between readdir and read, or not ours: skip it.
      }
    }
    return out;
  }

  /** The definition of `name`; NOT_FOUND names it and lists the known ones. */
  async get(name: string): Promise<NetworkSpec> {
    checkNetworkName(name);
    try {
      return JSON.parse(await readFile(this.file(name), 'utf8')) as NetworkSpec;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const known = (await this.list()).map((n) => n.name);
    throw new StrataError(
      'NOT_FOUND',
      `unknown network '${name}'${known.length ? ` (known: ${known.join(', ')})` : ' (no network is defined)'}`,
    );
  }

  /**
   * Creates a network: validates it, refuses a name in use (ALREADY_EXISTS) and a subnet overlapping another
   * network's (CONFLICT, naming both), then writes it atomically.
   */
  async create(input: NetworkCreateInput): Promise<NetworkSpec> {
    const spec: NetworkSpec = { ...normaliseSpec(input), createdAt: new Date().toISOString() };
    const others = await this.list();
    if (others.some((o) => o.name === spec.name)) {
      throw new StrataError('ALREADY_EXISTS', `network '${spec.name}' already exists`);
    }
    if (spec.subnet) {
      const mine = parseCidr(spec.subnet);
      for (const o of others) {
        if (o.subnet && subnetsOverlap(mine, parseCidr(o.subnet))) {
          throw new StrataError('CONFLICT', `subnet ${spec.subnet} overlaps ${o.subnet} of network '${o.name}'`);
        }
      }
    }
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${spec.name}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644 });
    try {
      await link(tmp, this.file(spec.name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StrataError('ALREADY_EXISTS', `network '${spec.name}' already exists`);
      }
      throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    return spec;
  }

  /** Removes the definition of `name` (NOT_FOUND when there is none). */
  async delete(name: string): Promise<void> {
    await this.get(name);
    await unlink(this.file(name));
  }

  /** The networks served together with `name`: those sharing its router, or just itself. */
  async group(name: string): Promise<NetworkSpec[]> {
    const spec = await this.get(name);
    if (!spec.router) return [spec];
    return (await this.list()).filter((n) => n.router === spec.router);
  }

  private file(name: string): string {
    return join(this.dir, `${name}.json`);
  }
}
