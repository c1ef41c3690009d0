import { type Static, Type } from '@sinclair/typebox';

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
    openflow: Type.Union([
      Type.Object({
        mode: Type.Union([Type.Literal('ptcp'), Type.Literal('tcp')]),
        host: Type.String(),
        port: Type.Integer(),
      }),
      Type.Null(),
    ]),
    datapathId: Type.Union([Type.String(), Type.Null()]),
    flows: Type.Array(NetworkFlow),
  },
  { $id: 'NetworkFlows', additionalProperties: false },
);
/** A flow table. */
export type NetworkFlows = Static<typeof NetworkFlows>;
