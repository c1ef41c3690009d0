import { StrataError } from '../../base/errors.js';
import type { BlockBackend } from '../../machine/ports/block-backend.js';
import { defaultStrataHome } from '../../services/images/image-store.js';
import { openDisk } from '../../services/storage/open-disk.js';
import { checkName } from '../../services/storage/pools/pool-driver.js';
import { DEFAULT_POOL, PoolRegistry } from '../../services/storage/pools/pool-registry.js';

/** A pool volume named on the command line. */
export interface VolumeRef {
  pool: string;
  name: string;
}

/**
 * One `--disk` of `strata run`: a host file `FILE[,format=qcow2|raw][,readonly]`, or a pool volume
 * `vol=POOL/NAME[,readonly]` / `volume=NAME[,readonly]` (the `default` pool when no pool is named).
 */
export interface DiskOption {
  /** A host file (absent for a volume). */
  path?: string;
  /** A pool volume (absent for a file). */
  volume?: VolumeRef;
  /** Absent: probed from the file (qcow2 magic, else raw), or the volume's own format. */
  format?: 'raw' | 'qcow2';
  readOnly: boolean;
}

/**
 * Parses one `--disk` value: a file or `vol=`/`volume=` then comma-separated settings `format=raw|qcow2` (files
 * only) and `readonly` (also `readonly=on|off`). Throws INVALID_ARGUMENT naming the bad part.
 */
export function parseDiskOption(value: string): DiskOption {
  const [first, ...settings] = value.split(',');
  if (!first) throw new StrataError('INVALID_ARGUMENT', `invalid --disk '${value}': the file is missing`);
  const disk: DiskOption = { readOnly: false };
  const vol = /^(?:vol|volume)=(.*)$/.exec(first);
  if (vol) disk.volume = parseVolumeRef(vol[1] ?? '', value);
  else disk.path = first;
  for (const s of settings) {
    const eq = s.indexOf('=');
    const key = eq < 0 ? s : s.slice(0, eq);
    const v = eq < 0 ? undefined : s.slice(eq + 1);
    if (key === 'format' && disk.volume) {
      throw new StrataError('INVALID_ARGUMENT', `invalid --disk '${value}': a volume has its own format; drop '${s}'`);
    } else if (key === 'format' && (v === 'raw' || v === 'qcow2')) disk.format = v;
    else if (key === 'readonly' && (v === undefined || v === 'on')) disk.readOnly = true;
    else if (key === 'readonly' && v === 'off') disk.readOnly = false;
    else {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `invalid --disk '${value}': unknown setting '${s}' (use format=raw|qcow2 or readonly)`,
      );
    }
  }
  return disk;
}

/** `POOL/NAME` or `NAME` (default pool); both names checked. */
function parseVolumeRef(text: string, value: string): VolumeRef {
  const parts = text.split('/');
  if (parts.length > 2 || text === '') {
    throw new StrataError('INVALID_ARGUMENT', `invalid --disk '${value}': name a volume as POOL/NAME or NAME`);
  }
  const ref: VolumeRef = parts.length === 2 ? { pool: parts[0]!, name: parts[1]! } : { pool: DEFAULT_POOL, name: text };
  checkName(ref.pool, 'pool');
  checkName(ref.name, 'volume');
  return ref;
}

/** Commander collector for a repeatable `--disk`. */
export function collectDiskOption(value: string, previous: DiskOption[] | undefined): DiskOption[] {
  return [...(previous ?? []), parseDiskOption(value)];
}

/**
 * Opens one `--disk` for a VM run by process `pid` (default: this one, which runs the VM in the foreground). A
 * volume is first locked in `$STRATA_HOME/run` for that pid (exclusive when read-write; refused while another VM
 * or command uses it, or read-write while it is the backing of a clone); closing the disk releases the lock.
 */
export async function openDiskOption(
  d: DiskOption,
  env: NodeJS.ProcessEnv,
  pid = process.pid,
): Promise<BlockBackend & { close(): Promise<void> }> {
  if (!d.volume) {
    if (d.path === undefined) throw new StrataError('INVALID_ARGUMENT', 'invalid --disk: the file is missing');
    return openDisk(d.path, { readOnly: d.readOnly, ...(d.format ? { format: d.format } : {}) });
  }
  const pool = await new PoolRegistry(defaultStrataHome(env)).open(d.volume.pool);
  const attachment = await pool.attachVolume(d.volume.name, { readOnly: d.readOnly, pid });
  let backend: BlockBackend & { close(): Promise<void> };
  try {
    backend = await openDisk(attachment.path, { format: attachment.format, readOnly: d.readOnly });
  } catch (err) {
    await attachment.release();
    throw err;
  }
  return {
    get sizeBytes() {
      return backend.sizeBytes;
    },
    readOnly: backend.readOnly,
    serial: backend.serial,
    read: (o, dest) => backend.read(o, dest),
    write: (o, src) => backend.write(o, src),
    flush: () => backend.flush(),
    discard: (o, n) => backend.discard(o, n),
    writeZeroes: (o, n, unmap) => backend.writeZeroes(o, n, unmap),
    close: async () => {
      try {
        await backend.close();
      } finally {
        await attachment.release();
      }
    },
  };
}
