import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildVirtFdt, VIRT_RISCV_ISA, VIRT_RISCV_ISA_BASE, VIRT_RISCV_ISA_EXTENSIONS } from './virt-fdt.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-virt-fdt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function dtc(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('dtc', args, { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Decodes a DTB with the real dtc into node path -> property -> value text. */
function decode(dtb: Uint8Array, name: string): { dts: string; nodes: Map<string, Map<string, string>> } {
  const file = join(dir, `${name}.dtb`);
  writeFileSync(file, dtb);
  const r = dtc(['-I', 'dtb', '-O', 'dts', file]);
  assert.equal(r.status, 0, r.stderr);
  const nodes = new Map<string, Map<string, string>>();
  const stack: string[] = [];
  for (const raw of r.stdout.split('\n')) {
    const line = raw.trim();
    let m = /^([^\s=]+) \{$/.exec(line);
    if (m) {
      const seg = m[1] === '/' ? '' : (m[1] ?? '');
      stack.push(seg);
      nodes.set(stack.join('/') || '/', new Map());
      continue;
    }
    if (line === '};') {
      stack.pop();
      continue;
    }
    m = /^([^\s=]+)(?: = (.*))?;$/.exec(line);
    if (m && stack.length > 0) nodes.get(stack.join('/') || '/')?.set(m[1] ?? '', m[2] ?? '');
  }
  return { dts: r.stdout, nodes };
}

const MiB = 1024 * 1024;
const ours = buildVirtFdt({
  memoryBytes: 512 * MiB,
  bootargs: 'console=ttyS0 quiet',
  initrd: { start: 0x9f00_0000, end: 0x9f80_0000 },
  rngSeed: new Uint8Array(32).fill(0xa5),
});

describe('virt device tree', () => {
  const { nodes } = decode(ours, 'ours');
  const prop = (path: string, name: string) => nodes.get(path)?.get(name);

  it('decodes with dtc without warnings and compiles back to the same bytes', () => {
    const file = join(dir, 'ours.dtb');
    const decoded = dtc(['-I', 'dtb', '-O', 'dts', '-o', join(dir, 'ours.dts'), file]);
    assert.equal(decoded.status, 0);
    assert.equal(decoded.stderr, '', 'dtc warns about the blob');
    const back = dtc(['-I', 'dts', '-O', 'dtb', '-o', join(dir, 'back.dtb'), join(dir, 'ours.dts')]);
    assert.equal(back.status, 0, back.stderr);
    // Decompiled sources carry numeric phandles, which dtc flags inside interrupts-extended; QEMU's tree does too.
    const warnings = back.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !/interrupts_extended_property.*is not a phandle reference/.test(l));
    assert.deepEqual(warnings, []);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'back.dtb'))), ours);
  });

  it('describes the harts as Linux needs them', () => {
    assert.equal(prop('/cpus', 'timebase-frequency'), '<0x989680>');
    assert.equal(prop('/cpus/cpu@0', 'riscv,isa'), '"rv64imafdc_zicntr_zicsr_zifencei"');
    assert.equal(prop('/cpus/cpu@0', 'riscv,isa-base'), '"rv64i"');
    // Zicntr (cycle/time/instret) is implemented and Linux reads this list for it; Zihpm is not implemented.
    assert.equal(prop('/cpus/cpu@0', 'riscv,isa-extensions'), '"i\\0m\\0a\\0f\\0d\\0c\\0zicntr\\0zicsr\\0zifencei"');
  });

  it('keeps riscv,isa and riscv,isa-extensions consistent', () => {
    // Every single-letter extension after the base, then every multi-letter one, joined by underscores.
    const exts = [...VIRT_RISCV_ISA_EXTENSIONS];
    const letters = exts.filter((e) => e.length === 1 && e !== 'i').join('');
    const multi = exts.filter((e) => e.length > 1);
    assert.equal(VIRT_RISCV_ISA, [`${VIRT_RISCV_ISA_BASE}${letters}`, ...multi].join('_'));
    assert.ok(!exts.includes('zihpm' as never), 'the hart has no hardware performance counters');
    assert.equal(prop('/cpus/cpu@0', 'mmu-type'), '"riscv,sv39"');
    assert.equal(prop('/cpus/cpu@0/interrupt-controller', 'compatible'), '"riscv,cpu-intc"');
    assert.equal(prop('/cpus/cpu@0/interrupt-controller', 'interrupt-controller'), '');
  });

  it('has memory, chosen and the SoC devices', () => {
    assert.equal(prop('/memory@80000000', 'reg'), '<0x00 0x80000000 0x00 0x20000000>');
    assert.equal(prop('/chosen', 'bootargs'), '"console=ttyS0 quiet"');
    assert.equal(prop('/chosen', 'stdout-path'), '"/soc/serial@10000000"');
    assert.equal(prop('/chosen', 'linux,initrd-start'), '<0x00 0x9f000000>');
    assert.equal(prop('/chosen', 'linux,initrd-end'), '<0x00 0x9f800000>');
    assert.ok(prop('/chosen', 'rng-seed')?.startsWith('<0xa5a5a5a5'));
    // 3686400 = 0x00384000, whose bytes dtc guesses to be a string ("\0" "8" "@"), as it does for QEMU's tree.
    assert.equal(prop('/soc/serial@10000000', 'clock-frequency'), '"\\08@"');
    assert.equal(prop('/soc/serial@10000000', 'interrupts'), '<0x0a>');
    assert.equal(prop('/soc/rtc@101000', 'interrupts'), '<0x0b>');
    assert.equal(prop('/soc/test@100000', 'compatible'), '"sifive,test1\\0sifive,test0\\0syscon"');
    assert.equal(prop('/poweroff', 'value'), '<0x5555>');
    assert.equal(prop('/reboot', 'value'), '<0x7777>');
    assert.equal(prop('/soc/plic@c000000', 'interrupts-extended'), '<0x02 0x0b 0x02 0x09>');
    assert.equal(prop('/soc/clint@2000000', 'interrupts-extended'), '<0x02 0x03 0x02 0x07>');
    for (let n = 0; n < 8; n++) {
      const path = `/soc/virtio_mmio@${(0x1000_1000 + n * 0x1000).toString(16)}`;
      assert.equal(prop(path, 'compatible'), '"virtio,mmio"', path);
      assert.equal(prop(path, 'interrupts'), `<0x0${n + 1}>`, path);
    }
  });

  it('leaves out the initrd properties when there is no initrd', () => {
    const { nodes: plain } = decode(buildVirtFdt({ memoryBytes: 64 * MiB, bootargs: '' }), 'plain');
    assert.equal(plain.get('/chosen')?.has('linux,initrd-start'), false);
    assert.equal(plain.get('/chosen')?.has('rng-seed'), false);
  });

  it('rejects a hart count or memory size it cannot describe', () => {
    assert.throws(() => buildVirtFdt({ memoryBytes: 0, bootargs: '' }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => buildVirtFdt({ memoryBytes: MiB, bootargs: '', hartCount: 0 }), { code: 'INVALID_ARGUMENT' });
  });

  const qemu = '/usr/bin/qemu-system-riscv64';
  it('matches the structure of QEMU virt where Linux looks', { skip: !existsSync(qemu) && 'no qemu' }, () => {
    const file = join(dir, 'qemu.dtb');
    const r = spawnSync(qemu, ['-M', `virt,dumpdtb=${file}`, '-m', '512', '-nographic'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const q = decode(new Uint8Array(readFileSync(file)), 'qemu-decoded').nodes;
    // Every device node QEMU has under /soc (except PCI, which this board does not have) exists here with the
    // same compatible, reg and interrupts; so do /poweroff, /reboot, /memory and /cpus/cpu@0/interrupt-controller.
    const paths = [...q.keys()].filter(
      (p) =>
        (p.startsWith('/soc/') && !p.includes('pci')) ||
        ['/poweroff', '/reboot', '/memory@80000000', '/cpus/cpu@0/interrupt-controller'].includes(p),
    );
    assert.ok(paths.length >= 14, `only ${paths.length} QEMU nodes compared`);
    for (const path of paths) {
      const theirs = q.get(path);
      const mine = nodes.get(path);
      assert.ok(mine, `missing node ${path}`);
      for (const name of [
        'compatible',
        'reg',
        'interrupts',
        'value',
        'offset',
        'device_type',
        'interrupt-controller',
      ]) {
        if (theirs?.has(name)) assert.equal(mine.get(name), theirs.get(name), `${path} ${name}`);
      }
      for (const name of ['interrupts-extended', 'interrupt-parent', 'regmap', '#interrupt-cells']) {
        assert.equal(mine.has(name), theirs?.has(name), `${path} has ${name}`);
      }
    }
    assert.equal(prop('/chosen', 'stdout-path'), q.get('/chosen')?.get('stdout-path'));
    assert.equal(prop('/cpus', 'timebase-frequency'), q.get('/cpus')?.get('timebase-frequency'));
    assert.equal(prop('/', 'compatible'), q.get('/')?.get('compatible'));
  });
});
