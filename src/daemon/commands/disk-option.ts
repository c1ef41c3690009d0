import { StrataError } from '../../base/errors.js';

/** One `--disk FILE[,format=qcow2|raw][,readonly]` of `strata run`. */
export interface DiskOption {
  path: string;
  /** Absent: probed from the file (qcow2 magic, else raw). */
  format?: 'raw' | 'qcow2';
  readOnly: boolean;
}

/**
 * Parses one `--disk` value: a file, then comma-separated settings `format=raw|qcow2` and `readonly` (also
 * `readonly=on|off`). Throws INVALID_ARGUMENT naming the bad part.
 */
export function parseDiskOption(value: string): DiskOption {
  const [path, ...settings] = value.split(',');
  if (!path) throw new StrataError('INVALID_ARGUMENT', `invalid --disk '${value}': the file is missing`);
  const disk: DiskOption = { path, readOnly: false };
  for (const s of settings) {
    const eq = s.indexOf('=');
    const key = eq < 0 ? s : s.slice(0, eq);
    const v = eq < 0 ? undefined : s.slice(eq + 1);
    if (key === 'format' && (v === 'raw' || v === 'qcow2')) disk.format = v;
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

/** Commander collector for a repeatable `--disk`. */
export function collectDiskOption(value: string, previous: DiskOption[] | undefined): DiskOption[] {
  return [...(previous ?? []), parseDiskOption(value)];
}
