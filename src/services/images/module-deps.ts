/**
 * Kernel module dependencies without `depmod`: Debian's kernel package ships no `modules.dep` (its postinst
 * runs depmod), so the image builder reads each module's `.modinfo` ELF section, whose `depends=` field
 * modpost wrote at kernel build time, and writes a `modules.dep` in depmod's format for the modules it carries.
 * Pure: no `node:*`.
 */

import { StrataError } from '../../base/errors.js';

const decoder = new TextDecoder();

/**
 * The `key=value` strings of an ELF64 little-endian object's `.modinfo` section (ELF gABI: section header
 * table at `e_shoff`, names in section `e_shstrndx`). Keys may repeat (`alias=`), so values are lists.
 * Throws INVALID_ARGUMENT naming `what` when the bytes are not such an object.
 */
export function readModinfo(elf: Uint8Array, what = 'module'): Map<string, string[]> {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const bad = (why: string) => new StrataError('INVALID_ARGUMENT', `${what} is not a kernel module: ${why}`);
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw bad('no ELF magic');
  }
  if (elf[4] !== 2 || elf[5] !== 1) throw bad('not a 64-bit little-endian ELF file');
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) throw bad('bad section table');
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return {
      nameOff: view.getUint32(base, true),
      offset: Number(view.getBigUint64(base + 24, true)),
      size: Number(view.getBigUint64(base + 32, true)),
    };
  };
  const strtab = section(shstrndx);
  const nameAt = (off: number): string => {
    const start = strtab.offset + off;
    let end = start;
    while (end < elf.length && elf[end] !== 0) end++;
    return decoder.decode(elf.subarray(start, end));
  };
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameAt(s.nameOff) !== '.modinfo') continue;
    if (s.offset + s.size > elf.length) throw bad('.modinfo runs past the end of the file');
    const text = decoder.decode(elf.subarray(s.offset, s.offset + s.size));
    for (const item of text.split('\0')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq);
      const list = out.get(key) ?? [];
      list.push(item.slice(eq + 1));
      out.set(key, list);
    }
    return out;
  }
  throw bad('no .modinfo section');
}

/** The module names a module needs loaded first (its `depends=` list; empty when it has none). */
export function moduleDepends(modinfo: Map<string, string[]>): string[] {
  const raw = modinfo.get('depends')?.[0] ?? '';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A kernel module's name as the kernel spells it: file name without `.ko[.xz|.zst|.gz]`, `-` read as `_`. */
export function moduleNameOfPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** One module the image carries: its name, its path relative to `lib/modules/<version>/`, its direct deps. */
export interface ModuleNode {
  name: string;
  relPath: string;
  depends: readonly string[];
}

/**
 * The closure of `wanted` over `depends`, in a load order where every module comes after its dependencies.
 * `lookup(name)` returns a module's node or undefined when it is not a loadable module (built in, or absent);
 * a wanted module that is absent is a NOT_FOUND error, an absent dependency too (the kernel could not load it).
 */
export async function resolveModuleClosure(
  wanted: readonly string[],
  lookup: (name: string) => Promise<ModuleNode | undefined>,
): Promise<ModuleNode[]> {
  const order: ModuleNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, neededBy?: string): Promise<void> => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new StrataError('INVALID_ARGUMENT', `kernel module dependency cycle at '${name}'`);
    state.set(name, 'visiting');
    const node = await lookup(name);
    if (!node) {
      const by = neededBy ? ` (needed by '${neededBy}')` : '';
      throw new StrataError('NOT_FOUND', `kernel module '${name}'${by} is not in the kernel package`);
    }
    for (const dep of node.depends) await visit(dep, name);
    state.set(name, 'done');
    order.push(node);
  };
  for (const name of wanted) await visit(name);
  return order;
}

/**
 * `modules.dep` text in depmod's format for `modules` (which must be closed under `depends`): one line per
 * module, `path: dep1 dep2 ...` listing every transitive dependency so that loading the list from its end to its
 * start, then the module, is a valid order (what `modprobe` does).
 */
export function renderModulesDep(modules: readonly ModuleNode[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const lines: string[] = [];
  for (const m of modules) {
    const loadOrder: string[] = [];
    const seen = new Set<string>();
    const walk = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const node = byName.get(name);
      if (!node) throw new StrataError('INTERNAL', `module '${name}' missing from its own closure`);
      for (const d of node.depends) walk(d);
      if (name !== m.name) loadOrder.push(node.relPath);
    };
    walk(m.name);
    lines.push(`${m.relPath}:${loadOrder.length > 0 ? ' ' : ''}${loadOrder.reverse().join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
