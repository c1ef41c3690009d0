// Builds Strata: TypeScript to dist/, the AssemblyScript hart to build/hart.wasm, and the web console (src/web,
// Vite + Preact) to static files in dist/web/ that the daemon serves at `/`, and the native helper
// build/strata-tap-bridge (native/strata-tap-bridge.c, which puts containers on networks) with the system C compiler.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`build: ${[cmd, ...args].join(' ')} failed\n`);
    process.exit(r.status ?? 1);
  }
}

run(bin('tsc'), ['-p', 'tsconfig.json']);

const asEntry = join(root, 'src/machine/cpu/assembly/index.ts');
if (existsSync(asEntry)) {
  mkdirSync(join(root, 'build'), { recursive: true });
  run(bin('asc'), [asEntry, '--config', join(root, 'src/machine/cpu/assembly/asconfig.json'), '--target', 'release']);
}

// The TAP bridge helper: without a C compiler the build still succeeds, and container networking reports at launch
// that the helper is missing.
const tapSource = join(root, 'native/strata-tap-bridge.c');
if (existsSync(tapSource)) {
  const cc = process.env.CC || 'cc';
  const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    process.stderr.write(
      `build: no C compiler (${cc}): build/strata-tap-bridge not built, containers cannot join networks\n`,
    );
  } else {
    mkdirSync(join(root, 'build'), { recursive: true });
    // Rebuilt on every build (it takes a fraction of a second); warnings are errors, since it runs as root. Written
    // beside the target and renamed over it, so a helper started meanwhile never runs a half-written file.
    const out = join(root, 'build/strata-tap-bridge');
    run(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-std=c11', '-o', `${out}.tmp`, tapSource]);
    renameSync(`${out}.tmp`, out);
  }
}

const webRoot = join(root, 'src/web');
if (existsSync(join(webRoot, 'index.html'))) {
  const { build } = await import('vite');
  const { default: preact } = await import('@preact/preset-vite');
  await build({
    root: webRoot,
    configFile: false,
    logLevel: 'warn',
    base: '/',
    plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
    build: { outDir: join(root, 'dist/web'), emptyOutDir: true, target: 'es2022', sourcemap: false },
  });
}
