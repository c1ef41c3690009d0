import { StrataError } from '../../../base/errors.js';

/** How a volume's data is stored. */
export type VolumeFormat = 'qcow2' | 'raw';

/** A process that has a volume open, from its lock file. */
export interface VolumeUser {
  pid: number;
  mode: 'rw' | 'ro';
}

/** What a pool reports about one volume. */
export interface VolumeInfo {
  pool: string;
  name: string;
  format: VolumeFormat;
  /** Virtual size the guest sees. */
  capacityBytes: number;
  /** Host bytes the volume's file occupies. */
  allocationBytes: number;
  /** The volume this one is a thin overlay on (same pool), or null. */
  backing: string | null;
  /** Volumes of the pool that use this one as their backing. */
  dependents: string[];
  /** Internal snapshots (qcow2 only). */
  snapshotCount: number;
  /** Live processes with the volume open. */
  users: VolumeUser[];
  /** ISO time of creation. */
  createdAt: string;
  /** The volume's file on the host. */
  path: string;
}

/** One internal snapshot of a volume. */
export interface VolumeSnapshotInfo {
  id: string;
  name: string;
  createdAt: string;
  /** Virtual size of the volume when the snapshot was taken (a revert restores it). */
  diskSizeBytes: number;
}

/** Progress and cancellation of a long copy (import, export). */
export interface TransferOptions {
  signal?: AbortSignal;
  /** Bytes of the virtual disk done so far, of `total`. */
  onProgress?: (done: number, total: number) => void;
}

/** Options of {@link PoolDriver.createVolume}. */
export interface CreateVolumeOptions {
  sizeBytes: number;
  /** Default qcow2. */
  format?: VolumeFormat;
}

/** Options of {@link PoolDriver.importVolume}. */
export interface ImportVolumeOptions extends TransferOptions {
  /** The source's format; probed when absent. */
  sourceFormat?: VolumeFormat;
  /** How to store the volume (default qcow2: a standalone image; backing chains are flattened). */
  format?: VolumeFormat;
}

/** Options of {@link PoolDriver.exportVolume}. */
export interface ExportVolumeOptions extends TransferOptions {
  format: VolumeFormat;
  /** qcow2 only: store clusters compressed (deflate). */
  compress?: boolean;
}

/** A volume opened for a VM: its file and format, held by a lock until released. */
export interface VolumeAttachment {
  path: string;
  format: VolumeFormat;
  readOnly: boolean;
  /** Drops the lock (idempotent). */
  release(): Promise<void>;
}

/**
 * A storage pool's driver: where volumes live and how they are made. Drivers differ in where bytes go (a
 * directory now; LVM or a remote store later); every driver passes `poolDriverSuite`. Names are validated with
 * {@link checkVolumeName}; failures are StrataErrors: NOT_FOUND (no such volume or snapshot), ALREADY_EXISTS,
 * INVALID_ARGUMENT (bad size or name, operation unsupported for the format), CONFLICT (in use by a running VM, the
 * backing of another volume, shrinking). A failed create, import or clone leaves nothing behind.
 */
export interface PoolDriver {
  /** The pool's name. */
  readonly name: string;
  /** The driver kind (`dir`). */
  readonly kind: string;
  /** Where the pool keeps its volumes (for people; a driver may have no path). */
  readonly location: string;
  /** Every volume, sorted by name. */
  listVolumes(): Promise<VolumeInfo[]>;
  /** One volume. */
  getVolume(name: string): Promise<VolumeInfo>;
  /** An empty volume of `sizeBytes` (a multiple of 512). */
  createVolume(name: string, opts: CreateVolumeOptions): Promise<VolumeInfo>;
  /** A volume holding a copy of the image at `source` (raw or qcow2, with its backing chain read through). */
  importVolume(name: string, source: string, opts?: ImportVolumeOptions): Promise<VolumeInfo>;
  /** A thin qcow2 overlay on `base`: reads go to the base until written. */
  cloneVolume(name: string, base: string): Promise<VolumeInfo>;
  /** Grows a volume; shrinking is refused. */
  resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo>;
  /** Takes an internal snapshot (qcow2 volumes). */
  createSnapshot(name: string, snapshot: string): Promise<VolumeSnapshotInfo>;
  /** The volume's snapshots, oldest first. */
  listSnapshots(name: string): Promise<VolumeSnapshotInfo[]>;
  /** Reverts the volume to a snapshot (by name or id); refused while it is the backing of another volume. */
  revertSnapshot(name: string, snapshot: string): Promise<void>;
  /** Deletes a snapshot (by name or id). */
  deleteSnapshot(name: string, snapshot: string): Promise<void>;
  /** Writes a standalone copy of the volume to the host file `dest`, which must not exist. */
  exportVolume(name: string, dest: string, opts: ExportVolumeOptions): Promise<void>;
  /** Deletes a volume; refused while in use or while another volume uses it as backing. */
  deleteVolume(name: string): Promise<void>;
  /**
   * Opens a volume for a VM whose process is `pid`: read-write use is exclusive (and refused for the backing of
   * another volume), read-only use may be shared with other readers.
   */
  attachVolume(name: string, opts: { readOnly: boolean; pid?: number }): Promise<VolumeAttachment>;
  /** Whether the pool holds no volume. */
  isEmpty(): Promise<boolean>;
}

/** Names of pools, volumes and snapshots: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Throws INVALID_ARGUMENT unless `name` is a safe name for a `what` (pool, volume, snapshot): no path separators,
 * no leading dot (so no `..`, and no clash with the temporary files that start with a dot).
 */
export function checkName(name: string, what: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid ${what} name '${name}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

/** {@link checkName} for volumes. */
export function checkVolumeName(name: string): void {
  checkName(name, 'volume');
}

/** Throws INVALID_ARGUMENT unless `sizeBytes` is a positive multiple of 512 no larger than 2^55 (qcow2's limit). */
export function checkVolumeSize(sizeBytes: number, what = 'volume size'): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0 || sizeBytes > 2 ** 55) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid ${what} ${sizeBytes}: must be a positive multiple of 512 bytes, at most 32 PiB`,
    );
  }
}
