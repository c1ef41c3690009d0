import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { extractDeb, listArMembers } from './deb-extract.js';

const hasDpkgDeb = spawnSync('dpkg-deb', ['--version']).status === 0;

/** Builds a package with the host's dpkg-deb (the reference writer of the format). */
function buildDeb(dir: string, compression: string): string {
  const root = join(dir, `pkg-${compression}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(root, 'DEBIAN/control'),
    'Package: strata-test\nVersion: 1.0\nArchitecture: all\nMaintainer: Strata <strata@example.invalid>\nDescription: test\n',
  );
  writeFileSync(join(root, 'usr/bin/tool'), Buffer.alloc(200_000, 3), { mode: 0o755 });
  writeFileSync(join(root, 'usr/bin/odd'), 'odd-length');
  const deb = join(dir, `test-${compression}.deb`);
  const r = spawnSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '-b', root, deb]);
  assert.equal(r.status, 0, r.stderr.toString());
  return deb;
}

for (const compression of ['xz', 'gzip', 'none']) {
  test(`a ${compression} package from dpkg-deb -b unpacks with our ar reader, with byte progress`, {
    skip: !hasDpkgDeb && 'no dpkg-deb',
  }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-deb-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const deb = buildDeb(dir, compression);
    const members = await listArMembers(deb);
    assert.deepEqual(
      members.map((m) => m.name.replace(/\..*$/, '')),
      ['debian-binary', 'control', 'data'],
    );
    const seen: number[] = [];
    const out = join(dir, 'out');
    await extractDeb(deb, out, {
      env: process.env,
      signal: new AbortController().signal,
      onBytes: (n) => seen.push(n),
    });
    const tool = readFileSync(join(out, 'usr/bin/tool'));
    assert.equal(tool.length, 200_000);
    assert.ok(tool.every((b) => b === 3));
    assert.equal(statSync(join(out, 'usr/bin/tool')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(out, 'usr/bin/odd'), 'utf8'), 'odd-length');
    const data = members[2]!;
    assert.equal(seen.at(-1), data.offset + data.sizeBytes, 'progress ends at the end of the data member');
    assert.ok(seen.every((v, i) => i === 0 || v > (seen[i - 1] ?? 0)));
  });
}

test('a file that is not a package is INVALID_ARGUMENT naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-deb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bogus = join(dir, 'bogus.deb');
  writeFileSync(bogus, 'this is not an ar archive');
  await assert.rejects(
    extractDeb(bogus, join(dir, 'out'), { env: process.env, signal: new AbortController().signal }),
    /bogus\.deb is not a Debian package \(no ar archive magic\)/,
  );
  writeFileSync(bogus, '!<arch>\ndebian-binary   0           0     0     100644  999       `\n2.0\n');
  await assert.rejects(listArMembers(bogus), /ar member 'debian-binary' runs past the end of the file/);
});
