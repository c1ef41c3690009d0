/**
 * A whole virtual network in one process: its switch (with an optional OpenFlow agent), the router interface
 * that gives it DHCP, DNS and NAT to the host, and the Unix-socket endpoint through which other processes'
 * guests attach. This is what `strata network serve NAME` (and later the daemon) runs; `attachNetwork` is what a
 * `strata run` in another process uses to join.
 */

import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { OpenFlowAgent } from './openflow/agent.js';
import { type DnsUpstream, systemResolver } from './router/dns-forwarder.js';
import { type Cidr, cidrToString, parseCidr, subnetsOverlap } from './router/ipv4.js';
import { VirtualRouter } from './router/router.js';
import { connectSwitchEndpoint, type EndpointClient, SwitchEndpointServer } from './switch-endpoint.js';
import { VirtualSwitch } from './virtual-switch.js';

/** A network as configured. */
export interface NetworkDefinition {
  /** Name: letters, digits, '-', '_' (at most 32). */
  name: string;
  /** The router's address with the prefix, e.g. 10.0.2.1/24; omit for a plain switched network without router. */
  subnet?: string;
  /** DHCP pool; default the upper part of the subnet; false for none. */
  dhcp?: { start: string; end: string; leaseSeconds?: number } | false;
  /** OpenFlow controller target (`ptcp:PORT[:ADDR]` or `tcp:ADDR:PORT`); none by default. */
  openflow?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** Longest Unix socket path (sun_path is 108 bytes on Linux, including the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Validates a set of network definitions: names well-formed and unique, subnets well-formed and not overlapping
 * (INVALID_ARGUMENT, ALREADY_EXISTS or CONFLICT, naming the values).
 */
export function checkNetworks(defs: NetworkDefinition[]): void {
  const seen = new Map<string, Cidr | undefined>();
  for (const d of defs) {
    if (!NAME_RE.test(d.name)) throw new StrataError('INVALID_ARGUMENT', `bad network name '${d.name}'`);
    if (seen.has(d.name)) throw new StrataError('ALREADY_EXISTS', `network '${d.name}' is defined twice`);
    const c = d.subnet === undefined ? undefined : parseCidr(d.subnet);
    if (c) {
      for (const [other, oc] of seen) {
        if (oc && subnetsOverlap(oc, c))
          throw new StrataError(
            'CONFLICT',
            `subnet ${d.subnet} of network '${d.name}' overlaps ${cidrToString(oc)} of network '${other}'`,
          );
      }
    }
    seen.set(d.name, c);
  }
}

/** Where the endpoint socket of network `name` lives under `runDir`. */
export function endpointPath(runDir: string, name: string): string {
  if (!NAME_RE.test(name)) throw new StrataError('INVALID_ARGUMENT', `bad network name '${name}'`);
  const p = join(runDir, `net-${name}.sock`);
  if (Buffer.byteLength(p) > MAX_SOCKET_PATH)
    throw new StrataError('INVALID_ARGUMENT', `socket path for network '${name}' is too long for a Unix socket: ${p}`);
  return p;
}

/** Options of `serveNetwork`. */
export interface ServeOptions {
  /** Directory of the endpoint sockets. */
  runDir: string;
  /** DNS upstream for the router (default: the host's first IPv4 nameserver, if any). */
  dnsUpstream?: DnsUpstream | null;
  /** Host address of NAT (default 127.0.0.1). */
  natHostAddress?: string;
}

/** A running network. */
export class NetworkHost {
  constructor(
    readonly definition: NetworkDefinition,
    readonly sw: VirtualSwitch,
    readonly endpoint: SwitchEndpointServer,
    readonly router: VirtualRouter | undefined,
    readonly agent: OpenFlowAgent | undefined,
    /** Bound OpenFlow port (ptcp) or the controller's port (tcp). */
    readonly openflowPort: number | undefined,
  ) {}

  /** Stops serving: detaches every client, stops the agent and router, removes the socket. */
  async close(): Promise<void> {
    await this.endpoint.close();
    await this.agent?.close();
    this.router?.close();
    this.sw.close();
  }
}

/** Starts network `def`: switch, router, agent and endpoint. A network already served is ALREADY_EXISTS. */
export async function serveNetwork(def: NetworkDefinition, opts: ServeOptions): Promise<NetworkHost> {
  checkNetworks([def]);
  const path = endpointPath(opts.runDir, def.name);
  const sw = new VirtualSwitch({ name: def.name });
  let router: VirtualRouter | undefined;
  let agent: OpenFlowAgent | undefined;
  let ofPort: number | undefined;
  try {
    if (def.subnet) {
      const dns = opts.dnsUpstream === null ? undefined : (opts.dnsUpstream ?? systemResolver());
      router = new VirtualRouter({ dnsUpstream: dns, natHostAddress: opts.natHostAddress });
      router.addInterface({ name: 'router', switch: sw, address: def.subnet, dhcp: def.dhcp });
    }
    if (def.openflow) {
      agent = new OpenFlowAgent(sw);
      ofPort = await agent.start(def.openflow);
    }
    const endpoint = await SwitchEndpointServer.listen(path, sw, { network: def.name });
    return new NetworkHost(def, sw, endpoint, router, agent, ofPort);
  } catch (e) {
    await agent?.close();
    router?.close();
    sw.close();
    throw e;
  }
}

/**
 * Attaches a guest NIC in this process to network `name` served by another process (or this one).
 * An unknown network (no definition, or nobody serving it) is a NOT_FOUND error naming it.
 */
export async function attachNetwork(
  runDir: string,
  name: string,
  portName: string,
  known?: readonly string[],
): Promise<EndpointClient> {
  if (known && !known.includes(name))
    throw new StrataError(
      'NOT_FOUND',
      `unknown network '${name}'${known.length ? ` (known: ${known.join(', ')})` : ''}`,
    );
  return connectSwitchEndpoint(endpointPath(runDir, name), { network: name, name: portName });
}
