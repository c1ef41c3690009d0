import { type Static, Type } from '@sinclair/typebox';

/** The OpenFlow agent of a served switch: a listener (`ptcp`, with its bound port) or a connection (`tcp`). */
export const NetworkOpenflowEndpoint = Type.Object(
  {
    mode: Type.Union([Type.Literal('ptcp'), Type.Literal('tcp')]),
    host: Type.String(),
    port: Type.Integer(),
  },
  { additionalProperties: false },
);

/** The process serving a network now: its pid, sockets, OpenFlow endpoint and datapath id. */
export const NetworkRuntime = Type.Object(
  {
    network: Type.String(),
    pid: Type.Integer(),
    socket: Type.String({ description: 'the switch endpoint socket on the daemon host' }),
    control: Type.String({ description: 'the control socket on the daemon host' }),
    openflow: NetworkOpenflowEndpoint,
    datapathId: Type.String({ description: 'OpenFlow datapath id, 16 hexadecimal digits' }),
    startedAt: Type.String(),
  },
  { $id: 'NetworkRuntime', additionalProperties: false },
);
/** A network's serving process. */
export type NetworkRuntime = Static<typeof NetworkRuntime>;

/** A network as the API shows it: its definition, whether it is served, and the instances using it. */
export const Network = Type.Object(
  {
    name: Type.String(),
    subnet: Type.Union([Type.String(), Type.Null()]),
    gateway: Type.Union([Type.String(), Type.Null()]),
    vlan: Type.Union([Type.Integer({ minimum: 1, maximum: 4094 }), Type.Null()]),
    dhcp: Type.Boolean(),
    nat: Type.Boolean(),
    router: Type.Union([Type.String(), Type.Null()]),
    openflow: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    running: Type.Boolean({ description: 'a switch process serves it now' }),
    runtime: Type.Union([NetworkRuntime, Type.Null()], { description: 'the serving process; null while stopped' }),
    usedBy: Type.Array(Type.String(), { description: 'API paths of the instances attached to it' }),
  },
  { $id: 'Network', additionalProperties: false },
);
/** A network. */
export type Network = Static<typeof Network>;

/** POST /1.0/networks: a network definition. */
export const CreateNetwork = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    subnet: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. 10.0.1.0/24' })),
    gateway: Type.Optional(Type.String({ maxLength: 64 })),
    vlan: Type.Optional(Type.Integer()),
    dhcp: Type.Optional(Type.Boolean()),
    nat: Type.Optional(Type.Boolean()),
    router: Type.Optional(Type.String({ maxLength: 64 })),
    openflow: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { $id: 'CreateNetwork', additionalProperties: false },
);
/** A network create request. */
export type CreateNetwork = Static<typeof CreateNetwork>;

/** One entry of a switch's OpenFlow flow table, as `strata network flows` shows it. */
export const NetworkFlow = Type.Object(
  {
    table: Type.Integer({ minimum: 0 }),
    priority: Type.Integer({ minimum: 0 }),
    match: Type.String({ description: 'ovs-ofctl syntax; empty: every packet' }),
    actions: Type.String(),
    cookie: Type.String({ description: 'hexadecimal' }),
    packets: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    durationS: Type.Number({ minimum: 0 }),
    idleTimeout: Type.Integer({ minimum: 0 }),
    hardTimeout: Type.Integer({ minimum: 0 }),
  },
  { $id: 'NetworkFlow', additionalProperties: false },
);
/** A flow entry. */
export type NetworkFlow = Static<typeof NetworkFlow>;

/** GET /1.0/networks/{name}/flows: the flow table of the network's switch while a process serves it. */
export const NetworkFlows = Type.Object(
  {
    network: Type.String(),
    running: Type.Boolean({ description: 'false: no process serves the network now, so there is no flow table' }),
    openflow: Type.Union([NetworkOpenflowEndpoint, Type.Null()]),
    datapathId: Type.Union([Type.String(), Type.Null()]),
    flows: Type.Array(NetworkFlow),
  },
  { $id: 'NetworkFlows', additionalProperties: false },
);
/** A flow table. */
export type NetworkFlows = Static<typeof NetworkFlows>;

/** How a switch port carries VLANs: an access port of one VLAN, or a trunk. */
export const PortVlan = Type.Union([
  Type.Object({ mode: Type.Literal('access'), vlan: Type.Integer() }, { additionalProperties: false }),
  Type.Object(
    {
      mode: Type.Literal('trunk'),
      allowed: Type.Optional(Type.Array(Type.Integer())),
      native: Type.Optional(Type.Integer()),
    },
    { additionalProperties: false },
  ),
]);

/** One port of a served switch with its counters. */
export const NetworkPort = Type.Object(
  {
    no: Type.Integer({ minimum: 0 }),
    name: Type.String(),
    vlan: PortVlan,
    counters: Type.Object(
      {
        rxPackets: Type.Integer({ minimum: 0 }),
        rxBytes: Type.Integer({ minimum: 0 }),
        rxDropped: Type.Integer({ minimum: 0 }),
        rxErrors: Type.Integer({ minimum: 0 }),
        rxRunts: Type.Integer({ minimum: 0 }),
        rxOversize: Type.Integer({ minimum: 0 }),
        txPackets: Type.Integer({ minimum: 0 }),
        txBytes: Type.Integer({ minimum: 0 }),
        txDropped: Type.Integer({ minimum: 0 }),
        txErrors: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'NetworkPort', additionalProperties: false },
);
/** A switch port. */
export type NetworkPort = Static<typeof NetworkPort>;

/** A DHCP lease of a network's router. */
export const NetworkLease = Type.Object(
  {
    ip: Type.String(),
    mac: Type.String(),
    state: Type.String(),
    hostname: Type.Optional(Type.String()),
  },
  { $id: 'NetworkLease', additionalProperties: false },
);
/** A DHCP lease. */
export type NetworkLease = Static<typeof NetworkLease>;

/** GET /1.0/networks/{name}/state: the switch's ports with counters and the router's leases while served. */
export const NetworkState = Type.Object(
  {
    network: Type.String(),
    running: Type.Boolean({ description: 'false: no process serves the network now (no ports, no leases)' }),
    runtime: Type.Union([NetworkRuntime, Type.Null()]),
    ports: Type.Array(NetworkPort),
    leases: Type.Array(NetworkLease),
  },
  { $id: 'NetworkState', additionalProperties: false },
);
/** A network's live state. */
export type NetworkState = Static<typeof NetworkState>;
