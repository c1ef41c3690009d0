import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ModuleNode,
  moduleDepends,
  moduleNameOfPath,
  readModinfo,
  renderModulesDep,
  resolveModuleClosure,
} from './module-deps.js';

/** A minimal ELF64 little-endian relocatable object with a `.modinfo` section holding `items`. */
function fakeModule(items: string[]): Uint8Array {
  const enc = new TextEncoder();
  const shstrtab = enc.encode('\0.shstrtab\0.modinfo\0');
  const modinfo = enc.encode(items.map((s) => `${s}\0`).join(''));
  const shstrOff = 64;
  const modOff = shstrOff + shstrtab.length;
  const shoff = Math.ceil((modOff + modinfo.length) / 8) * 8;
  const bytes = new Uint8Array(shoff + 3 * 64);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(0x10, 1, true); // ET_REL
  v.setUint16(0x12, 243, true); // EM_RISCV
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, 3, true);
  v.setUint16(0x3e, 1, true);
  bytes.set(shstrtab, shstrOff);
  bytes.set(modinfo, modOff);
  const sh = (i: number, name: number, type: number, off: number, size: number) => {
    const b = shoff + i * 64;
    v.setUint32(b, name, true);
    v.setUint32(b + 4, type, true);
    v.setBigUint64(b + 24, BigInt(off), true);
    v.setBigUint64(b + 32, BigInt(size), true);
  };
  sh(1, 1, 3, shstrOff, shstrtab.length);
  sh(2, 11, 1, modOff, modinfo.length);
  return bytes;
}

test('readModinfo reads key=value strings, repeated keys as lists', () => {
  const info = readModinfo(
    fakeModule(['alias=virtio:d00000001v*', 'alias=net', 'depends=net_failover,failover', 'name=virtio_net']),
  );
  assert.deepEqual(info.get('alias'), ['virtio:d00000001v*', 'net']);
  assert.deepEqual(moduleDepends(info), ['net_failover', 'failover']);
  assert.deepEqual(moduleDepends(readModinfo(fakeModule(['depends=', 'name=failover']))), []);
});

test('readModinfo rejects what is not a 64-bit ELF module', () => {
  assert.throws(() => readModinfo(new Uint8Array(100), 'x.ko'), /x\.ko is not a kernel module: no ELF magic/);
  const m = fakeModule(['name=a']);
  m[4] = 1;
  assert.throws(() => readModinfo(m), /64-bit little-endian/);
});

test('moduleNameOfPath strips compression suffixes and reads - as _', () => {
  assert.equal(moduleNameOfPath('kernel/drivers/char/hw_random/virtio-rng.ko.xz'), 'virtio_rng');
  assert.equal(moduleNameOfPath('9pnet_virtio.ko'), '9pnet_virtio');
  assert.equal(moduleNameOfPath('kernel/fs/ext4/ext4.ko.zst'), 'ext4');
});

const GRAPH: Record<string, ModuleNode> = {
  virtio_net: { name: 'virtio_net', relPath: 'kernel/drivers/net/virtio_net.ko', depends: ['net_failover'] },
  net_failover: { name: 'net_failover', relPath: 'kernel/drivers/net/net_failover.ko', depends: ['failover'] },
  failover: { name: 'failover', relPath: 'kernel/net/core/failover.ko', depends: [] },
  ext4: { name: 'ext4', relPath: 'kernel/fs/ext4/ext4.ko', depends: ['crc16', 'mbcache', 'jbd2'] },
  crc16: { name: 'crc16', relPath: 'kernel/lib/crc16.ko', depends: [] },
  mbcache: { name: 'mbcache', relPath: 'kernel/fs/mbcache.ko', depends: [] },
  jbd2: { name: 'jbd2', relPath: 'kernel/fs/jbd2/jbd2.ko', depends: [] },
};
const lookup = async (n: string) => GRAPH[n];

test('resolveModuleClosure orders every module after its dependencies', async () => {
  const order = (await resolveModuleClosure(['virtio_net', 'ext4'], lookup)).map((m) => m.name);
  assert.deepEqual(order, ['failover', 'net_failover', 'virtio_net', 'crc16', 'mbcache', 'jbd2', 'ext4']);
  await assert.rejects(resolveModuleClosure(['nope'], lookup), /kernel module 'nope' is not in the kernel package/);
  const broken = async (n: string) => (n === 'a' ? { name: 'a', relPath: 'a.ko', depends: ['b'] } : undefined);
  await assert.rejects(resolveModuleClosure(['a'], broken), /'b' \(needed by 'a'\)/);
  const cyclic = async (n: string) => ({ name: n, relPath: `${n}.ko`, depends: [n === 'a' ? 'b' : 'a'] });
  await assert.rejects(resolveModuleClosure(['a'], cyclic), /cycle/);
});

test('renderModulesDep writes depmod format: transitive deps, loadable from the end of the list', async () => {
  const order = await resolveModuleClosure(['virtio_net', 'ext4'], lookup);
  const text = renderModulesDep(order);
  const lines = new Map(
    text
      .trim()
      .split('\n')
      .map((l) => {
        const [k, v] = l.split(':');
        return [k ?? '', (v ?? '').trim().split(' ').filter(Boolean)] as const;
      }),
  );
  assert.deepEqual(lines.get('kernel/net/core/failover.ko'), []);
  assert.deepEqual(lines.get('kernel/drivers/net/virtio_net.ko'), [
    'kernel/drivers/net/net_failover.ko',
    'kernel/net/core/failover.ko',
  ]);
  assert.match(text, /^kernel\/net\/core\/failover\.ko:$/m);
  // Loading each line's deps from last to first, then the module, never loads a module before its deps.
  for (const [mod, deps] of lines) {
    const loaded = new Set<string>();
    for (const d of [...deps].reverse().concat(mod)) {
      const node = order.find((m) => m.relPath === d)!;
      for (const dep of node.depends) assert.ok(loaded.has(GRAPH[dep]!.relPath), `${d} before ${dep}`);
      loaded.add(d);
    }
  }
});
