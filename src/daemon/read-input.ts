import { readFile, stat } from 'node:fs/promises';
import { errorMessage, StrataError } from '../base/errors.js';
import { formatBytes } from '../base/units.js';
import type { NamedBytes } from '../hypervisor/local-vm.js';

/**
 * Reads an input file of a VM, with errors that name the file and its role. A file larger than `maxBytes` (the
 * guest RAM it must fit in) is refused before it is read, so a huge file never costs host memory.
 */
export async function readInput(path: string, role: string, maxBytes = Number.POSITIVE_INFINITY): Promise<NamedBytes> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `${role} '${path}' is not a regular file`);
    if (st.size === 0) throw new StrataError('INVALID_ARGUMENT', `${role} '${path}' is empty`);
    if (st.size > maxBytes) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${role} '${path}' (${formatBytes(st.size)}) does not fit in ${formatBytes(maxBytes)} of guest RAM`,
      );
    }
    return { name: path, bytes: new Uint8Array(await readFile(path)) };
  } catch (err) {
    if (err instanceof StrataError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StrataError('NOT_FOUND', `${role} file '${path}' does not exist`);
    if (code === 'EACCES') throw new StrataError('IO', `${role} file '${path}' is not readable (permission denied)`);
    throw new StrataError('IO', `cannot read ${role} file '${path}': ${errorMessage(err)}`);
  }
}
