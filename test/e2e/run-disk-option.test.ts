import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runStrata } from '../helpers/strata-cli.js';
import { buildIsaPrograms } from '../isa/build.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-run-disk-'));

test('strata run --help documents --disk', async () => {
  const r = await runStrata(['run', '--help'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--disk <file\[,format=qcow2\|raw\]\[,readonly\]>/);
  assert.match(r.stdout, /repeatable/);
});

test('a bad --disk is refused with one line naming it, before anything runs', async () => {
  const [elf] = buildIsaPrograms(['rv64i']);
  assert.ok(elf);
  const base = ['run', '--kernel', elf.elf, '--bios', 'none', '--htif'];
  const missing = await runStrata([...base, '--disk', join(dir, 'absent.img')], { timeoutMs: 30_000 });
  assert.equal(missing.code, 1, missing.stderr);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /absent\.img/);
  assert.equal(missing.stderr.trimEnd().split('\n').length, 1);

  const img = join(dir, 'ok.img');
  writeFileSync(img, new Uint8Array(4096));
  const bad = await runStrata([...base, '--disk', `${img},cache=none`], { timeoutMs: 30_000 });
  // A malformed option value is a usage error (exit 2); a missing file is a failure (exit 1).
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.stderr.trimEnd().split('\n').length, 1);
  assert.match(bad.stderr, /invalid --disk '.*ok\.img,cache=none': unknown setting 'cache=none'/);
});

test('a bare-metal program runs with disks attached and the disk file is left intact', async () => {
  const [elf] = buildIsaPrograms(['rv64i']);
  assert.ok(elf);
  const img = join(dir, 'keep.img');
  writeFileSync(img, new Uint8Array(8192).fill(3));
  const r = await runStrata(['run', '--kernel', elf.elf, '--bios', 'none', '--htif', '--disk', `${img},readonly`], {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
});
