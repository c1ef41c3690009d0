// Containers and sandboxes as instances of the daemon, through the `strata` command line and the API: the busybox
// container image pulled through the image service, a busybox container run by the real runc (launch, exec with exit code passthrough, stop/start keeping its layer,
// pause/resume, the console over the instance console WebSocket, delete leaving no trace), and a hand-written WASI
// module as a sandbox (its output on the console, its exit code in info; a module that is not WebAssembly fails
// at launch and leaves nothing behind).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Instance, Operation } from '../../src/api/schema/index.js';
import { DaemonClient } from '../../src/cli/client.js';
import { containerTraces } from '../helpers/container-cgroups.js';
import { closeTestDaemon, startTestDaemon, tempHome } from '../helpers/daemon-harness.js';
import { runStrata } from '../helpers/strata-cli.js';
import { until } from '../helpers/until.js';
import { echoModule, helloModule } from '../helpers/wasi-modules.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'containers need root (mount, cgroups)';

let home: string;
let daemon: Awaited<ReturnType<typeof startTestDaemon>>;
let client: DaemonClient;

before(async () => {
  home = tempHome('swl-');
  daemon = await startTestDaemon(home);
  client = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
});

after(async () => {
  if (daemon) await closeTestDaemon(daemon, client);
  rmSync(home, { recursive: true, force: true });
});

function strata(args: string[]) {
  return runStrata(args, { env: { STRATA_HOME: home }, timeoutMs: 60_000 });
}

interface InstanceJson {
  name: string;
  type: string;
  status: string;
  engine: string;
  exitCode?: number | null;
}

/** Opens the instance console WebSocket and collects its output as text. */
async function openConsole(name: string): Promise<{ ws: WebSocket; text: () => string; closed: Promise<number> }> {
  const ws = new WebSocket(`${daemon.url.replace('http', 'ws')}/1.0/instances/${name}/console`, {
    headers: { authorization: `Bearer ${daemon.token}` },
  });
  let text = '';
  ws.on('message', (d: Buffer) => {
    text += d.toString('utf8');
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, text: () => text, closed };
}

test('container images are pulled through the image service (API) and the command line', { skip }, async () => {
  const bad = await client.raw('POST', '/1.0/images', { source: 'nosuch', type: 'container' });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /busybox, debian/);
  const op = await client.call<Operation>('POST', '/1.0/images', { source: 'busybox', type: 'container' });
  const done = await client.call<Operation>('GET', `/1.0/operations/${op.id}/wait?timeout=120`);
  assert.equal(done.status, 'success', done.errorMessage ?? '');
  // The build reported a phase with a known total (busybox: its applet links, counted in steps).
  assert.equal(done.progress?.unit, 'steps', JSON.stringify(done.progress));
  assert.ok((done.progress?.totalBytes ?? 0) > 0, JSON.stringify(done.progress));
  assert.equal(done.progress?.doneBytes, done.progress?.totalBytes);
  const image = await client.call<{ name: string }>('GET', '/1.0/images/busybox-container');
  assert.equal(image.name, 'busybox-container');
  // The local command finds it up to date.
  const again = await strata(['image', 'pull', 'busybox', '--type', 'container', '-q']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /up to date: container image busybox-container/);
});

