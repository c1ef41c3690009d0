import { StrataError } from '../../../base/errors.js';

/** qcow2.txt "Header": the magic 'QFI\xfb'. */
export const QCOW2_MAGIC = 0x514649fb;

/** qcow2.txt "Header", incompatible_features bits. */
export const INCOMPAT_DIRTY = 1n << 0n;
/** Bit 1: the image is marked corrupt. */
export const INCOMPAT_CORRUPT = 1n << 1n;
/** Bit 2: guest data lives in an external data file. */
export const INCOMPAT_DATA_FILE = 1n << 2n;
/** Bit 3: the header's compression_type field is used. */
export const INCOMPAT_COMPRESSION = 1n << 3n;
/** Bit 4: L2 entries are 128 bits with subcluster bitmaps. */
export const INCOMPAT_EXTL2 = 1n << 4n;
/** Bits this implementation understands. */
export const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
/** qcow2.txt "Header", compatible_features bit 0: lazy refcounts. */
export const COMPAT_LAZY_REFCOUNTS = 1n << 0n;

/** qcow2.txt "Header extensions": the types we read. */
export const EXT_END = 0;
/** Backing file format name. */
export const EXT_BACKING_FORMAT = 0xe2792aca;
/** Feature name table. */
export const EXT_FEATURE_TABLE = 0x6803f857;

/** Largest cluster_bits accepted (2 MiB clusters), as in qcow2.txt "cluster_bits". */
export const MAX_CLUSTER_BITS = 21;
/** Smallest cluster_bits (512-byte clusters). */
export const MIN_CLUSTER_BITS = 9;
/** Largest backing file name (qcow2.txt: "Must not be longer than 1023 bytes"). */
export const MAX_BACKING_NAME = 1023;
/** Largest L1 table we accept (32 MiB, 4 Mi entries), against hostile l1_size values. */
export const MAX_L1_BYTES = 32 << 20;
/** Largest refcount table we accept (8 MiB). */
export const MAX_REFTABLE_BYTES = 8 << 20;
/** Largest number of internal snapshots (qcow2.txt "nb_snapshots" and QEMU's limit). */
export const MAX_SNAPSHOTS = 65536;
/** Largest virtual size accepted: 2^55 bytes minus a cluster, as host offsets are 56-bit. */
export const MAX_VIRTUAL_SIZE = 2 ** 55;

/** The parsed header of a qcow2 image (qcow2.txt "Header" and its extensions). */
export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  /** 0 = zlib (deflate), 1 = zstd. */
  compressionType: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Feature names from the feature name table, keyed "incompatible:3" etc. */
  featureNames: Map<string, string>;
}

function bad(path: string, problem: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `${path}: corrupt or unsupported qcow2 image: ${problem}`);
}

