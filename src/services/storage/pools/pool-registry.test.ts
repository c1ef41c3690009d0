import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isStrataError } from '../../../base/errors.js';
import { DEFAULT_POOL, PoolRegistry } from './pool-registry.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-pools-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const code = (c: string, re?: RegExp) => (e: unknown) =>
  isStrataError(e) && e.code === c && (re === undefined || re.test(e.message));

test('the default pool appears on first use; pools are created, listed, shown and deleted', async () => {
  const home = join(dir, 'home1');
  const reg = new PoolRegistry(home);
  assert.deepEqual(
    (await reg.definitions()).map((d) => [d.name, d.type]),
    [[DEFAULT_POOL, 'dir']],
  );
  const own = join(dir, 'elsewhere');
  await reg.create('fast', { path: own });
  await reg.create('b2');
  assert.deepEqual(
    (await reg.definitions()).map((d) => d.name),
    ['b2', 'default', 'fast'],
  );
  assert.equal((await reg.definition('fast')).path, own);
  await assert.rejects(reg.create('fast'), code('ALREADY_EXISTS', /fast/));
  await assert.rejects(
    reg.create('twin', { path: own }),
    code('CONFLICT', /already the directory of storage pool 'fast'/),
  );
  const pool = await reg.open('fast');
  await pool.createVolume('v', { sizeBytes: 1 << 20 });
  const info = await reg.info('fast');
  assert.equal(info.volumes, 1);
  assert.ok(info.availableBytes === null || info.availableBytes > 0);
  await assert.rejects(reg.delete('fast'), code('CONFLICT', /not empty.*'v'/));
  await pool.deleteVolume('v');
  await reg.delete('fast');
  assert.ok(existsSync(own), "a pool's own directory stays");
  await assert.rejects(reg.open('fast'), code('NOT_FOUND', /no storage pool 'fast'/));
  await assert.rejects(reg.delete('nope'), code('NOT_FOUND'));
});

test('pool names cannot reach outside the registry; a failed create leaves nothing', async () => {
  const home = join(dir, 'home2');
  const reg = new PoolRegistry(home);
  for (const bad of ['..', '../x', 'a/b', '.x', '']) {
    await assert.rejects(reg.create(bad), code('INVALID_ARGUMENT', /invalid pool name/));
    await assert.rejects(reg.open(bad), code('INVALID_ARGUMENT'));
  }
  await assert.rejects(reg.create('p', { type: 'lvm' }), code('INVALID_ARGUMENT', /unknown pool type 'lvm'/));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  await assert.rejects(reg.create('p', { path: file }), code('INVALID_ARGUMENT', /not a directory/));
  await reg.definitions();
  assert.deepEqual(readdirSync(join(home, 'storage-pools')), [DEFAULT_POOL]);
});
