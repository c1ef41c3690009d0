import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, runStrata } from '../helpers/strata-cli.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

test('--version prints the package version and exits 0', async () => {
  const r = await runStrata(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('--help lists the commands and exits 0', async () => {
  const r = await runStrata(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: strata/);
  assert.match(r.stdout, /image/);
  assert.match(r.stdout, /run/);
});

test('every command has --help', async () => {
  const top = await runStrata(['--help']);
  const names = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1] ?? '').filter((n) => n !== 'help');
  assert.ok(names.length >= 2, `commands found: ${names.join(',')}`);
  for (const name of names) {
    const r = await runStrata([name, '--help']);
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: strata ${name}`));
  }
});

test('an unknown option is a usage error (exit 2): one line on stderr that names it', async () => {
  const r = await runStrata(['--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--frobnicate/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.equal(r.stdout, '');
});

test('an unknown command is a usage error (exit 2) that names it', async () => {
  const r = await runStrata(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /frobnicate/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
});