test('a busybox container through the daemon: launch, exec, stop/start keeps its layer, console, delete', {
  skip,
  timeout: 180_000,
}, async () => {
  const name = `wct${process.pid}`;
  const launched = await strata(['launch', 'busybox', name, '--type', 'container', '-q']);
  assert.equal(launched.code, 0, launched.stderr);

  const list = await strata(['list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${name}\\s+container\\s+running\\s+runc`));
  const inst = await client.call<InstanceJson>('GET', `/1.0/instances/${name}`);
  assert.equal(inst.type, 'container');
  assert.equal(inst.status, 'running');

  const echo = await strata(['exec', name, '--', 'echo', 'hello from the container']);
  assert.equal(echo.code, 0, echo.stderr);
  assert.equal(echo.stdout, 'hello from the container\n');
  const hostname = await strata(['exec', name, '--', 'cat', '/etc/hostname']);
  assert.equal(hostname.code, 0, hostname.stderr);
  const failing = await strata(['exec', name, '--', 'sh', '-c', 'echo oops >&2; exit 7']);
  assert.equal(failing.code, 7, 'the exit code passes through');
  assert.equal(failing.stderr, 'oops\n');
  const viaApi = await client.call<{ exitCode: number; stdout: string; stderr: string }>(
    'POST',
    `/1.0/instances/${name}/exec`,
    { command: ['cat'], stdin: Buffer.from('bytes through stdin').toString('base64') },
  );
  assert.equal(viaApi.exitCode, 0);
  assert.equal(Buffer.from(viaApi.stdout, 'base64').toString(), 'bytes through stdin');
  const missing = await strata(['exec', name, '--', '/no/such/program']);
  assert.notEqual(missing.code, 0);
  assert.ok(missing.stderr.length > 0, 'a program that does not exist is reported');

  assert.equal((await strata(['exec', name, '--', 'sh', '-c', 'echo kept > /kept.txt'])).code, 0);
  assert.equal((await strata(['stop', name, '-q'])).code, 0);
  assert.equal((await client.call<InstanceJson>('GET', `/1.0/instances/${name}`)).status, 'stopped');
  const stoppedExec = await strata(['exec', name, '--', 'true']);
  assert.equal(stoppedExec.code, 1);
  assert.match(stoppedExec.stderr, /not running/);
  assert.equal((await strata(['start', name, '-q'])).code, 0);
  const kept = await strata(['exec', name, '--', 'cat', '/kept.txt']);
  assert.equal(kept.stdout, 'kept\n', 'the file written before stop is still in the layer');

  assert.equal((await strata(['pause', name, '-q'])).code, 0);
  assert.equal((await client.call<InstanceJson>('GET', `/1.0/instances/${name}`)).status, 'paused');
  assert.equal((await strata(['resume', name, '-q'])).code, 0);
  assert.equal((await strata(['restart', name, '-q'])).code, 0);
  assert.equal((await strata(['exec', name, '--', 'cat', '/kept.txt'])).stdout, 'kept\n');

  const info = await strata(['info', name]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /type: +container/);
  assert.match(info.stdout, /engine: +runc/);

  const con = await openConsole(name);
  con.ws.send(Buffer.from('echo console-$((6*7))\n'));
  await until('console output', () => con.text().includes('console-42'));
  con.ws.close();

  // A container's CPU weight changes at once; a VM-only limit is refused naming the field and the type.
  const limits = await client.raw<Instance>('PATCH', `/1.0/instances/${name}`, { limits: { cpuWeight: 10 } });
  assert.equal(limits.status, 200);
  assert.equal(limits.body.container?.cpuWeight, 10);
  const vmOnly = await client.raw<{ error: { message: string } }>('PATCH', `/1.0/instances/${name}`, {
    limits: { diskIops: 10 },
  });
  assert.equal(vmOnly.status, 400);
  assert.match(vmOnly.body.error.message, /^invalid limits\.diskIops: a container has no disk or NIC rate limit/);

  const imageInUse = await client.raw('DELETE', '/1.0/images/busybox-container');
  assert.equal(imageInUse.status, 409, 'the image of a container is not removed under it');

  const refused = await strata(['delete', name, '-q']);
  assert.equal(refused.code, 1, 'a running container is deleted only with --force');
  const del = await strata(['delete', name, '--force', '-q']);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(await containerTraces(home, name), [], 'delete leaves nothing behind');
  const gone = await strata(['info', name]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no instance named/);
});

test('a container from an image that is not there fails at launch, naming the pull command', async () => {
  const r = await strata(['launch', 'nosuch', 'wct-missing', '--type', 'container', '-q']);
  assert.equal(r.code, 1);
  if (isRoot) assert.match(r.stderr, /strata image pull nosuch --type container/);
  const list = await client.call<InstanceJson[]>('GET', '/1.0/instances');
  assert.ok(!list.some((i) => i.name === 'wct-missing'));
});

test('a WASI module as a sandbox: output on the console, exit code in info', { timeout: 60_000 }, async () => {
  const dir = join(home, 'modules');
  mkdirSync(dir, { recursive: true });
  const hello = join(dir, 'hello.wasm');
  writeFileSync(hello, helloModule('hello from wasm\n', 3));
  const r = await strata(['launch', hello, 'wsb', '--type', 'sandbox', '-q']);
  assert.equal(r.code, 0, r.stderr);
  await until('the module to end', async () => {
    const i = await client.call<InstanceJson>('GET', '/1.0/instances/wsb');
    return i.status === 'stopped' && i.exitCode !== undefined;
  });
  const inst = await client.call<InstanceJson>('GET', '/1.0/instances/wsb');
  assert.equal(inst.type, 'sandbox');
  assert.equal(inst.engine, 'wasi');
  assert.equal(inst.exitCode, 3);
  const info = await strata(['info', 'wsb']);
  assert.match(info.stdout, /type: +sandbox/);
  assert.match(info.stdout, /exit: +3/);
  const list = await strata(['list']);
  assert.match(list.stdout, /wsb\s+sandbox\s+stopped\s+wasi/);

  // The console shows the output of the run, over HTTP and over the console WebSocket.
  const kept = await client.raw('GET', '/1.0/instances/wsb/console');
  assert.equal(kept.status, 200);
  assert.match(String(kept.body), /hello from wasm/);
  const con = await openConsole('wsb');
  assert.equal(await con.closed, 1000);
  assert.match(con.text(), /hello from wasm/);

  assert.equal((await strata(['exec', 'wsb', '--', 'true'])).code, 1, 'exec is for containers');
  const pause = await strata(['pause', 'wsb', '-q']);
  assert.equal(pause.code, 1);
  assert.match(pause.stderr, /cannot pause/);

  // Start runs it again, with the same result.
  assert.equal((await strata(['start', 'wsb', '-q'])).code, 0);
  await until('the second run to end', async () => {
    const i = await client.call<InstanceJson>('GET', '/1.0/instances/wsb');
    return i.status === 'stopped' && i.exitCode === 3;
  });
  assert.equal((await strata(['delete', 'wsb', '-q'])).code, 0);
  assert.ok(!existsSync(join(home, 'sandboxes', 'wsb')), 'the sandbox folder is gone');
});

test('a sandbox reads its console input and echoes it; stop ends it', { timeout: 60_000 }, async () => {
  const file = join(home, 'echo.wasm');
  writeFileSync(file, echoModule());
  const launched = await strata(['launch', file, 'wecho', '--type', 'sandbox', '-q']);
  assert.equal(launched.code, 0, launched.stderr);
  const con = await openConsole('wecho');
  con.ws.send(Buffer.from('ping over the console\n'));
  await until('the echo', () => con.text().includes('ping over the console'));
  assert.equal((await strata(['stop', 'wecho', '-q'])).code, 0);
  await con.closed;
  const inst = await client.call<InstanceJson>('GET', '/1.0/instances/wecho');
  assert.equal(inst.status, 'stopped');
  assert.equal(inst.exitCode, null, 'stopped, not exited by itself');
  assert.equal((await strata(['delete', 'wecho', '-q'])).code, 0);
});

test('a file that is not WebAssembly fails at launch and leaves nothing behind', async () => {
  const file = join(home, 'bad.wasm');
  writeFileSync(file, 'not a module');
  const r = await strata(['launch', file, 'wbad', '--type', 'sandbox', '-q']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /WebAssembly|wasm/i);
  assert.ok(!existsSync(join(home, 'sandboxes', 'wbad')));
  const list = await client.call<InstanceJson[]>('GET', '/1.0/instances');
  assert.ok(!list.some((i) => i.name === 'wbad'));
  const bad = await strata(['launch', file, 'wbad2', '--type', 'nonsense']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--type/);
});
