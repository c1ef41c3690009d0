import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  discoverDebianMirror,
  isDebianReleaseSuite,
  PrivateApt,
  parseDeb822Sources,
  parseOneLineSources,
  parsePrintUris,
  parseStanzas,
} from './apt-private.js';

// Mirror names in these tests are placeholders under the reserved .example domain.
const DEB822 = `Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`;

test('deb822 sources: deb stanzas with their URIs and suites', () => {
  const e = parseDeb822Sources(DEB822, 'x.sources');
  assert.equal(e.length, 2);
  assert.deepEqual(e[0]?.uris, ['http://mirror.example/debian']);
  assert.deepEqual(e[0]?.suites, ['bookworm', 'bookworm-updates']);
  assert.deepEqual(parseDeb822Sources('Types: deb\nURIs: http://a.example/d\nSuites: trixie\nEnabled: no\n', 'y'), []);
});

test('one-line sources: options, comments and deb-src', () => {
  const text = [
    '# deb http://commented.example/debian bookworm main',
    'deb-src http://src.example/debian bookworm main',
    'deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main contrib # trailing',
    'deb https://other.example/apt cloud-sdk main',
  ].join('\n');
  const e = parseOneLineSources(text, 'sources.list');
  assert.deepEqual(
    e.map((x) => [x.uris[0], x.suites[0]]),
    [
      ['http://one.example/debian', 'trixie'],
      ['https://other.example/apt', 'cloud-sdk'],
    ],
  );
});

test('Debian release suites exclude security and foreign suites', () => {
  assert.ok(isDebianReleaseSuite('bookworm'));
  assert.ok(isDebianReleaseSuite('trixie-updates'));
  assert.ok(isDebianReleaseSuite('stable'));
  assert.ok(!isDebianReleaseSuite('bookworm-security'));
  assert.ok(!isDebianReleaseSuite('jammy'));
  assert.ok(!isDebianReleaseSuite('nodistro'));
});

test('the host mirror is found in .sources and .list files, never a security or foreign archive', async (t) => {
  const etc = mkdtempSync(join(tmpdir(), 'strata-apt-etc-'));
  t.after(() => rmSync(etc, { recursive: true, force: true }));
  mkdirSync(join(etc, 'sources.list.d'));
  assert.equal(await discoverDebianMirror(etc), undefined);
  writeFileSync(
    join(etc, 'sources.list.d', 'a-vendor.list'),
    'deb https://vendor.example/apt cloud-sdk-bookworm main\n',
  );
  writeFileSync(
    join(etc, 'sources.list.d', 'b-sec.sources'),
    'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
  );
  writeFileSync(join(etc, 'sources.list.d', 'c.sources.disabled'), DEB822.replace('mirror.example', 'off.example'));
  assert.equal(await discoverDebianMirror(etc), undefined);
  writeFileSync(join(etc, 'sources.list.d', 'debian.sources'), DEB822);
  assert.deepEqual(await discoverDebianMirror(etc), {
    uri: 'http://mirror.example/debian',
    file: join(etc, 'sources.list.d', 'debian.sources'),
  });
  writeFileSync(join(etc, 'sources.list'), 'deb http://first.example/debian/ bookworm main\n');
  assert.equal((await discoverDebianMirror(etc))?.uri, 'http://first.example/debian');
});

test('print-uris output gives URL, file, size and SHA256', () => {
  const sha = 'ab'.repeat(32);
  const out = `'http://m.example/debian/pool/main/b/busybox/busybox-static_1.37.0-6%2bb9_riscv64.deb' busybox-static_1%3a1.37.0-6+b9_riscv64.deb 941532 SHA256:${sha}\n`;
  assert.deepEqual(parsePrintUris(out), [
    {
      url: 'http://m.example/debian/pool/main/b/busybox/busybox-static_1.37.0-6%2bb9_riscv64.deb',
      fileName: 'busybox-static_1%3a1.37.0-6+b9_riscv64.deb',
      sizeBytes: 941532,
      sha256: sha,
    },
  ]);
  assert.throws(() => parsePrintUris("'http://x.example/a.deb' a.deb 1 MD5Sum:00\n"), /no SHA256 for a\.deb/);
});

