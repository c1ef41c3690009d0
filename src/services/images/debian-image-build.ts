/**
 * The build half of `strata image pull debian`: unpacks the downloaded, verified packages and writes the image
 * files: the kernel `Image`, OpenSBI firmware (`fw_jump.bin`, `fw_dynamic.bin`) and the gzip'd cpio initramfs
 * with the kernel modules it needs (resolved from the packages' `modinfo`).
 */

import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';
import { extractDeb } from './deb-extract.js';
import { fsError, removeQuietly, writeFileChecked } from './fs-checked.js';
import { runTool } from './host-tools.js';
import { hashFile, type ImageFile } from './image-store.js';
import { buildInitramfs, type InitramfsModule } from './initramfs.js';
import {
  type ModuleNode,
  moduleDepends,
  moduleNameOfPath,
  readModinfo,
  renderModulesDep,
  resolveModuleClosure,
} from './module-deps.js';

/**
 * Kernel modules the initramfs carries and loads (with their dependencies): virtio over MMIO (the `virt`
 * board's transport), disks, network, entropy, 9p shares and ext4. `crc32c_generic` is ext4's soft dependency
 * (`softdep=pre: crc32c`), which `depends=` does not list. Names the kernel has built in are skipped.
 */
const WANTED_MODULES = [
  'virtio_mmio',
  'virtio_console',
  'virtio_blk',
  'virtio_net',
  'virtio_rng',
  '9pnet_virtio',
  '9p',
  'crc32c_generic',
  'ext4',
];

/** The RISC-V Linux `Image` header magic at offset 0x38 (Linux `Documentation/arch/riscv/boot-image-header.rst`). */
const RISCV_IMAGE_MAGIC2 = [0x52, 0x53, 0x43, 0x05]; // "RSC\x05"

/** What `buildImage` works from: the unpacked-to-be packages and where to write the image. */
export interface BuildInput {
  dir: string;
  name: string;
  kernelVersion: string;
  debs: { kernel: string; busybox: string; opensbi: string };
  env: NodeJS.ProcessEnv;
  progress: ProgressReporter;
  signal: AbortSignal;
}

/**
 * Unpacks the packages into `dir/.work` and writes the image files into `dir`; returns their manifest entries.
 * Every long step (unpacking, compressing the initramfs, hashing) reports its bytes.
 */
export async function buildImage(b: BuildInput): Promise<ImageFile[]> {
  const work = join(b.dir, '.work');
  const debList = [b.debs.kernel, b.debs.busybox, b.debs.opensbi];
  const sizes = await Promise.all(debList.map((p) => stat(p).then((s) => s.size)));
  const total = sizes.reduce((n, s) => n + s, 0);
  b.progress.phase('unpacking packages', total);
  const roots = ['kernel', 'busybox', 'opensbi'].map((k) => join(work, k));
  let done = 0;
  for (let i = 0; i < debList.length; i++) {
    const before = done;
    await extractDeb(debList[i]!, roots[i]!, {
      env: b.env,
      signal: b.signal,
      onBytes: (n) => b.progress.update(before + n, total),
    });
    done += sizes[i]!;
    b.progress.update(done, total);
  }
  b.progress.done();
  const [kernelRoot, busyboxRoot, opensbiRoot] = roots as [string, string, string];

  const vmlinux = join(kernelRoot, 'boot', `vmlinux-${b.kernelVersion}`);
  await checkRiscvImage(vmlinux);
  await moveInto(vmlinux, join(b.dir, 'Image'));
  const fwDir = join(opensbiRoot, 'usr/lib/riscv64-linux-gnu/opensbi/generic');
  for (const fw of ['fw_jump.bin', 'fw_dynamic.bin']) await moveInto(join(fwDir, fw), join(b.dir, fw));

  const busyboxPath = await firstExisting([join(busyboxRoot, 'usr/bin/busybox'), join(busyboxRoot, 'bin/busybox')]);
  const busybox = await readFile(busyboxPath);
  const modRoot = await firstExisting([
    join(kernelRoot, 'usr/lib/modules', b.kernelVersion),
    join(kernelRoot, 'lib/modules', b.kernelVersion),
  ]);
  const modules = await collectModules(modRoot, b);
  b.progress.phase('compressing the initramfs');
  const initrd = await buildInitramfs(
    {
      imageName: b.name,
      kernelVersion: b.kernelVersion,
      busybox,
      modules: modules.files,
      modulesDep: modules.dep,
      load: modules.load,
    },
    (done, total) => b.progress.update(done, total),
  );
  b.progress.done();
  await writeFileChecked(join(b.dir, 'initrd.gz'), initrd);
  // The unpacked packages are scratch inside the staging folder, which goes away with the pull anyway.
  await removeQuietly(work);

  const entries: [string, ImageFile['role']][] = [
    ['Image', 'kernel'],
    ['initrd.gz', 'initrd'],
    ['fw_jump.bin', 'firmware'],
    ['fw_dynamic.bin', 'firmware'],
  ];
  const sizes2 = await Promise.all(entries.map(([path]) => stat(join(b.dir, path)).then((s) => s.size)));
  const hashTotal = sizes2.reduce((n, s) => n + s, 0);
  b.progress.phase('hashing the image files', hashTotal);
  const files: ImageFile[] = [];
  let hashed = 0;
  for (const [path, role] of entries) {
    const before = hashed;
    const h = await hashFile(join(b.dir, path), b.signal, (n) => b.progress.update(before + n, hashTotal));
    files.push({ path, role, sizeBytes: h.sizeBytes, sha256: h.sha256 });
    hashed += h.sizeBytes;
  }
  b.progress.done();
  return files;
}

