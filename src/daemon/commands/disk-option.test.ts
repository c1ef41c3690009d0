import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectDiskOption, parseDiskOption } from './disk-option.js';

test('parseDiskOption reads the file, the format and readonly', () => {
  assert.deepEqual(parseDiskOption('a.img'), { path: 'a.img', readOnly: false });
  assert.deepEqual(parseDiskOption('a.qcow2,format=qcow2'), { path: 'a.qcow2', format: 'qcow2', readOnly: false });
  assert.deepEqual(parseDiskOption('b.raw,readonly,format=raw'), { path: 'b.raw', format: 'raw', readOnly: true });
  assert.deepEqual(parseDiskOption('b.raw,readonly=on'), { path: 'b.raw', readOnly: true });
  assert.deepEqual(parseDiskOption('b.raw,readonly=off'), { path: 'b.raw', readOnly: false });
});

test('parseDiskOption names the bad part', () => {
  assert.throws(() => parseDiskOption(''), /the file is missing/);
  assert.throws(() => parseDiskOption(',readonly'), /the file is missing/);
  assert.throws(() => parseDiskOption('a.img,format=vmdk'), /unknown setting 'format=vmdk'/);
  assert.throws(() => parseDiskOption('a.img,cache=none'), /unknown setting 'cache=none'/);
});

test('collectDiskOption keeps the order of repeated --disk', () => {
  const all = collectDiskOption('b.img,readonly', collectDiskOption('a.img', undefined));
  assert.deepEqual(
    all.map((d) => d.path),
    ['a.img', 'b.img'],
  );
});

test('parseDiskOption reads pool volumes: vol=POOL/NAME and volume=NAME (default pool)', () => {
  assert.deepEqual(parseDiskOption('vol=fast/data'), { volume: { pool: 'fast', name: 'data' }, readOnly: false });
  assert.deepEqual(parseDiskOption('volume=data,readonly'), {
    volume: { pool: 'default', name: 'data' },
    readOnly: true,
  });
  assert.throws(() => parseDiskOption('vol=a/b/c'), /POOL\/NAME/);
  assert.throws(() => parseDiskOption('vol='), /POOL\/NAME/);
  assert.throws(() => parseDiskOption('vol=../x'), /invalid pool name '\.\.'/);
  assert.throws(() => parseDiskOption('vol=p/.x'), /invalid volume name/);
  assert.throws(() => parseDiskOption('vol=p/x,format=raw'), /a volume has its own format/);
});
