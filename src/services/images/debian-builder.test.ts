import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentProgress } from '../../base/progress.js';
import { normalizeMirrorUrl } from './apt-sources.js';
import { pullDebianImage } from './debian-builder.js';
import { ImageStore } from './image-store.js';

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'strata-builder-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const etc = join(dir, 'etc-apt');
  mkdirSync(join(etc, 'sources.list.d'), { recursive: true });
  return { dir, etc, store: new ImageStore(join(dir, 'home')) };
}

const base = { progress: silentProgress, signal: new AbortController().signal };

test('a host whose apt names no Debian mirror: NOT_FOUND telling to pass --mirror, store untouched', async (t) => {
  const { etc, store } = setup(t);
  await assert.rejects(
    pullDebianImage({ ...base, store, env: process.env, aptEtcDir: etc }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NOT_FOUND');
      assert.equal(
        e.message,
        `no Debian mirror in the host's apt sources (${etc}/sources.list, ${etc}/sources.list.d): pass --mirror URL`,
      );
      return true;
    },
  );
  assert.equal(existsSync(store.homeDir), false);
});

test('an invalid --mirror is INVALID_ARGUMENT', async (t) => {
  const { store } = setup(t);
  await assert.rejects(
    pullDebianImage({ ...base, store, env: process.env, mirror: 'not a url' }),
    /invalid mirror URL 'not a url'/,
  );
  await assert.rejects(
    pullDebianImage({ ...base, store, env: process.env, mirror: 'ftp://m.example/debian' }),
    /use http:\/\/ or https:\/\//,
  );
});

test('no apt-get in PATH: UNAVAILABLE, and no image or staging folder appears', async (t) => {
  const { dir, store } = setup(t);
  await assert.rejects(
    pullDebianImage({ ...base, store, env: { PATH: join(dir, 'no-bin') }, mirror: 'http://127.0.0.1:9/debian' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'UNAVAILABLE');
      assert.match(e.message, /^apt-get not found in PATH/);
      return true;
    },
  );
  assert.deepEqual(existsSync(store.imagesDir) ? readdirSync(store.imagesDir) : [], []);
});

test('an invalid image name is rejected before any work', async (t) => {
  const { store } = setup(t);
  await assert.rejects(pullDebianImage({ ...base, store, name: 'Bad/Name', env: process.env }), /invalid image name/);
});

test('--mirror is written to apt as the parsed URL, not the raw text', () => {
  assert.equal(normalizeMirrorUrl('HTTP://Mirror.Example/debian/'), 'http://mirror.example/debian');
  assert.equal(normalizeMirrorUrl('http://m.example/deb ian//'), 'http://m.example/deb%20ian');
  assert.equal(normalizeMirrorUrl('http://m.example:80/debian'), 'http://m.example/debian');
  assert.throws(() => normalizeMirrorUrl('http://m.example/debian?x=1'), /no query or fragment/);
});
