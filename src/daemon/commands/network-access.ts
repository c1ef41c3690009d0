import type { CreateNetwork, Network, NetworkFlows, NetworkState } from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import type { DaemonClient } from '../../cli/client.js';
import {
  controlRequest,
  type FlowRow,
  type NetworkRuntime,
  type NetworkStatus,
  type NetworkSummary,
  networkSummary,
  readRuntime,
} from '../../services/network/network-service.js';
import { type NetworkSpec, type NetworkStore, parseVlanId } from '../../services/network/network-store.js';

/**
 * A network as `strata network list|show --format json|yaml` prints it: the same fields whether the command acts
 * on the local home or through a daemon (the API's network without `usedBy`, which only the daemon knows).
 */
export type NetworkItem = NetworkSummary;

/** `strata network show`: the network with its ports and leases while it is served. */
export interface NetworkDetails extends NetworkItem {
  ports: NetworkStatus['ports'];
  leases: NetworkStatus['leases'];
}

/** What the network commands do, on the local home or through a daemon. */
export interface NetworkAccess {
  list(): Promise<NetworkItem[]>;
  show(name: string): Promise<NetworkDetails>;
  create(input: CreateNetwork): Promise<NetworkItem>;
  remove(name: string): Promise<void>;
  flows(name: string): Promise<FlowRow[]>;
}

/** The gateway with the subnet's prefix (`10.0.1.1/24`), as `create` and `show` print it. */
export function gatewayWithPrefix(n: Pick<NetworkItem, 'subnet' | 'gateway'>): string | null {
  if (!n.subnet || !n.gateway) return null;
  return `${n.gateway}/${n.subnet.split('/')[1]}`;
}

function itemOf(spec: NetworkSpec, runtime: NetworkRuntime | undefined): NetworkItem {
  return networkSummary(spec, runtime ?? null);
}

function itemFromApi(n: Network): NetworkItem {
  return {
    name: n.name,
    subnet: n.subnet,
    gateway: n.gateway,
    vlan: n.vlan,
    dhcp: n.dhcp,
    nat: n.nat,
    router: n.router,
    openflow: n.openflow,
    createdAt: n.createdAt,
    running: n.running,
    runtime: n.runtime,
  };
}

function notRunning(name: string): StrataError {
  return new StrataError('NOT_FOUND', `network '${name}' is not running (no NIC is attached to it)`);
}

/** The networks of the local `$STRATA_HOME`, read and written directly. */
export function localNetworks(store: NetworkStore): NetworkAccess {
  return {
    async list() {
      return Promise.all((await store.list()).map(async (s) => itemOf(s, await readRuntime(store.runDir, s.name))));
    },
    async show(name) {
      const spec = await store.get(name);
      const runtime = await readRuntime(store.runDir, name);
      let status: NetworkStatus | undefined;
      if (runtime) {
        status = await controlRequest<NetworkStatus>(store.runDir, name, { op: 'status' }).catch(() => undefined);
      }
      return {
        ...itemOf(spec, runtime),
        ports: status?.ports ?? [],
        leases: status?.leases ?? [],
      };
    },
    async create(input) {
      if (input.router !== undefined) {
        // A running router serves the networks it had when it started: a new member could not join it.
        for (const other of (await store.list()).filter((n) => n.router === input.router)) {
          const rt = await readRuntime(store.runDir, other.name);
          if (rt) {
            throw new StrataError(
              'CONFLICT',
              `router '${input.router}' is running (network '${other.name}', pid ${rt.pid}): stop its VMs before adding a network to it`,
            );
          }
        }
      }
      const spec = await store.create({
        name: input.name,
        ...(input.subnet !== undefined ? { subnet: input.subnet } : {}),
        ...(input.gateway !== undefined ? { gateway: input.gateway } : {}),
        ...(input.vlan !== undefined ? { vlan: input.vlan } : {}),
        dhcp: input.dhcp === true,
        nat: input.nat === true,
        ...(input.router !== undefined ? { router: input.router } : {}),
        ...(input.openflow !== undefined ? { openflow: input.openflow } : {}),
      });
      return itemOf(spec, undefined);
    },
    async remove(name) {
      await store.get(name);
      const runtime = await readRuntime(store.runDir, name);
      if (runtime) {
        throw new StrataError(
          'CONFLICT',
          `network '${name}' is running (pid ${runtime.pid}): stop the VMs attached to it first`,
        );
      }
      await store.delete(name);
    },
    async flows(name) {
      await store.get(name);
      return controlRequest<FlowRow[]>(store.runDir, name, { op: 'flows' });
    },
  };
}

const path = (name: string) => `/1.0/networks/${encodeURIComponent(name)}`;

/** The networks of the daemon the client talks to, through its API. */
export function remoteNetworks(client: DaemonClient): NetworkAccess {
  return {
    async list() {
      return (await client.call<Network[]>('GET', '/1.0/networks')).map(itemFromApi);
    },
    async show(name) {
      const [n, state] = await Promise.all([
        client.call<Network>('GET', path(name)),
        client.call<NetworkState>('GET', `${path(name)}/state`),
      ]);
      const runtime = state.runtime ?? n.runtime;
      return {
        ...itemFromApi({ ...n, running: runtime !== null, runtime }),
        ports: state.ports,
        leases: state.leases,
      };
    },
    async create(input) {
      return itemFromApi(await client.call<Network>('POST', '/1.0/networks', input));
    },
    async remove(name) {
      await client.call('DELETE', path(name));
    },
    async flows(name) {
      const table = await client.call<NetworkFlows>('GET', `${path(name)}/flows`);
      if (!table.running) throw notRunning(name);
      return table.flows;
    },
  };
}

/** A `--vlan` value as the API takes it (a usage error naming it when it is not a VLAN id). */
export function vlanOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseVlanId(text);
}
