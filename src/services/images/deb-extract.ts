/** Unpacks Debian packages with the host's `dpkg-deb -x` (no maintainer scripts run, nothing is installed). */

import { StrataError } from '../../base/errors.js';
import { mkdirChecked } from './fs-checked.js';
import { runTool } from './host-tools.js';

/**
 * Extracts the data archive of `debPath` into `destDir` (created when missing). UNAVAILABLE when dpkg-deb is
 * missing, NO_SPACE naming `destDir` when the disk fills, IO naming the package for any other failure.
 */
export async function extractDeb(
  debPath: string,
  destDir: string,
  opts: { env: NodeJS.ProcessEnv; signal: AbortSignal },
): Promise<void> {
  await mkdirChecked(destDir);
  await runTool('dpkg-deb', ['-x', debPath, destDir], {
    env: opts.env,
    signal: opts.signal,
    onFail: (stderr, code) =>
      /No space left on device/i.test(stderr)
        ? new StrataError('NO_SPACE', `no space left on device extracting ${debPath} into ${destDir}`)
        : new StrataError('IO', `cannot extract ${debPath}: ${stderr || `dpkg-deb exit code ${code}`}`),
  });
}
