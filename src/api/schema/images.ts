import { type Static, Type } from '@sinclair/typebox';

/** An image in the store. */
export const Image = Type.Object(
  {
    name: Type.String(),
    type: Type.Union([Type.Literal('vm'), Type.Literal('container')], {
      description: 'vm: a kernel and initrd to boot; container: a root file system for containers',
    }),
    arch: Type.String(),
    distribution: Type.String(),
    release: Type.String(),
    kernelVersion: Type.String(),
    sizeBytes: Type.Integer({ minimum: 0 }),
    createdAt: Type.String(),
  },
  { $id: 'Image', additionalProperties: false },
);
/** An image. */
export type Image = Static<typeof Image>;

/** POST /1.0/images: pull an image by source name. */
export const PullImage = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 64, description: 'what to pull: debian' }),
    mirror: Type.Optional(Type.String({ maxLength: 512 })),
    type: Type.Optional(
      Type.Union([Type.Literal('vm'), Type.Literal('container')], {
        description: 'vm (default), or container: busybox or debian root file systems for system containers',
      }),
    ),
  },
  { $id: 'PullImage', additionalProperties: false },
);
/** A pull request. */
export type PullImage = Static<typeof PullImage>;
