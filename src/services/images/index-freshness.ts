/**
 * When the mirror's signed index was last checked: a small JSON stamp in the image cache
 * (`{ "sources": "<the sources line>", "checkedAt": "<ISO time>" }`), written after every successful
 * `apt-get update`. A pull within INDEX_FRESH_MS of it, for the same sources line (mirror, suite, arch,
 * keyring), trusts the cached index and does no network work.
 */

import { readFile } from 'node:fs/promises';
import type { ProgressReporter } from '../../base/progress.js';
import { fsError, writeFileChecked } from './fs-checked.js';

/** How long a checked index is trusted without asking the mirror again (Debian mirrors update every 6 h). */
export const INDEX_FRESH_MS = 6 * 60 * 60_000;

/**
 * The time the index for `sources` was last checked, or undefined when never (no stamp, or a stamp for other
 * sources). A damaged stamp is reported with a note and treated as "never": the index is then checked again.
 */
export async function readIndexStamp(
  path: string,
  sources: string,
  progress: ProgressReporter,
): Promise<Date | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(err, path, 'reading');
  }
  let stamp: { sources?: unknown; checkedAt?: unknown };
  try {
    stamp = JSON.parse(text) as typeof stamp;
  } catch {
    progress.note(`the index stamp ${path} is not JSON: checking the mirror's index again`);
    return undefined;
  }
  if (stamp.sources !== sources) return undefined;
  const at = typeof stamp.checkedAt === 'string' ? new Date(stamp.checkedAt) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    progress.note(`the index stamp ${path} has no valid 'checkedAt': checking the mirror's index again`);
    return undefined;
  }
  return at;
}

/** Records that the index for `sources` was checked at `at`. */
export async function writeIndexStamp(path: string, sources: string, at: Date): Promise<void> {
  await writeFileChecked(path, `${JSON.stringify({ sources, checkedAt: at.toISOString() })}\n`);
}

/** An age for people: `40 seconds`, `12 minutes`, `3 hours`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'}`;
  if (s < 60) return unit(s, 'second');
  if (s < 3600) return unit(Math.floor(s / 60), 'minute');
  return unit(Math.floor(s / 3600), 'hour');
}
