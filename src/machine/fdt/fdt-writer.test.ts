import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FdtWriter } from './fdt-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-fdt-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sample(): Uint8Array {
  const w = new FdtWriter();
  w.addReservation({ address: 0x8000_0000, sizeBytes: 0x8_0000 });
  w.beginNode('');
  w.propU32('#address-cells', 1);
  w.propU32('#size-cells', 1);
  w.propString('compatible', 'test,board');
  w.beginNode('node@1000');
  w.propCells('reg', [0, 0x1000]);
  w.propStrings('compatible', ['a,b', 'c']);
  w.propU64('big', 0x1_2345_6789);
  w.propEmpty('flag');
  w.propBytes('raw', new Uint8Array([1, 2, 3]));
  w.propString('compatible2', 'x');
  w.endNode();
  w.endNode();
  return w.finish(3);
}

describe('FdtWriter', () => {
  it('writes a version 17 header with consistent offsets (Devicetree spec §5.2)', () => {
    const b = sample();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    assert.equal(dv.getUint32(0), 0xd00dfeed);
    assert.equal(dv.getUint32(4), b.length);
    assert.equal(dv.getUint32(20), 17);
    assert.equal(dv.getUint32(24), 16);
    assert.equal(dv.getUint32(28), 3);
    const offStruct = dv.getUint32(8);
    const offStrings = dv.getUint32(12);
    assert.equal(dv.getUint32(16) % 8, 0);
    assert.equal(offStruct + dv.getUint32(36), offStrings);
    assert.equal(offStrings + dv.getUint32(32), b.length);
    // Property names are stored once ("compatible" is used twice).
    const strings = new TextDecoder().decode(b.subarray(offStrings));
    assert.equal(strings.split('\0').filter((s) => s === 'compatible').length, 1);
  });

  it('is read back by dtc with the same values', () => {
    const file = join(dir, 'sample.dtb');
    writeFileSync(file, sample());
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /\/memreserve\/\s+0x0*80000000 0x0*80000;/);
    assert.match(r.stdout, /compatible = "test,board";/);
    assert.match(r.stdout, /node@1000 \{/);
    assert.match(r.stdout, /reg = <0x00 0x1000>;/);
    assert.match(r.stdout, /compatible = "a,b\\0c";/);
    assert.match(r.stdout, /big = <0x01 0x23456789>;/);
    assert.match(r.stdout, /flag;/);
    assert.match(r.stdout, /raw = \[01 02 03\];/);
  });

  it('refuses misuse as an internal error', () => {
    const w = new FdtWriter();
    assert.throws(() => w.propU32('x', 1), { code: 'INTERNAL' });
    w.beginNode('');
    assert.throws(() => w.beginNode('bad name'), { code: 'INTERNAL' });
    assert.throws(() => w.finish(), { code: 'INTERNAL' });
  });
});