function u64(dv: DataView, off: number, path: string, what: string): number {
  const v = dv.getBigUint64(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(path, `${what} ${v} is too large`);
  return Number(v);
}

/**
 * Parses and validates the header in the first cluster of a qcow2 file. `first` holds at least the first
 * min(cluster size, file size) bytes; `fileSize` bounds every offset. Throws INVALID_ARGUMENT naming `path` and
 * the problem for anything truncated, out of range or unsupported.
 */
export function parseHeader(path: string, first: Uint8Array, fileSize: number): Qcow2Header {
  if (first.length < 72) throw bad(path, `file is truncated (${first.length} bytes, header needs 72)`);
  const dv = new DataView(first.buffer, first.byteOffset, first.byteLength);
  if (dv.getUint32(0) !== QCOW2_MAGIC) throw bad(path, 'bad magic');
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) throw bad(path, `version ${version} is not supported (2 and 3 are)`);
  const clusterBits = dv.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw bad(path, `cluster_bits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const clusterSize = 2 ** clusterBits;
  const h: Qcow2Header = {
    version,
    backingFileOffset: u64(dv, 8, path, 'backing_file_offset'),
    backingFileSize: dv.getUint32(16),
    clusterBits,
    size: u64(dv, 24, path, 'size'),
    cryptMethod: dv.getUint32(32),
    l1Size: dv.getUint32(36),
    l1TableOffset: u64(dv, 40, path, 'l1_table_offset'),
    refcountTableOffset: u64(dv, 48, path, 'refcount_table_offset'),
    refcountTableClusters: dv.getUint32(56),
    nbSnapshots: dv.getUint32(60),
    snapshotsOffset: u64(dv, 64, path, 'snapshots_offset'),
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: 72,
    compressionType: 0,
    backingFile: null,
    backingFormat: null,
    featureNames: new Map(),
  };
  if (version === 3) {
    if (first.length < 104) throw bad(path, 'file is truncated inside the version 3 header');
    h.incompatible = dv.getBigUint64(72);
    h.compatible = dv.getBigUint64(80);
    h.autoclear = dv.getBigUint64(88);
    h.refcountOrder = dv.getUint32(96);
    h.headerLength = dv.getUint32(100);
    // qcow2.txt "header_length": at least 104, a multiple of 8 since compression_type was added
    if (h.headerLength < 104 || h.headerLength > clusterSize || h.headerLength > first.length) {
      throw bad(path, `header_length ${h.headerLength} is out of range`);
    }
    if (h.headerLength >= 105) h.compressionType = dv.getUint8(104);
  }
  parseExtensions(path, first, dv, h, clusterSize);
  const unknown = h.incompatible & ~INCOMPAT_KNOWN;
  if (unknown !== 0n || (h.incompatible & INCOMPAT_DATA_FILE) !== 0n) {
    const bits: string[] = [];
    for (let b = 0n; b < 64n; b++) {
      if (((unknown | (h.incompatible & INCOMPAT_DATA_FILE)) >> b) & 1n) {
        const name = h.featureNames.get(`incompatible:${b}`);
        bits.push(name ? `${b} (${name})` : `${b}`);
      }
    }
    throw bad(path, `unsupported incompatible feature bit(s) ${bits.join(', ')}`);
  }
  if ((h.incompatible & INCOMPAT_COMPRESSION) === 0n && h.compressionType !== 0) {
    throw bad(path, `compression_type ${h.compressionType} set without the compression type feature bit`);
  }
  if (h.compressionType > 1) throw bad(path, `unknown compression_type ${h.compressionType}`);
  if (h.refcountOrder > 6) throw bad(path, `refcount_order ${h.refcountOrder} is larger than 6`);
  if (h.cryptMethod !== 0) throw bad(path, `encryption (crypt_method ${h.cryptMethod}) is not supported`);
  if (h.size > MAX_VIRTUAL_SIZE || h.size % 512 !== 0) throw bad(path, `virtual size ${h.size} is not supported`);
  checkTable(path, 'L1 table', h.l1TableOffset, h.l1Size * 8, MAX_L1_BYTES, fileSize, clusterSize);
  const l2Entries = clusterSize / ((h.incompatible & INCOMPAT_EXTL2) !== 0n ? 16 : 8);
  const needL1 = Math.ceil(h.size / (clusterSize * l2Entries));
  if (h.l1Size < needL1) throw bad(path, `l1_size ${h.l1Size} is too small for a virtual size of ${h.size}`);
  checkTable(
    path,
    'refcount table',
    h.refcountTableOffset,
    h.refcountTableClusters * clusterSize,
    MAX_REFTABLE_BYTES,
    fileSize,
    clusterSize,
  );
  if (h.refcountTableClusters === 0) throw bad(path, 'refcount table is empty');
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw bad(path, `nb_snapshots ${h.nbSnapshots} is larger than ${MAX_SNAPSHOTS}`);
  if (h.nbSnapshots > 0) {
    if (h.snapshotsOffset % clusterSize !== 0 || h.snapshotsOffset >= fileSize) {
      throw bad(path, `snapshot table offset ${h.snapshotsOffset} is unaligned or past the end of the file`);
    }
  }
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize === 0 || h.backingFileSize > MAX_BACKING_NAME) {
      throw bad(path, `backing file name length ${h.backingFileSize} is out of range`);
    }
    const end = h.backingFileOffset + h.backingFileSize;
    if (end > clusterSize || end > first.length) throw bad(path, 'backing file name lies outside the first cluster');
    h.backingFile = new TextDecoder().decode(first.subarray(h.backingFileOffset, end));
  }
  return h;
}

function checkTable(
  path: string,
  what: string,
  offset: number,
  bytes: number,
  max: number,
  fileSize: number,
  clusterSize: number,
): void {
  if (bytes > max) throw bad(path, `${what} of ${bytes} bytes is larger than the limit of ${max}`);
  if (bytes === 0) return;
  if (offset % clusterSize !== 0) throw bad(path, `${what} offset ${offset} is not cluster-aligned`);
  if (offset === 0) throw bad(path, `${what} overlaps the header`);
  if (offset + bytes > fileSize) throw bad(path, `${what} at ${offset} (${bytes} bytes) goes past the end of the file`);
}

function parseExtensions(path: string, first: Uint8Array, dv: DataView, h: Qcow2Header, clusterSize: number): void {
  const limit = Math.min(clusterSize, first.length);
  let off = h.headerLength;
  // qcow2.txt "Header extensions": type (4), length (4), data padded to 8 bytes; type 0 ends the list
  for (let count = 0; off + 8 <= limit; count++) {
    if (count > 1024) throw bad(path, 'too many header extensions');
    const type = dv.getUint32(off);
    const len = dv.getUint32(off + 4);
    if (type === EXT_END) return;
    const data = off + 8;
    if (len > limit - data) throw bad(path, `header extension 0x${type.toString(16)} runs past the first cluster`);
    if (type === EXT_BACKING_FORMAT) {
      h.backingFormat = new TextDecoder().decode(first.subarray(data, data + len));
    } else if (type === EXT_FEATURE_TABLE) {
      const kinds = ['incompatible', 'compatible', 'autoclear'];
      for (let e = data; e + 48 <= data + len; e += 48) {
        const kind = kinds[first[e] ?? 9];
        const raw = first.subarray(e + 2, e + 48);
        const z = raw.indexOf(0);
        if (kind)
          h.featureNames.set(`${kind}:${first[e + 1]}`, new TextDecoder().decode(z < 0 ? raw : raw.subarray(0, z)));
      }
    }
    off = data + Math.ceil(len / 8) * 8;
  }
}

/** Values of the header's fixed fields that change while an image is used, at their qcow2.txt offsets. */
export function encodeMutableFields(h: Qcow2Header): Uint8Array {
  // bytes 24..99: size .. refcount_order (header_length at 100 stays)
  const out = new Uint8Array(100 - 24);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(h.size));
  dv.setUint32(8, h.cryptMethod);
  dv.setUint32(12, h.l1Size);
  dv.setBigUint64(16, BigInt(h.l1TableOffset));
  dv.setBigUint64(24, BigInt(h.refcountTableOffset));
  dv.setUint32(32, h.refcountTableClusters);
  dv.setUint32(36, h.nbSnapshots);
  dv.setBigUint64(40, BigInt(h.snapshotsOffset));
  if (h.version === 3) {
    dv.setBigUint64(48, h.incompatible);
    dv.setBigUint64(56, h.compatible);
    dv.setBigUint64(64, h.autoclear);
    dv.setUint32(72, h.refcountOrder);
    return out;
  }
  return out.subarray(0, 48);
}

/** Offset in the file where {@link encodeMutableFields}' bytes go. */
export const MUTABLE_FIELDS_OFFSET = 24;

/** Builds the first cluster of a new version 3 image (header, extensions, backing file name). */
export function buildHeaderCluster(h: Qcow2Header): Uint8Array {
  const cs = 2 ** h.clusterBits;
  const out = new Uint8Array(cs);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, QCOW2_MAGIC);
  dv.setUint32(4, 3);
  dv.setUint32(20, h.clusterBits);
  out.set(encodeMutableFields({ ...h, version: 3 }), MUTABLE_FIELDS_OFFSET);
  dv.setUint32(100, 112);
  dv.setUint8(104, h.compressionType);
  let off = 112;
  const enc = new TextEncoder();
  if (h.backingFormat) {
    const f = enc.encode(h.backingFormat);
    dv.setUint32(off, EXT_BACKING_FORMAT);
    dv.setUint32(off + 4, f.length);
    out.set(f, off + 8);
    off += 8 + Math.ceil(f.length / 8) * 8;
  }
  // feature name table: names for the bits we may set
  const features: [number, number, string][] = [
    [0, 0, 'dirty bit'],
    [0, 1, 'corrupt bit'],
    [0, 3, 'compression type'],
    [0, 4, 'extended L2 entries'],
    [1, 0, 'lazy refcounts'],
  ];
  dv.setUint32(off, EXT_FEATURE_TABLE);
  dv.setUint32(off + 4, features.length * 48);
  for (const [i, [kind, bit, name]] of features.entries()) {
    const e = off + 8 + i * 48;
    out[e] = kind;
    out[e + 1] = bit;
    out.set(enc.encode(name), e + 2);
  }
  off += 8 + features.length * 48;
  off += 8; // end-of-extensions marker (zeros)
  if (h.backingFile) {
    const b = enc.encode(h.backingFile);
    if (b.length > MAX_BACKING_NAME || off + b.length > cs) {
      throw new StrataError('INVALID_ARGUMENT', `backing file name ${h.backingFile} is too long`);
    }
    dv.setBigUint64(8, BigInt(off));
    dv.setUint32(16, b.length);
    out.set(b, off);
  }
  return out;
}
