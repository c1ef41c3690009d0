import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFileInRoot, resolveInRoot, writeFileInRoot } from './rootfs-files.js';

test('paths resolve inside the root: links are followed as if the root were /', async () => {
  const base = mkdtempSync(join(tmpdir(), 'rootfs-'));
  try {
    const root = join(base, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(base, 'host-etc'));
    writeFileSync(join(base, 'host-etc', 'secret'), 'host\n');
    writeFileSync(join(root, 'etc', 'secret'), 'container\n');
    symlinkSync('/etc', join(root, 'abs'));
    symlinkSync('../../../../host-etc', join(root, 'climb'));
    symlinkSync(join(base, 'host-etc'), join(root, 'hostpath'));
    symlinkSync('loop', join(root, 'loop'));
    assert.equal(await resolveInRoot(root, 'abs/secret'), join(root, 'etc', 'secret'));
    await assert.rejects(readFileInRoot(root, 'climb/secret'), /no file 'climb\/secret' in the container/);
    await assert.rejects(readFileInRoot(root, 'hostpath/secret'), /no file 'hostpath\/secret' in the container/);
    assert.equal(String(await readFileInRoot(root, 'abs/secret')), 'container\n');
    const opts = { createFolders: true };
    assert.equal(await resolveInRoot(root, 'climb/secret', opts), join(root, 'host-etc', 'secret'));
    assert.equal(await resolveInRoot(root, 'hostpath/secret', opts), join(root, base.slice(1), 'host-etc', 'secret'));
    await assert.rejects(resolveInRoot(root, 'loop/x'), /more than 40 symbolic links/);
    await assert.rejects(resolveInRoot(root, '../x'), /'\.\.' could lead outside/);
    await writeFileInRoot(root, 'abs/new/file.txt', new TextEncoder().encode('made\n'));
    assert.equal(readFileSync(join(root, 'etc', 'new', 'file.txt'), 'utf8'), 'made\n');
    await writeFileInRoot(root, 'hostpath/secret', new TextEncoder().encode('x'));
    assert.equal(readFileSync(join(base, 'host-etc', 'secret'), 'utf8'), 'host\n', 'the host file is untouched');
    await assert.rejects(writeFileInRoot(root, 'etc', new Uint8Array(1)), /it is a folder/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
