// `npm start`, the README's main job: build if needed, pull the Debian image if it is missing, start the daemon in
// the background (unless one runs), launch an instance called `demo` if there is none, and print the URL, the
// token and the next commands to try. The daemon and its VMs keep running after this script ends.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strata = join(root, 'bin', 'strata.js');
const home =
  process.env.STRATA_HOME ||
  (process.env.XDG_DATA_HOME && isAbsolute(process.env.XDG_DATA_HOME)
    ? join(process.env.XDG_DATA_HOME, 'strata')
    : join(process.env.HOME || homedir(), '.local', 'share', 'strata'));
const env = { ...process.env, STRATA_HOME: home };

function run(args, opts = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function daemonInfo() {
  try {
    const info = JSON.parse(readFileSync(join(home, 'daemon', 'daemon.json'), 'utf8'));
    return alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

if (!existsSync(join(root, 'dist', 'daemon', 'main.js')) || !existsSync(join(root, 'build', 'hart.wasm'))) {
  run([join(root, 'scripts', 'build.mjs')]);
}
if (!existsSync(join(home, 'images', 'debian', 'manifest.json'))) {
  run([strata, 'image', 'pull', 'debian']);
}

let info = daemonInfo();
if (!info) {
  mkdirSync(join(home, 'daemon'), { recursive: true, mode: 0o700 });
  const log = join(home, 'daemon', 'daemon.log');
  const out = openSync(join(home, 'daemon', 'daemon.out'), 'a');
  const port = process.env.STRATA_PORT ?? '8440';
  const child = spawn(process.execPath, [strata, 'daemon', '--port', port, '--log-file', log], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
  const deadline = Date.now() + 30_000;
  for (;;) {
    info = daemonInfo();
    if (info && info.pid === child.pid) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      process.stderr.write(`npm start: the daemon did not start; see ${join(home, 'daemon', 'daemon.out')}\n`);
      process.exit(1);
    }
    spawnSync('sleep', ['0.2']);
  }
  process.stdout.write(`started the Strata daemon (pid ${info.pid}), log in ${log}\n`);
} else {
  process.stdout.write(`the Strata daemon already runs (pid ${info.pid})\n`);
}

const list = spawnSync(process.execPath, [strata, 'list', '--format', 'json'], { cwd: root, env, encoding: 'utf8' });
if (list.status !== 0) {
  process.stderr.write(list.stderr);
  process.exit(1);
}
const demo = JSON.parse(list.stdout).find((i) => i.name === 'demo');
if (!demo) run([strata, 'launch', 'debian', 'demo']);
else if (demo.status !== 'running' && demo.status !== 'paused') run([strata, 'start', 'demo']);

const token = readFileSync(join(home, 'daemon', 'token'), 'utf8').trim();
process.stdout.write(`
Strata is running.
  API:    ${info.url}   (OpenAPI: ${info.url}/openapi.json, metrics: ${info.url}/metrics)
  token:  ${token}
  socket: ${info.socket}   (the CLI uses it without a token)

Try:
  npx strata list
  npx strata console demo          # the demo VM's serial console; Ctrl-A x detaches
  npx strata info demo             # usage next to limits
  npx strata launch debian vm2 --memory 256M --engine qemu
  npx strata monitor               # lifecycle and operation events
  curl -H "Authorization: Bearer ${token}" ${info.url}/1.0/instances
  STRATA_URL=${info.url} STRATA_TOKEN=${token} npx strata list   # over TCP
`);
