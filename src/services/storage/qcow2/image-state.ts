import type { BlockBackend } from '../../../machine/ports/block-backend.js';
import type { Qcow2Header } from './header.js';
import type { ImageFile } from './image-file.js';
import type { L2Cache, L2Table } from './l2-cache.js';
import type { Refcounts } from './refcounts.js';

/**
 * The state of an open qcow2 image that the read, write, snapshot and check modules work on; Qcow2Image
 * implements it. (A separate interface keeps those modules free of an import cycle with the class.)
 */
export interface Qcow2State {
  readonly path: string;
  readonly file: ImageFile;
  readonly header: Qcow2Header;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly clusterBits: number;
  readonly clusterSize: number;
  readonly l2EntryBytes: number;
  readonly l2Entries: number;
  readonly extendedL2: boolean;
  l1: number[];
  l1Copied: Uint8Array;
  refcounts: Refcounts;
  readonly l2: L2Cache;
  readonly backing: BlockBackend | null;
  headerDirty: boolean;
  needSync: boolean;
  readonly scratch: [Uint8Array, Uint8Array, Uint8Array];
  decompressedAt: number;
  /** Records a change of L1 entry `i`. */
  setL1(i: number, offset: number, copied: boolean): void;
  /** The L2 table of L1 entry `i`, or null; `forChange` allows a metadata flush to make room in the cache. */
  l2Table(i: number, forChange?: boolean): Promise<L2Table | null>;
  /** The ordered metadata flush. */
  flushMetadata(): Promise<void>;
  /** Writes the header's mutable fields. */
  writeHeader(): Promise<void>;
  /** Sets the dirty bit on disk for the rest of the session (before a change). */
  markDirty(): Promise<void>;
  /** Throws when `cluster` holds metadata: a corrupt entry must not make us overwrite it. */
  guardMetadata(cluster: number, what: string): void;
  /** Recomputes the metadata map after the header, L1 or snapshot tables moved. */
  refreshMetadataMap(): Promise<void>;
  /** Runs `job` exclusively with the other requests. */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
}
