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
