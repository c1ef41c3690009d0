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

/** POST /1.0/storage-pools: a directory pool. */
export const CreateStoragePool = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    type: Type.Optional(Type.Literal('dir', { description: 'driver kind (default dir)' })),
    path: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'keep the volumes in this directory of the daemon host (default: inside the pool registry)',
      }),
    ),
  },
  { $id: 'CreateStoragePool', additionalProperties: false },
);
/** A pool create request. */
export type CreateStoragePool = Static<typeof CreateStoragePool>;

/** PATCH /1.0/storage-pools/{pool}/volumes/{name}: a new (larger) virtual size. */
export const ResizeVolume = Type.Object(
  {
    size: Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 1 })], {
      description: 'bytes, or a size like 20G; a leading + grows by that much',
    }),
  },
  { $id: 'ResizeVolume', additionalProperties: false },
);
/** A resize request. */
export type ResizeVolume = Static<typeof ResizeVolume>;

/** POST /1.0/storage-pools/{pool}/volumes/{name}/clone: a thin qcow2 overlay on the volume, in the same pool. */
export const CloneVolume = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64, description: 'the new volume' }) },
  { $id: 'CloneVolume', additionalProperties: false },
);
/** A clone request. */
export type CloneVolume = Static<typeof CloneVolume>;

/** POST /1.0/storage-pools/{pool}/volumes/{name}/export: a standalone image file of the volume (an operation). */
export const ExportVolume = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')], { description: 'default qcow2' })),
    compress: Type.Optional(Type.Boolean({ description: 'qcow2 only: clusters stored compressed' })),
  },
  { $id: 'ExportVolume', additionalProperties: false },
);
/** An export request. */
export type ExportVolume = Static<typeof ExportVolume>;

/** Query of POST /1.0/storage-pools/{pool}/volumes/{name}/import: how the volume is stored, what the body is. */
export const ImportVolumeQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')], { description: 'default qcow2' })),
    sourceFormat: Type.Optional(
      Type.Union([Type.Literal('qcow2'), Type.Literal('raw')], { description: "the body's format (default: probed)" }),
    ),
  },
  { additionalProperties: false },
);
/** An import query. */
export type ImportVolumeQuery = Static<typeof ImportVolumeQuery>;

/** Path parameter: a pool name. */
export const PoolParams = Type.Object({ pool: Type.String({ minLength: 1, maxLength: 128 }) });
/** Path parameters: a pool and a volume name. */
export const VolumeParams = Type.Object({
  pool: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.String({ minLength: 1, maxLength: 128 }),
});

/** An internal snapshot of a qcow2 volume. */
export const VolumeSnapshot = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    createdAt: Type.String(),
    diskSizeBytes: Type.Integer({
      minimum: 0,
      description: 'the volume size when it was taken (a revert restores it)',
    }),
  },
  { $id: 'VolumeSnapshot', additionalProperties: false },
);
/** A volume snapshot. */
export type VolumeSnapshot = Static<typeof VolumeSnapshot>;

/** POST /1.0/storage-pools/{pool}/volumes/{name}/snapshots. */
export const CreateVolumeSnapshot = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }) },
  { $id: 'CreateVolumeSnapshot', additionalProperties: false },
);
/** A snapshot request. */
export type CreateVolumeSnapshot = Static<typeof CreateVolumeSnapshot>;

/** POST /1.0/storage-pools/{pool}/volumes/{name}/copy: a full, standalone copy in the same pool (an operation). */
export const CopyVolume = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, description: 'the new volume' }),
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')])),
  },
  { $id: 'CopyVolume', additionalProperties: false },
);
/** A copy request. */
export type CopyVolume = Static<typeof CopyVolume>;

/** Path parameters: a pool, a volume and a snapshot. */
export const SnapshotParams = Type.Object({
  pool: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.String({ minLength: 1, maxLength: 128 }),
  snapshot: Type.String({ minLength: 1, maxLength: 128 }),
});
