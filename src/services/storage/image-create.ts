import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { openImageChain, probeFormat } from './backing-chain.js';
import { ioError } from './io-util.js';
import {
  buildHeaderCluster,
  INCOMPAT_COMPRESSION,
  MAX_L1_BYTES,
  MAX_VIRTUAL_SIZE,
  type Qcow2Header,
} from './qcow2/header.js';

/** Options of {@link createQcow2}. */
export interface CreateQcow2Options {
  /** Virtual size in bytes (a multiple of 512); defaults to the backing file's size. */
  sizeBytes?: number;
  /** Cluster size, a power of two from 512 B to 2 MiB (default 64 KiB). */
  clusterSize?: number;
  /** Backing file name as stored in the image (relative names resolve against the new image's folder). */
  backingFile?: string;
  /** Backing file format; probed when absent. */
  backingFormat?: 'raw' | 'qcow2';
  /** Compression type recorded in the header for compressed clusters: zlib (default) or zstd. */
  compressionType?: 'zlib' | 'zstd';
  /** Replace an existing file instead of failing with ALREADY_EXISTS. */
  overwrite?: boolean;
}

/**
 * Creates an empty qcow2 version 3 image (refcount_bits 16): header, a one-cluster refcount table, one
 * refcount block and the L1 table (qcow2.txt "Header", "Host cluster management"). With a backing file, the
 * overlay reads through to it until written.
 */
export async function createQcow2(path: string, opts: CreateQcow2Options): Promise<void> {
  const cs = opts.clusterSize ?? 65536;
  const clusterBits = Math.log2(cs);
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    throw new StrataError('INVALID_ARGUMENT', `${path}: cluster size ${cs} is not a power of two from 512 to 2 MiB`);
  }
  let size = opts.sizeBytes;
  let backingFormat: 'raw' | 'qcow2' | null = null;
  if (opts.backingFile !== undefined) {
    const resolved = isAbsolute(opts.backingFile) ? opts.backingFile : join(dirname(path), opts.backingFile);
    backingFormat = opts.backingFormat ?? (await probeFormat(resolved));
    if (size === undefined) {
      const b = await openImageChain(resolved, { format: backingFormat, readOnly: true });
      size = b.sizeBytes;
      await b.close();
    }
  }
  if (size === undefined || !Number.isSafeInteger(size) || size < 0 || size % 512 !== 0 || size > MAX_VIRTUAL_SIZE) {
    throw new StrataError('INVALID_ARGUMENT', `${path}: virtual size ${size} is not a multiple of 512 in range`);
  }
  const l2Entries = cs / 8;
  const l1Size = Math.ceil(size / (cs * l2Entries));
  if (l1Size * 8 > MAX_L1_BYTES)
    throw new StrataError('INVALID_ARGUMENT', `${path}: virtual size ${size} is too large`);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const total = 3 + l1Clusters;
  const refsPerBlock = (cs * 8) / 16;
  if (total > refsPerBlock)
    throw new StrataError('INVALID_ARGUMENT', `${path}: cluster size ${cs} is too small for ${size}`);
  const zstd = opts.compressionType === 'zstd';
  const h: Qcow2Header = {
    version: 3,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: 3 * cs,
    refcountTableOffset: cs,
    refcountTableClusters: 1,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatible: zstd ? INCOMPAT_COMPRESSION : 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: 112,
    compressionType: zstd ? 1 : 0,
    backingFile: opts.backingFile ?? null,
    backingFormat,
    featureNames: new Map(),
  };
  const image = new Uint8Array(total * cs);
  image.set(buildHeaderCluster(h), 0);
  const dv = new DataView(image.buffer);
  dv.setBigUint64(cs, BigInt(2 * cs)); // refcount table entry 0 -> block at cluster 2
  for (let c = 0; c < total; c++) dv.setUint16(2 * cs + c * 2, 1);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, opts.overwrite ? 'w' : 'wx');
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') {
      throw new StrataError('ALREADY_EXISTS', `${path}: the file exists`);
    }
    throw ioError(path, 'cannot create the image', err);
  }
  try {
    await fh.write(image, 0, image.length, 0);
    await fh.datasync();
  } catch (err) {
    throw ioError(path, 'cannot write the new image', err);
  } finally {
    await fh.close();
  }
}
