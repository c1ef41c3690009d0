import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { FileWritten } from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import { MAX_INSTANCE_FILE_BYTES } from '../../base/instance-path.js';
import { formatBytes } from '../../base/units.js';
import { type CliContext, type CliRegistrar, clientFor } from '../cli-context.js';

/** `NAME/PATH` (`c1/etc/motd`) as the instance name and the path relative to its root. */
export function splitInstancePath(target: string): { name: string; path: string } {
  const i = target.indexOf('/');
  if (i <= 0 || i === target.length - 1) {
    throw new StrataError('INVALID_ARGUMENT', `invalid target '${target}': give NAME/PATH (c1/etc/motd)`);
  }
  return { name: target.slice(0, i), path: target.slice(i + 1) };
}

function filesUrl(name: string, path: string): string {
  return `/1.0/instances/${encodeURIComponent(name)}/files?path=${encodeURIComponent(path)}`;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    size += b.length;
    if (size > MAX_INSTANCE_FILE_BYTES) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `standard input is larger than ${formatBytes(MAX_INSTANCE_FILE_BYTES)}`,
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * The regular files under `dir` as paths relative to it with their bytes, for `launch --dir`. A symbolic link or a
 * special file is refused (nothing is sent); so is more than `maxBytes` in all.
 */
export async function readLocalFolder(dir: string, maxBytes: number): Promise<{ path: string; content: Buffer }[]> {
  const top = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new StrataError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read --dir ${dir}: ${err.message}`);
  });
  if (!top.isDirectory()) throw new StrataError('INVALID_ARGUMENT', `invalid --dir '${dir}': not a folder`);
  const out: { path: string; content: Buffer }[] = [];
  let total = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const entry of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${entry}` : entry;
      const st = await lstat(join(dir, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) {
        total += st.size;
        if (total > maxBytes) {
          throw new StrataError(
            'INVALID_ARGUMENT',
            `invalid --dir '${dir}': more than ${formatBytes(maxBytes)} of files (push larger ones with strata file push)`,
          );
        }
        out.push({ path: r, content: await readFile(join(dir, r)) });
      } else {
        throw new StrataError('INVALID_ARGUMENT', `invalid --dir '${dir}': ${r} is a link or a special file`);
      }
    }
  };
  await walk('');
  return out;
}

/** `strata file push LOCAL NAME/PATH` and `strata file pull NAME/PATH LOCAL`: files of containers and sandboxes. */
export const registerFileCommands: CliRegistrar = (program: Command, ctx: CliContext) => {
  const file = program
    .command('file')
    .description("copy files into and out of a container or a sandbox's folder (paths relative to its root)");
  file
    .command('push')
    .description('copy a local file into an instance (- reads standard input); folders on the way are made')
    .argument('<local>', 'the local file, or - for standard input')
    .argument('<target>', 'NAME/PATH: the instance and the path relative to its root (c1/etc/motd)')
    .action(async (local: string, target: string) => {
      const { name, path } = splitInstancePath(target);
      let bytes: Buffer;
      if (local === '-') bytes = await readAll(ctx.stdin);
      else {
        const st = await lstat(local).catch((err: NodeJS.ErrnoException) => {
          throw new StrataError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read ${local}: ${err.message}`);
        });
        if (!st.isFile())
          throw new StrataError('INVALID_ARGUMENT', `invalid local file '${local}': not a regular file`);
        if (st.size > MAX_INSTANCE_FILE_BYTES) {
          throw new StrataError(
            'INVALID_ARGUMENT',
            `invalid local file '${local}': ${formatBytes(st.size)}, at most ${formatBytes(MAX_INSTANCE_FILE_BYTES)}`,
          );
        }
        bytes = await readFile(local);
      }
      const r = await clientFor(ctx).call<FileWritten>('PUT', filesUrl(name, path), new Uint8Array(bytes));
      ctx.stdout.write(`pushed ${r.sizeBytes} bytes to ${name}/${r.path}\n`);
    });
  file
    .command('pull')
    .description('copy a file of an instance to a local file (- writes standard output)')
    .argument('<target>', 'NAME/PATH: the instance and the path relative to its root (c1/etc/hostname)')
    .argument('<local>', 'the local file to write, or - for standard output')
    .action(async (target: string, local: string) => {
      const { name, path } = splitInstancePath(target);
      const bytes = await clientFor(ctx).call<Buffer>('GET', filesUrl(name, path));
      if (local === '-') ctx.stdout.write(bytes);
      else {
        await writeFile(local, bytes).catch((err: NodeJS.ErrnoException) => {
          throw new StrataError('IO', `cannot write ${local}: ${err.message}`);
        });
      }
    });
};
