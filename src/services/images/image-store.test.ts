import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fsError } from './fs-checked.js';
import {
  CorruptManifestError,
  defaultStrataHome,
  hashFile,
  type ImageManifest,
  ImageStore,
  MANIFEST_SCHEMA_VERSION,
  parseManifest,
} from './image-store.js';

function tempHome(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The images folder's entries, content folders' random part as `*`, sorted. */
function entries(store: ImageStore): string[] {
  return readdirSync(store.imagesDir)
    .map((n) => n.replace(/^(\.image-.+@)[0-9a-f]+$/, '$1*'))
    .sort();
}

function manifest(name: string, files: ImageManifest['files']): ImageManifest {
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    name,
    arch: 'riscv64',
    distribution: 'debian',
    release: 'trixie',
    kernelVersion: '6.12.0-test-riscv64',
    kernelCmdline: 'console=ttyS0',
    packages: { opensbi: '1.6-1' },
    mirror: 'http://mirror.example/debian',
    files,
    createdAt: '2026-01-02T03:04:05.000Z',
    builderVersion: 1,
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('defaultStrataHome: STRATA_HOME, then absolute XDG_DATA_HOME, then ~/.local/share', () => {
  assert.equal(defaultStrataHome({ STRATA_HOME: '/s', XDG_DATA_HOME: '/x', HOME: '/h' }), '/s');
  assert.equal(defaultStrataHome({ XDG_DATA_HOME: '/x', HOME: '/h' }), '/x/strata');
  assert.equal(defaultStrataHome({ XDG_DATA_HOME: 'relative', HOME: '/h' }), '/h/.local/share/strata');
  assert.equal(defaultStrataHome({ HOME: '/h' }), '/h/.local/share/strata');
});

test('a staged image appears only on commit, with its manifest round-tripping', async (t) => {
  const store = new ImageStore(tempHome(t));
  assert.deepEqual(await store.list(), []);
  const staging = await store.beginStaging('img');
  writeFileSync(join(staging.dir, 'Image'), 'kernel');
  assert.deepEqual(await store.list(), [], 'staging folders are not images');
  const m = manifest('img', [{ path: 'Image', role: 'kernel', sizeBytes: 6, sha256: sha('kernel') }]);
  await staging.commit(m);
  await staging.discard();
  assert.deepEqual(await store.list(), [m]);
  assert.deepEqual(await store.get('img'), m);
  assert.equal(await store.verify(m), true);
  assert.deepEqual(JSON.parse(readFileSync(join(store.imageDir('img'), 'manifest.json'), 'utf8')), m);
  assert.deepEqual(entries(store), ['.image-img@*', 'img']);
  assert.ok(lstatSync(store.imageDir('img')).isSymbolicLink(), 'images/<name> is a link to its content folder');
  writeFileSync(join(store.imageDir('img'), 'Image'), 'kernel!');
  assert.equal(await store.verify(m), false, 'a changed file fails verification');
});

test('a second commit replaces the image; discard leaves nothing behind', async (t) => {
  const store = new ImageStore(tempHome(t));
  for (const content of ['one', 'two']) {
    const s = await store.beginStaging('img');
    writeFileSync(join(s.dir, 'Image'), content);
    await s.commit(manifest('img', [{ path: 'Image', role: 'kernel', sizeBytes: 3, sha256: sha(content) }]));
  }
  assert.equal(readFileSync(join(store.imageDir('img'), 'Image'), 'utf8'), 'two');
  const failed = await store.beginStaging('img');
  writeFileSync(join(failed.dir, 'Image'), 'half');
  await failed.discard();
  assert.deepEqual(entries(store), ['.image-img@*', 'img'], 'the replaced content folder is gone too');
});

test('replacing an image never leaves its name missing for a reader', async (t) => {
  const store = new ImageStore(tempHome(t));
  const commit = async (content: string) => {
    const s = await store.beginStaging('img');
    writeFileSync(join(s.dir, 'Image'), content);
    await s.commit(
      manifest('img', [{ path: 'Image', role: 'kernel', sizeBytes: content.length, sha256: sha(content) }]),
    );
  };
  await commit('first');
  let stop = false;
  let looks = 0;
  const missing: number[] = [];
  // Looks the image up between every step of the commits (each fs call yields to the event loop).
  const reader = (async () => {
    while (!stop) {
      looks++;
      if (!existsSync(join(store.imageDir('img'), 'manifest.json'))) missing.push(looks);
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 0; i < 20; i++) await commit(`version ${i}`);
  stop = true;
  await reader;
  assert.ok(looks > 20, `the reader ran (${looks} looks)`);
  assert.deepEqual(missing, [], 'the image was missing at these looks');
  assert.equal(readFileSync(join(store.imageDir('img'), 'Image'), 'utf8'), 'version 19');
  assert.deepEqual(entries(store), ['.image-img@*', 'img']);
});

test('resolve reads every file from one content folder, which a replacement does not change', async (t) => {
  const store = new ImageStore(tempHome(t));
  const s = await store.beginStaging('img');
  await s.commit(manifest('img', []));
  const r = await store.resolve('img');
  assert.ok(r);
  assert.match(r.dir, /\/\.image-img@[0-9a-f]+$/);
  assert.deepEqual(r.manifest, await store.get('img'));
  assert.equal(await store.resolve('nosuch'), undefined);
});

test('a store from before links (a real folder) is replaced by a link and the old folder removed', async (t) => {
  const store = new ImageStore(tempHome(t));
  mkdirSync(store.imageDir('img'), { recursive: true });
  writeFileSync(join(store.imageDir('img'), 'manifest.json'), JSON.stringify(manifest('img', [])));
  assert.equal((await store.get('img'))?.name, 'img');
  const s = await store.beginStaging('img');
  writeFileSync(join(s.dir, 'Image'), 'new');
  await s.commit(manifest('img', [{ path: 'Image', role: 'kernel', sizeBytes: 3, sha256: sha('new') }]));
  assert.ok(lstatSync(store.imageDir('img')).isSymbolicLink());
  assert.deepEqual(entries(store), ['.image-img@*', 'img']);
  await store.remove('img');
  assert.deepEqual(entries(store), [], 'rm removes the link and its content folder');
});

test("leftovers of dead processes are removed; a live process's temporary folders are left alone", async (t) => {
  const store = new ImageStore(tempHome(t));
  const live = process.ppid; // our parent: certainly alive
  const names = [
    '.staging-img-999999999-abcd', // the format before '@', dead
    '.staging-img@999999999-abcd',
    '.replaced-img@999999999-abcd',
    '.removing-other@999999999-abcd',
    '.link-img@999999999-abcd',
    `.staging-img@${live}-abcd`,
    `.replaced-img@${live}-abcd`,
    `.removing-other@${live}-abcd`,
    '.replaced-img-abcd1234', // pid-less legacy name, recent: may belong to a running older Strata
    '.image-img@0badc0de', // a content folder of img no link points to
    '.image-other@0badc0de', // another image's: not ours to judge while we hold only img's lock
  ];
  for (const n of names) mkdirSync(join(store.imagesDir, n), { recursive: true });
  const s = await store.beginStaging('img');
  const left = readdirSync(store.imagesDir).filter((n) => n !== s.dir.split('/').pop());
  assert.deepEqual(left.sort(), [
    '.image-other@0badc0de',
    `.removing-other@${live}-abcd`,
    '.replaced-img-abcd1234',
    `.replaced-img@${live}-abcd`,
    `.staging-img@${live}-abcd`,
  ]);
  await s.discard();
});

test('rm removes an image; an unknown name is NOT_FOUND naming the store', async (t) => {
  const store = new ImageStore(tempHome(t));
  const s = await store.beginStaging('img');
  await s.commit(manifest('img', []));
  await store.remove('img');
  assert.deepEqual(await store.list(), []);
  assert.equal(existsSync(store.imageDir('img')), false);
  await assert.rejects(store.remove('img'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'NOT_FOUND');
    assert.equal(e.message, `no image named 'img' in ${store.imagesDir}`);
    return true;
  });
  await assert.rejects(store.remove('../etc'), /invalid image name/);
});

test('parseManifest names the first bad field', () => {
  const good = manifest('x', [{ path: 'Image', role: 'kernel', sizeBytes: 1, sha256: sha('a') }]);
  assert.deepEqual(parseManifest(JSON.parse(JSON.stringify(good)), 'm.json'), good);
  assert.throws(
    () => parseManifest({ ...good, schemaVersion: 99 }, 'm.json'),
    /corrupt image manifest m\.json: bad or missing 'schemaVersion'/,
  );
  assert.throws(() => parseManifest({ ...good, kernelVersion: '' }, 'm.json'), /'kernelVersion'/);
  assert.throws(
    () => parseManifest({ ...good, files: [{ path: 'Image', role: 'kernel', sizeBytes: 1, sha256: 'zz' }] }, 'm'),
    /'files\[0\]'/,
  );
  assert.throws(() => parseManifest({ ...good, createdAt: 'yesterday' }, 'm'), /'createdAt'/);
  assert.throws(() => parseManifest({ ...good, builderVersion: 'x' }, 'm'), /'builderVersion'/);
  const { builderVersion: _, ...older } = good;
  assert.equal(parseManifest(older, 'm').builderVersion, 0, 'manifests from before builderVersion read as 0');
});

test('a corrupt manifest.json is an IO error naming the file', async (t) => {
  const store = new ImageStore(tempHome(t));
  mkdirSync(store.imageDir('bad'), { recursive: true });
  writeFileSync(join(store.imageDir('bad'), 'manifest.json'), '{');
  await assert.rejects(store.list(), /corrupt image manifest .*bad\/manifest\.json: not JSON/);
  await assert.rejects(store.get('bad'), (e: unknown) => e instanceof CorruptManifestError && e.code === 'IO');
});

test('hashFile streams sha256 and size', async (t) => {
  const p = join(tempHome(t), 'f');
  writeFileSync(p, 'hello');
  assert.deepEqual(await hashFile(p), { sha256: sha('hello'), sizeBytes: 5 });
});

test('fsError turns ENOSPC into a one-line NO_SPACE error naming the path', () => {
  const e = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const s = fsError(e, '/store/images/x');
  assert.equal(s.code, 'NO_SPACE');
  assert.equal(s.message, 'no space left on device writing /store/images/x');
  assert.equal(
    fsError(Object.assign(new Error('x'), { code: 'EACCES' }), '/p', 'reading').message,
    'permission denied reading /p',
  );
});

test('one build at a time per image: a live holder is a CONFLICT, a dead one is taken over', async (t) => {
  const store = new ImageStore(tempHome(t));
  const release = await store.lockForBuild('img');
  writeFileSync(join(store.imagesDir, '.pull-other.lock'), String(process.ppid));
  await assert.rejects(store.lockForBuild('other'), /another pull of image other is running \(pid \d+\)/);
  writeFileSync(join(store.imagesDir, '.pull-other.lock'), '999999999');
  const r2 = await store.lockForBuild('other');
  await r2();
  await release();
  assert.deepEqual(readdirSync(store.imagesDir), []);
  assert.deepEqual(await store.list(), []);
});
