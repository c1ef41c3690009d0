import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StrataError } from '../../base/errors.js';
import {
  controlRequest,
  type FlowRow,
  type NetworkStatus,
  networkSummary,
  readRuntime,
} from '../../services/network/network-service.js';
import { type NetworkCreateInput, type NetworkSpec, normaliseSpec } from '../../services/network/network-store.js';
import type { ApiDeps } from '../api-deps.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, NameParams } from '../schema/common.js';
import { CreateNetwork, Network, NetworkFlows, NetworkState } from '../schema/networks.js';

/** How often a flow-table WebSocket reads the table again (it sends only when something besides age changed). */
const FLOWS_REFRESH_MS = 1000;

type Named = FastifyRequest<{ Params: { name: string } }>;

/** Fields of a network definition, in the order their validation depends on each other. */
const NETWORK_FIELDS = ['name', 'subnet', 'gateway', 'vlan', 'router', 'openflow'] as const;

/**
 * Routes of `/1.0/networks`: list, show, create, delete (refused while an instance uses the network), the flow
 * table and the live state (ports with counters, DHCP leases) of a served network.
 */
export function networkRoutes(deps: ApiDeps): ApiRoute[] {
  const store = deps.networks;
  const view = async (spec: NetworkSpec): Promise<Network> => {
    return {
      ...networkSummary(spec, (await readRuntime(store.runDir, spec.name)) ?? null),
      usedBy: (await deps.instances.listAll())
        .filter((i) => i.network === spec.name)
        .map((i) => `/1.0/instances/${i.name}`),
    };
  };
  const stateOf = async (name: string): Promise<NetworkState> => {
    await store.get(name);
    const runtime = await readRuntime(store.runDir, name);
    const idle: NetworkState = { network: name, running: false, runtime: null, ports: [], leases: [] };
    if (!runtime) return idle;
    let status: NetworkStatus;
    try {
      status = await controlRequest<NetworkStatus>(store.runDir, name, { op: 'status' });
    } catch (err) {
      // The network stopped between the runtime check and the request.
      if (err instanceof StrataError && (err.code === 'NOT_FOUND' || err.code === 'UNAVAILABLE')) return idle;
      throw err;
    }
    return { network: name, running: true, runtime, ports: status.ports, leases: status.leases };
  };
  const flowsOf = async (name: string): Promise<NetworkFlows> => {
    await store.get(name);
    const runtime = await readRuntime(store.runDir, name);
    const idle: NetworkFlows = { network: name, running: false, openflow: null, datapathId: null, flows: [] };
    if (!runtime) return idle;
    let rows: FlowRow[];
    try {
      rows = await controlRequest<FlowRow[]>(store.runDir, name, { op: 'flows' });
    } catch (err) {
      // The network stopped between the runtime check and the request.
      if (err instanceof StrataError && (err.code === 'NOT_FOUND' || err.code === 'UNAVAILABLE')) return idle;
      throw err;
    }
    return { network: name, running: true, openflow: runtime.openflow, datapathId: runtime.datapathId, flows: rows };
  };
  return [
    {
      method: 'GET',
      url: '/1.0/networks',
      operationId: 'listNetworks',
      summary: 'List networks',
      tag: 'networks',
      responses: { 200: Type.Array(Network) },
      handler: async () => Promise.all((await store.list()).map(view)),
    },
    {
      method: 'POST',
      url: '/1.0/networks',
      operationId: 'createNetwork',
      summary: 'Create a network (it starts on demand when an instance joins it)',
      tag: 'networks',
      body: CreateNetwork,
      responses: { 201: Network, 400: ErrorBody, 409: ErrorBody },
      handler: async (req, reply: FastifyReply) => {
        const b = req.body as CreateNetwork;
        if (b.router !== undefined) {
          // A running router serves the networks it had when it started: a new member could not join it.
          for (const other of (await store.list()).filter((n) => n.router === b.router)) {
            const rt = await readRuntime(store.runDir, other.name);
            if (rt) {
              throw new StrataError(
                'CONFLICT',
                `router '${b.router}' is running (network '${other.name}', pid ${rt.pid}): stop its VMs before adding a network to it`,
              );
            }
          }
        }
        let spec: NetworkSpec;
        try {
          spec = await store.create({
            name: b.name,
            dhcp: b.dhcp ?? false,
            nat: b.nat ?? false,
            ...(b.subnet !== undefined ? { subnet: b.subnet } : {}),
            ...(b.gateway !== undefined ? { gateway: b.gateway } : {}),
            ...(b.vlan !== undefined ? { vlan: b.vlan } : {}),
            ...(b.router !== undefined ? { router: b.router } : {}),
            ...(b.openflow !== undefined ? { openflow: b.openflow } : {}),
          });
        } catch (err) {
          throw namingField(err, b);
        }
        reply.code(201);
        return view(spec);
      },
    },
    {
      method: 'GET',
      url: '/1.0/networks/:name',
      operationId: 'getNetwork',
      summary: 'Show a network',
      tag: 'networks',
      params: NameParams,
      responses: { 200: Network, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => view(await store.get((req as Named).params.name)),
    },
    {
      method: 'GET',
      url: '/1.0/networks/:name/flows',
      operationId: 'getNetworkFlows',
      summary:
        "The OpenFlow flow table of the network's switch (table, priority, match, actions, counters, cookie); empty while no process serves the network. Over WebSocket: the table as JSON text frames, again whenever it changes",
      tag: 'networks',
      params: NameParams,
      responses: { 200: NetworkFlows, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => flowsOf((req as Named).params.name),
      websocket: {
        description: 'the flow table (NetworkFlows as JSON) at once and after each change',
        handler: (socket, req) => {
          const name = (req as Named).params.name;
          let last = '';
          let closed = false;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const tick = async () => {
            try {
              const table = await flowsOf(name);
              // Ages tick every second; a change is anything else (a flow, a counter, the switch starting).
              const key = JSON.stringify({ ...table, flows: table.flows.map((f) => ({ ...f, durationS: 0 })) });
              if (key !== last && socket.readyState === socket.OPEN) {
                last = key;
                socket.send(JSON.stringify(table));
              }
            } catch (err) {
              socket.close(4404, (err instanceof Error ? err.message : String(err)).slice(0, 120));
              return;
            }
            if (!closed) timer = setTimeout(() => void tick(), FLOWS_REFRESH_MS);
          };
          socket.on('close', () => {
            closed = true;
            clearTimeout(timer);
          });
          void tick();
        },
      },
    },
    {
      method: 'GET',
      url: '/1.0/networks/:name/state',
      operationId: 'getNetworkState',
      summary:
        "The live state of a network: its serving process, the switch's ports with counters and the router's DHCP leases (empty while no process serves it)",
      tag: 'networks',
      params: NameParams,
      responses: { 200: NetworkState, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => stateOf((req as Named).params.name),
    },
    {
      method: 'DELETE',
      url: '/1.0/networks/:name',
      operationId: 'deleteNetwork',
      summary: 'Delete a network no instance uses and no switch serves',
      tag: 'networks',
      params: NameParams,
      responses: { 200: Type.Object({}), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const name = (req as Named).params.name;
        const spec = await store.get(name);
        const users = (await deps.instances.listAll()).filter((i) => i.network === spec.name);
        if (users.length > 0) {
          throw new StrataError(
            'CONFLICT',
            `network '${name}' is used by instance(s) ${users.map((u) => u.name).join(', ')}: delete them first`,
          );
        }
        const runtime = await readRuntime(store.runDir, name);
        if (runtime) {
          throw new StrataError('CONFLICT', `network '${name}' is running (pid ${runtime.pid}): stop its NICs first`);
        }
        await store.delete(name);
        return {};
      },
    },
  ];
}

/**
 * Makes an INVALID_ARGUMENT of the network store name its field. The store words its messages for the CLI, so the
 * field is found by validating the definition one field at a time, in the order the fields depend on each other: the
 * first field whose addition fails is the bad one (a setting that needs a subnet names `subnet`).
 */
function namingField(err: unknown, body: CreateNetwork): unknown {
  if (!(err instanceof StrataError) || err.code !== 'INVALID_ARGUMENT') return err;
  let partial: NetworkCreateInput = { name: body.name, dhcp: false, nat: false };
  let field = 'body';
  for (const f of NETWORK_FIELDS) {
    if (f !== 'name' && body[f] === undefined) continue;
    partial = { ...partial, [f]: body[f] };
    try {
      normaliseSpec(partial);
    } catch (e) {
      field = f;
      if (e instanceof StrataError && /need.*--subnet/.test(e.message)) field = 'subnet';
      break;
    }
  }
  if (field === 'body' && (body.dhcp || body.nat)) field = 'subnet';
  return new StrataError('INVALID_ARGUMENT', `invalid ${field}: ${err.message}`);
}
