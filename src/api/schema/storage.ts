import { type Static, Type } from '@sinclair/typebox';

/** A storage pool with its figures. */
export const StoragePool = Type.Object(
  {
    name: Type.String(),
    type: Type.String({ description: 'driver kind: dir' }),
    path: Type.String(),
    createdAt: Type.String(),
    volumes: Type.Integer({ minimum: 0 }),
    allocationBytes: Type.Integer({ minimum: 0 }),
    availableBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  },
  { $id: 'StoragePool', additionalProperties: false },
);
/** A storage pool. */
export type StoragePool = Static<typeof StoragePool>;

/** A volume of a storage pool. */
export const StorageVolume = Type.Object(
  {
    pool: Type.String(),
    name: Type.String(),
    format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
    capacityBytes: Type.Integer({ minimum: 0 }),
    allocationBytes: Type.Integer({ minimum: 0 }),
    backing: Type.Union([Type.String(), Type.Null()]),
    dependents: Type.Array(Type.String()),
    snapshotCount: Type.Integer({ minimum: 0 }),
    users: Type.Array(Type.Object({ pid: Type.Integer(), mode: Type.Union([Type.Literal('rw'), Type.Literal('ro')]) })),
    createdAt: Type.String(),
    path: Type.String(),
  },
  { $id: 'StorageVolume', additionalProperties: false },
);
/** A storage volume. */
export type StorageVolume = Static<typeof StorageVolume>;

/** POST /1.0/storage-pools/{pool}/volumes: an empty volume. */
export const CreateVolume = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    size: Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 1 })], {
      description: 'bytes, or a size like 4G',
    }),
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')])),
  },
  { $id: 'CreateVolume', additionalProperties: false },
);
/** A volume create request. */
export type CreateVolume = Static<typeof CreateVolume>;

/** Path parameter: a pool name. */
export const PoolParams = Type.Object({ pool: Type.String({ minLength: 1, maxLength: 128 }) });
/** Path parameters: a pool and a volume name. */
export const VolumeParams = Type.Object({
  pool: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.String({ minLength: 1, maxLength: 128 }),
});
