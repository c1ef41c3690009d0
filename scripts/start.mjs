// `npm start`, the README's main job: build if needed, pull the Debian image if missing (an up-to-date image
// costs no download), then boot it on Strata's own engine with the console on this terminal.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strata = join(root, 'bin', 'strata.js');

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(root, 'dist', 'daemon', 'main.js')) || !existsSync(join(root, 'build', 'hart.wasm'))) {
  run([join(root, 'scripts', 'build.mjs')]);
}
run([strata, 'image', 'pull', 'debian']);
process.stdout.write(
  '\nBooting debian on the builtin engine (Ctrl-A x quits, Ctrl-A h helps; `poweroff` ends it).\n\n',
);
run([strata, 'run', '--image', 'debian', ...process.argv.slice(2)]);
