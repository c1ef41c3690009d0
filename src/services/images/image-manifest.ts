/**
 * The manifest of a stored image (`manifest.json`): what the image is (name, arch, kernel version, the packages
 * it was built from) and the size and sha256 of every file. Parsed strictly: a damaged manifest is a
 * CorruptManifestError naming the file and the first bad field.
 */

import { StrataError } from '../../base/errors.js';

/** The manifest format version this code writes and reads. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** What a file of an image is for. */
export type ImageFileRole = 'kernel' | 'initrd' | 'firmware';

/** One file of an image, with the sha256 that `image list --format json` shows and a rebuild compares. */
export interface ImageFile {
  /** Path relative to the image folder. */
  path: string;
  role: ImageFileRole;
  sizeBytes: number;
  sha256: string;
}

/**
 * What an image boots as: `vm` (kernel, initrd, firmware for a virtual machine) or `container` (a root file
 * system folder for system containers run by runc, built by `container-image.ts`).
 */
export type ImageType = 'vm' | 'container';

/** The type of an image: its manifest's `type`, `vm` when absent. */
export function imageTypeOf(manifest: Pick<ImageManifest, 'type'>): ImageType {
  return manifest.type ?? 'vm';
}

/** The manifest of an image (`manifest.json`). */
export interface ImageManifest {
  schemaVersion: number;
  /** Absent in manifests written before container images existed: those are `vm` images. */
  type?: ImageType;
  /** Container images: the root file system folder, relative to the image folder (`rootfs`). */
  rootfs?: string;
  name: string;
  arch: string;
  distribution: string;
  release: string;
  /** VM images: the kernel's version; container images: empty (they run the host's kernel). */
  kernelVersion: string;
  /** The kernel command line the image expects (console first); empty for container images. */
  kernelCmdline: string;
  /** Source package name to the exact Debian version the image was built from. */
  packages: Record<string, string>;
  /** The mirror the packages came from. */
  mirror: string;
  files: ImageFile[];
  /** ISO 8601 UTC time the image was built. */
  createdAt: string;
  /** The version of the recipe that built the image; a newer recipe rebuilds it even if no package changed. */
  builderVersion: number;
}

/** Throws INVALID_ARGUMENT unless `name` is a valid image name (lower-case letters, digits, `.`, `_`, `-`). */
export function checkImageName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid image name '${name}': use lower-case letters, digits, '.', '_', '-'`,
    );
  }
}

/** A manifest that exists but cannot be read as one: IO, naming the file and what is wrong with it. */
export class CorruptManifestError extends StrataError {
  constructor(
    /** The manifest file. */
    readonly path: string,
    why: string,
  ) {
    super('IO', `corrupt image manifest ${path}: ${why}`);
  }
}

/**
 * Validates parsed JSON as a manifest; throws IO naming `where` and the first bad field. Unknown fields are
 * kept out of the result.
 */
export function parseManifest(value: unknown, where: string): ImageManifest {
  const bad = (field: string) => new CorruptManifestError(where, `bad or missing '${field}'`);
  if (typeof value !== 'object' || value === null) throw bad('(root)');
  const v = value as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof v[k] !== 'string' || v[k] === '') throw bad(k);
    return v[k] as string;
  };
  if (v.schemaVersion !== MANIFEST_SCHEMA_VERSION) throw bad('schemaVersion');
  const type: ImageType = v.type === undefined ? 'vm' : (v.type as ImageType);
  if (type !== 'vm' && type !== 'container') throw bad('type');
  let rootfs: string | undefined;
  if (type === 'container') {
    if (typeof v.rootfs !== 'string' || v.rootfs === '' || v.rootfs.includes('..') || v.rootfs.startsWith('/')) {
      throw bad('rootfs');
    }
    rootfs = v.rootfs;
  }
  // Container images have no kernel: these two may be empty strings there.
  const kernelStr = (k: string): string => {
    if (type === 'container' && v[k] === '') return '';
    return str(k);
  };
  if (!Array.isArray(v.files)) throw bad('files');
  const files = v.files.map((f: unknown, i: number): ImageFile => {
    const o = f as Record<string, unknown>;
    const ok =
      typeof o === 'object' &&
      o !== null &&
      typeof o.path === 'string' &&
      !o.path.includes('..') &&
      (o.role === 'kernel' || o.role === 'initrd' || o.role === 'firmware') &&
      Number.isSafeInteger(o.sizeBytes) &&
      typeof o.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(o.sha256);
    if (!ok) throw bad(`files[${i}]`);
    return {
      path: o.path as string,
      role: o.role as ImageFileRole,
      sizeBytes: o.sizeBytes as number,
      sha256: o.sha256 as string,
    };
  });
  const packages = v.packages;
  if (typeof packages !== 'object' || packages === null || Object.values(packages).some((x) => typeof x !== 'string')) {
    throw bad('packages');
  }
  if (Number.isNaN(Date.parse(str('createdAt')))) throw bad('createdAt');
  // Manifests written before builderVersion existed read as version 0: listed, and rebuilt by the next pull.
  const builderVersion = v.builderVersion ?? 0;
  if (!Number.isSafeInteger(builderVersion)) throw bad('builderVersion');
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    // Kept only when written, so a VM manifest round-trips unchanged; read it with imageTypeOf.
    ...(v.type === undefined ? {} : { type }),
    ...(rootfs === undefined ? {} : { rootfs }),
    name: str('name'),
    arch: str('arch'),
    distribution: str('distribution'),
    release: str('release'),
    kernelVersion: kernelStr('kernelVersion'),
    kernelCmdline: kernelStr('kernelCmdline'),
    packages: { ...(packages as Record<string, string>) },
    mirror: str('mirror'),
    files,
    createdAt: str('createdAt'),
    builderVersion: builderVersion as number,
  };
}
