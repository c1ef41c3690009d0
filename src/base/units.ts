import { StrataError } from './errors.js';

const SIZE_SUFFIX: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KB: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
  T: 1024 ** 4,
  TB: 1024 ** 4,
  TIB: 1024 ** 4,
};

/**
 * Parses a size such as `512M`, `4G`, `1.5GiB` or `65536` into bytes (binary units, as QEMU and qemu-img read
 * them). Throws INVALID_ARGUMENT naming `what` and the text when it is not a whole, positive number of bytes.
 */
export function parseSizeBytes(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_SUFFIX[(m[2] ?? '').toUpperCase()] : undefined;
  if (!m || unit === undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `invalid ${what} '${text}': expected a number with an optional K, M, G or T suffix`,
    );
  }
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new StrataError('INVALID_ARGUMENT', `invalid ${what} '${text}': must be a whole, positive number of bytes`);
  }
  return bytes;
}

/** Formats a byte count for people: `512 B`, `1.5 KiB`, `31.2 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  if (i === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[i]}`;
}
