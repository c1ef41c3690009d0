import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runStrata } from '../helpers/strata-cli.js';
import { buildIsaPrograms } from '../isa/build.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-run-bad-'));
const file = (name: string, bytes: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

/** Every bad input ends with exit 1 and one line on stderr that names the file or value, before anything runs. */
async function expectOneLineError(args: string[], mention: RegExp, code = 1) {
  const r = await runStrata(['run', ...args], { timeoutMs: 30_000 });
  assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing ran, so nothing was printed by a guest');
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, mention);
  return r;
}

test('a missing kernel file is named', async () => {
  await expectOneLineError(['--kernel', join(dir, 'nope.elf')], /kernel file '.*nope\.elf' does not exist/);
});

test('a kernel that is neither a RISC-V Image nor an ELF is refused, naming the file', async () => {
  const junk = file('junk.bin', new Uint8Array(4096).fill(0x5a));
  await expectOneLineError(['--kernel', junk, '--bios', 'none'], /junk\.bin/);
});

test('an ELF for another architecture is refused, naming the file and the machine', async () => {
  // The host's own ELF executable (x86-64 or whatever this host runs) is not RISC-V.
  const hostElf = process.execPath;
  await expectOneLineError(['--kernel', hostElf, '--bios', 'none', '--htif'], /node.*(machine|RISC-V|architecture)/i);
});

test('a truncated ELF is refused', async () => {
  const [elf] = buildIsaPrograms(['rv64i']);
  assert.ok(elf, 'the ISA programs build');
  const bytes = spawnSync('head', ['-c', '200', elf.elf]).stdout as Buffer;
  const cut = file('cut.elf', bytes);
  await expectOneLineError(['--kernel', cut, '--bios', 'none', '--htif'], /cut\.elf/);
});

test('malformed firmware and a missing initrd are named', async () => {
  const [elf] = buildIsaPrograms(['rv64i']);
  assert.ok(elf);
  await expectOneLineError(
    ['--kernel', elf.elf, '--initrd', join(dir, 'absent.gz')],
    /initrd file '.*absent\.gz' does not exist/,
  );
  const empty = file('empty.bin', '');
  await expectOneLineError(['--kernel', elf.elf, '--bios', empty], /firmware '.*empty\.bin' is empty/);
});

test('too little memory for the images is refused before anything runs', async () => {
  const [elf] = buildIsaPrograms(['rv64i']);
  assert.ok(elf);
  const bigInitrd = file('big.initrd', new Uint8Array(24 * 1024 * 1024));
  await expectOneLineError(
    ['--kernel', elf.elf, '--initrd', bigInitrd, '--memory', '16M'],
    /initrd '.*big\.initrd' \(24\.0 MiB\) does not fit in 16\.0 MiB of guest RAM/,
  );
  // Smaller than RAM, but with the program and the device tree it cannot be placed.
  const initrd15M = file('15m.initrd', new Uint8Array(15 * 1024 * 1024));
  await expectOneLineError(['--kernel', elf.elf, '--initrd', initrd15M, '--memory', '16M'], /15m\.initrd/);
  // Option values that cannot work are usage errors (exit 2).
  await expectOneLineError(['--kernel', elf.elf, '--memory', '1M'], /memory size '1M'/, 2);
  await expectOneLineError(['--kernel', elf.elf, '--memory', 'lots'], /memory size 'lots'/, 2);
  await expectOneLineError(
    ['--kernel', elf.elf, '--memory', '16388K'],
    /memory size '16388K': must be a multiple of 64 KiB/,
    2,
  );
});

test('a Linux Image with --bios none is refused: it needs SBI firmware', async () => {
  // A well-formed RISC-V Linux Image header (Linux Documentation/arch/riscv/boot-image-header.rst) has no symbols.
  const bytes = new Uint8Array(8192);
  bytes.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  bytes.set([0x52, 0x53, 0x43, 0x05], 0x38);
  const img = file('image.bin', bytes);
  await expectOneLineError(
    ['--kernel', img, '--htif', '--bios', 'none'],
    /image\.bin' is a Linux Image, which needs SBI firmware/,
  );
});

test('an unknown image is named, with the images that can be pulled', async () => {
  const home = mkdtempSync(join(tmpdir(), 'strata-home-'));
  const r = await runStrata(['run', '--image', 'plan9'], { env: { STRATA_HOME: home } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /image 'plan9' is not in the image store; `strata image pull` can fetch only: debian/);
});

test('contradictory or missing options are clear errors', async () => {
  await expectOneLineError([], /nothing to boot/, 2);
  await expectOneLineError(['--image', 'debian', '--kernel', 'x'], /--image cannot be combined/, 2);
  await expectOneLineError(['--image', 'debian', '--htif'], /--htif runs a bare-metal program/, 2);
  await expectOneLineError(['--kernel', 'x', '--cpus', 'two'], /vCPU count 'two'/, 2);
  await expectOneLineError(['--kernel', 'x', '--disk', ',readonly'], /--disk/, 2);
});