test('apt-cache show stanzas', () => {
  const s = parseStanzas(
    'Package: linux-image-riscv64\nVersion: 6.12.1-1\nDepends: linux-image-6.12.1+deb13-riscv64 (= 6.12.1-1)\nDescription: x\n more\n\nPackage: opensbi\nVersion: 1.6-1\n',
  );
  assert.equal(s.length, 2);
  assert.equal(s[0]?.get('Depends'), 'linux-image-6.12.1+deb13-riscv64 (= 6.12.1-1)');
  assert.equal(s[0]?.get('Description'), 'x\nmore');
  assert.equal(s[1]?.get('Version'), '1.6-1');
});

test('prepare: a PATH without apt-get is UNAVAILABLE, a missing keyring NOT_FOUND', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-apt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    stateDir: dir,
    mirror: 'http://m.example/debian',
    suite: 'trixie',
    component: 'main',
    arch: 'riscv64',
  };
  const noApt = new PrivateApt({ ...base, keyring: '/nonexistent.gpg', env: { PATH: join(dir, 'empty') } });
  await assert.rejects(noApt.prepare(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /^apt-get not found in PATH/);
    return true;
  });
  const noKey = new PrivateApt({ ...base, keyring: join(dir, 'missing.gpg'), env: process.env });
  await assert.rejects(noKey.prepare(), /keyring .*missing\.gpg not found/);
  assert.equal(
    noKey.sourcesLine(),
    `deb [arch=riscv64 signed-by=${join(dir, 'missing.gpg')}] http://m.example/debian trixie main\n`,
  );
});

test("the private configuration shuts out the host's apt.conf.d (no host hooks run) and keeps our directories", {
  skip: spawnSync('apt-config', ['dump']).status !== 0 && 'no apt-config',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-apt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyring = join(dir, 'keyring.gpg');
  writeFileSync(keyring, '');
  const apt = new PrivateApt({
    stateDir: dir,
    mirror: 'http://m.example/debian',
    suite: 'trixie',
    component: 'main',
    arch: 'riscv64',
    keyring,
    env: process.env,
  });
  await apt.prepare();
  const dump = spawnSync('apt-config', ['dump'], {
    env: { ...process.env, APT_CONFIG: join(dir, 'apt.conf') },
  }).stdout.toString();
  assert.doesNotMatch(dump, /Post-Invoke|Pre-Invoke/);
  assert.match(dump, new RegExp(`^Dir::Etc::parts "${dir}/etc/apt\\.conf\\.d";$`, 'm'));
  assert.match(dump, new RegExp(`^Dir::State::lists "${dir}/lists";$`, 'mi'));
  assert.match(dump, /^Dir::State::status "\/dev\/null";$/m);
  assert.match(dump, /^APT::Architecture "riscv64";$/m);
  assert.match(dump, /^APT::Update::Error-Mode "any";$/m);
  assert.doesNotMatch(dump, /^APT::Sandbox::User "root";$/m, 'apt keeps its privilege drop to _apt');
});

test('a sources file that cannot be read is an error naming it, not "no mirror"', async (t) => {
  const etc = mkdtempSync(join(tmpdir(), 'strata-apt-etc-'));
  t.after(() => rmSync(etc, { recursive: true, force: true }));
  mkdirSync(join(etc, 'sources.list.d', 'debian.sources'), { recursive: true }); // a folder: EISDIR on read
  await assert.rejects(discoverDebianMirror(etc), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'IO');
    assert.match(e.message, new RegExp(`reading ${join(etc, 'sources.list.d', 'debian.sources')}`));
    return true;
  });
});