async function checkRiscvImage(path: string): Promise<void> {
  const head = await readFile(path).catch((err: unknown) => {
    throw fsError(err, path, 'reading');
  });
  const ok = head.length > 0x40 && RISCV_IMAGE_MAGIC2.every((byte, i) => head[0x38 + i] === byte);
  if (!ok)
    throw new StrataError('INVALID_ARGUMENT', `${path} is not a RISC-V Linux Image (no "RSC\\x05" magic at 0x38)`);
}

async function moveInto(from: string, to: string): Promise<void> {
  await rename(from, to).catch((err: unknown) => {
    throw fsError(err, to);
  });
}

async function firstExisting(paths: readonly string[]): Promise<string> {
  for (const p of paths) {
    if (
      await stat(p).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  throw new StrataError('NOT_FOUND', `none of ${paths.join(', ')} is in the unpacked packages`);
}

/** Finds, decompresses and dependency-orders the modules the initramfs carries. */
async function collectModules(
  modRoot: string,
  b: BuildInput,
): Promise<{ files: InitramfsModule[]; dep: string; load: string[] }> {
  const index = new Map<string, string>(); // module name -> path relative to modRoot (compressed name)
  const walk = async (rel: string): Promise<void> => {
    for (const ent of await readdir(join(modRoot, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) await walk(r);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(ent.name)) index.set(moduleNameOfPath(ent.name), r);
    }
  };
  await walk('kernel');
  const builtin = new Set(
    (
      await readFile(join(modRoot, 'modules.builtin'), 'utf8').catch((err: NodeJS.ErrnoException) => {
        // A kernel package without modules.builtin has nothing built in; an unreadable one is an error.
        if (err.code === 'ENOENT') return '';
        throw fsError(err, join(modRoot, 'modules.builtin'), 'reading');
      })
    )
      .split('\n')
      .filter((l) => l !== '')
      .map(moduleNameOfPath),
  );
  const bytesByName = new Map<string, Uint8Array>();
  const lookup = async (name: string): Promise<ModuleNode | undefined> => {
    const rel = index.get(name);
    if (!rel) return undefined;
    const raw = await decompressModule(join(modRoot, rel), b);
    bytesByName.set(name, raw);
    return { name, relPath: rel.replace(/\.(xz|zst|gz)$/, ''), depends: moduleDepends(readModinfo(raw, rel)) };
  };
  const wanted = WANTED_MODULES.filter((m) => {
    if (index.has(m)) return true;
    if (builtin.has(m)) return false;
    throw new StrataError('NOT_FOUND', `kernel module '${m}' is neither built in nor in the kernel package`);
  });
  const order = await resolveModuleClosure(wanted, lookup);
  b.progress.note(`initramfs modules: ${order.map((m) => m.name).join(' ')}`);
  const relOf = new Map(order.map((m) => [m.name, m.relPath]));
  return {
    files: order.map((m) => ({ relPath: m.relPath, bytes: bytesByName.get(m.name)! })),
    dep: renderModulesDep(order),
    load: wanted.map((m) => relOf.get(m)!),
  };
}

async function decompressModule(path: string, b: BuildInput): Promise<Uint8Array> {
  if (path.endsWith('.ko')) return readFile(path);
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : 'gzip';
  const out = await runTool(tool, ['-dc', path], {
    env: b.env,
    signal: b.signal,
    onFail: (stderr) => new StrataError('IO', `cannot decompress ${path} with ${tool}: ${stderr}`),
  });
  return out.stdout;
}
