import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  containerImageStoreName,
  hostDebianArch,
  isStaticElf,
  parseDpkgStatus,
  pullContainerImage,
} from './container-image.js';
import { findExecutable } from './host-tools.js';
import { ImageStore, imageTypeOf, parseManifest } from './image-store.js';

test('names and architecture', () => {
  assert.equal(containerImageStoreName('debian'), 'debian-container');
  assert.equal(containerImageStoreName('debian-container'), 'debian-container');
  assert.equal(hostDebianArch('x64'), 'amd64');
  assert.equal(hostDebianArch('arm64'), 'arm64');
});

test('parseDpkgStatus keeps installed packages only', () => {
  const status = [
    'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n',
    'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n',
  ].join('\n');
  assert.deepEqual(parseDpkgStatus(status), { bash: '5.2.15-2+b2', libc6: '2.36-9' });
});

test('container manifests: type and rootfs; VM manifests without type read as vm', () => {
  const common = {
    schemaVersion: 1,
    name: 'x',
    arch: 'amd64',
    distribution: 'debian',
    release: 'bookworm',
    packages: {},
    mirror: 'http://m/debian',
    files: [],
    createdAt: new Date().toISOString(),
    builderVersion: 1,
  };
  const c = parseManifest(
    { ...common, type: 'container', rootfs: 'rootfs', kernelVersion: '', kernelCmdline: '' },
    'm',
  );
  assert.equal(imageTypeOf(c), 'container');
  assert.equal(c.rootfs, 'rootfs');
  assert.throws(
    () => parseManifest({ ...common, type: 'container', rootfs: '../x', kernelVersion: '', kernelCmdline: '' }, 'm'),
    /'rootfs'/,
  );
  assert.throws(
    () => parseManifest({ ...common, type: 'floppy', kernelVersion: '1', kernelCmdline: 'c' }, 'm'),
    /'type'/,
  );
  assert.throws(() => parseManifest({ ...common, kernelVersion: '', kernelCmdline: '' }, 'm'), /'kernelVersion'/);
  const vm = parseManifest({ ...common, kernelVersion: '6.12', kernelCmdline: 'console=ttyS0' }, 'm');
  assert.equal(imageTypeOf(vm), 'vm');
  assert.equal('type' in vm, false, 'a VM manifest round-trips unchanged');
});

test('isStaticElf', async () => {
  const bb = await findExecutable('busybox', process.env.PATH);
  if (bb) assert.equal(await isStaticElf(bb), true, `${bb} should be busybox-static`);
  const node = process.execPath;
  assert.equal(await isStaticElf(node), false);
  assert.equal(await isStaticElf('/etc/hostname'), false);
});

test('the busybox container image: applet links, /etc, manifest; a second pull builds nothing', async (t) => {
  const bb = await findExecutable('busybox', process.env.PATH);
  if (!bb) {
    t.skip('busybox-static is not installed');
    return;
  }
  const home = mkdtempSync(join(tmpdir(), 'strata-ctimg-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const store = new ImageStore(home);
  const r = await pullContainerImage({ store, kind: 'busybox', env: process.env });
  assert.equal(r.built, true);
  assert.equal(r.manifest.name, 'busybox-container');
  assert.equal(r.manifest.type, 'container');
  assert.equal(r.manifest.arch, hostDebianArch());
  assert.equal(r.rootfsPath, join(home, 'images', 'busybox-container', 'rootfs'));
  assert.ok(lstatSync(join(r.rootfsPath, 'bin', 'busybox')).isFile());
  assert.equal(readlinkSync(join(r.rootfsPath, 'bin', 'sh')), '/bin/busybox');
  assert.match(readFileSync(join(r.rootfsPath, 'etc', 'passwd'), 'utf8'), /^root:x:0:0:/);
  const again = await pullContainerImage({ store, kind: 'busybox', env: process.env });
  assert.equal(again.built, false);
  const listed = await store.list();
  assert.deepEqual(
    listed.map((m) => [m.name, imageTypeOf(m)]),
    [['busybox-container', 'container']],
  );
  // A host without busybox: UNAVAILABLE naming the package, nothing left in the store.
  await assert.rejects(
    pullContainerImage({ store, kind: 'busybox', env: { PATH: join(home, 'nothing') }, force: true }),
    /busybox-static/,
  );
  assert.ok(existsSync(join(home, 'images', 'busybox-container', 'manifest.json')), 'the old image stays');
});
