// Builds Strata: TypeScript to dist/, the AssemblyScript hart to build/hart.wasm, and the web console (src/web,
// Vite + Preact) to static files in dist/web/ that the daemon serves at `/`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
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
