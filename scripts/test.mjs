// The test command: lint, typecheck, layering check, build, then every *.test.ts with node's test runner.
// Node 20's `--test` takes no globs, so the file list is made here.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(label, cmd, args) {
  process.stdout.write(`\n== ${label}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`test: ${label} failed\n`);
    process.exit(r.status ?? 1);
  }
}

function findTests(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const only = process.argv.slice(2);
if (only.length === 0) {
  step('lint', bin('biome'), ['check', '.']);
  step('typecheck', bin('tsc'), ['-p', 'tsconfig.test.json']);
  step('layers', process.execPath, ['scripts/check-layers.mjs']);
}
step('build', process.execPath, ['scripts/build.mjs']);
const files =
  only.length > 0 ? only : [...findTests(join(root, 'src'), []), ...findTests(join(root, 'test'), [])].sort();
// The spec reporter's output goes to the terminal as it comes and is read for the closing counts.
process.stdout.write(`\n== tests (${files.length} files)\n`);
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    // A file whose tests have all finished ends even if something it started still holds the event loop open, so a
    // leaked handle cannot hang the run.
    '--test-force-exit',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
let output = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk;
});
const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
const count = (name) => Number(plain.match(new RegExp(`^\u2139 ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
// A test skips only when this machine lacks a tool it needs. CI installs every tool (.ci/run), so there a skip
// would hide a missing install step: it fails the run, naming the tests.
const skipped = [...plain.matchAll(/^\s*\ufe63 (.*)$/gm)].map((m) => m[1]);
if (skipped.length > 0) {
  process.stdout.write(
    `\nskipped tests (a tool is missing on this machine):\n${skipped.map((t) => `  ${t}`).join('\n')}\n`,
  );
}
process.stdout.write(`\n${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped\n`);
if (process.env.CI && skipped.length > 0) {
  process.stderr.write('test: tests were skipped in CI, where every tool is installed: failing the run\n');
  process.exit(1);
}
process.exit(status);
