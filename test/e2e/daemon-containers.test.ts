// Containers and sandboxes as full instances of the daemon, through the `strata` command line and the API, with the
// real runc: a Debian container (the image pulled through the daemon, seeded from the shared test store) with its
// hostname and init command; exec of cat /etc/os-release; a memory limit whose OOM kill the container reports in
// info and on the event stream; a pids limit that stops a fork loop with the container alive; stop/start keeping
// the layer; usage in the state and in /metrics; an init that exits by itself and a sandbox ending by exit and by
// its CPU limit arriving as events; delete leaving nothing. Bad input through the daemon (an image of another
// architecture, a module that is not WebAssembly, a host without runc, options of another type) fails in one line
// and leaves the instance list unchanged.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Instance, InstanceState, StrataEvent } from '../../src/api/schema/index.js';
import { DaemonClient } from '../../src/cli/client.js';
import {
  CGROUP_ROOT,
  containerCgroupParent,
  containerSkipReason,
  containerTraces,
} from '../helpers/container-cgroups.js';
import { ensureContainerImage, seedContainerImage } from '../helpers/container-images.js';
import { closeTestDaemon, startTestDaemon, tempHome } from '../helpers/daemon-harness.js';
import { startDaemonProcess } from '../helpers/daemon-process.js';
import { runStrata } from '../helpers/strata-cli.js';
import { until } from '../helpers/until.js';
import { helloModule, spinModule } from '../helpers/wasi-modules.js';

const skip = containerSkipReason();
const CG = CGROUP_ROOT;
/** The cgroup folder the daemon of `h` puts its containers under (one per daemon home). */
const cgParent = containerCgroupParent;
/** Names unique to this test process: cgroups and runc ids are host-global. */
const tag = `dc${process.pid}`;

let home: string;
let daemon: Awaited<ReturnType<typeof startTestDaemon>>;
let client: DaemonClient;
let eventSocket: WebSocket | undefined;
const events: StrataEvent[] = [];

before(async () => {
  home = tempHome('sdc-');
  daemon = await startTestDaemon(home);
  client = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
  eventSocket = new WebSocket(`${daemon.url.replace('http', 'ws')}/1.0/events`, {
    headers: { authorization: `Bearer ${daemon.token}` },
  });
  eventSocket.on('message', (d: Buffer) => events.push(JSON.parse(d.toString('utf8')) as StrataEvent));
  await new Promise<void>((resolve, reject) => {
    eventSocket?.once('open', () => resolve());
    eventSocket?.once('error', reject);
  });
});

after(async () => {
  eventSocket?.close();
  if (daemon) await closeTestDaemon(daemon, client);
  if (home) rmSync(home, { recursive: true, force: true });
});

function strata(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runStrata(args, { env: { STRATA_HOME: home, ...env }, timeoutMs: 120_000 });
}

/** The lifecycle events of instance `name` seen on the event WebSocket so far. */
function lifecycle(name: string): Record<string, unknown>[] {
  return events
    .filter((e) => e.type === 'lifecycle' && e.resource === `/1.0/instances/${name}`)
    .map((e) => e.data as Record<string, unknown>);
}

function show(name: string): Promise<Instance> {
  return client.call<Instance>('GET', `/1.0/instances/${name}`);
}

function state(name: string): Promise<InstanceState> {
  return client.call<InstanceState>('GET', `/1.0/instances/${name}/state`);
}

async function instanceNames(): Promise<string[]> {
  return (await client.call<Instance[]>('GET', '/1.0/instances')).map((i) => i.name).sort();
}

/** A metric sample of `instance` in /metrics, or undefined. */
async function metric(name: string, instance: string): Promise<number | undefined> {
  const res = await client.raw('GET', '/metrics');
  const m = new RegExp(`^${name}\\{instance="${instance}",type="(\\w+)"[^}]*\\} (\\S+)$`, 'm').exec(String(res.body));
  return m ? Number(m[2]) : undefined;
}

test('a Debian container through the daemon: pull, hostname and command, exec, layer kept, usage, delete', {
  skip,
  timeout: 900_000,
}, async () => {
  await seedContainerImage(home, 'debian');
  const pulled = await strata(['image', 'pull', 'debian', '--type', 'container', '-q']);
  assert.equal(pulled.code, 0, pulled.stderr);

  const name = `${tag}-deb`;
  const launched = await strata([
    'launch',
    'debian',
    name,
    '--type',
    'container',
    '--hostname',
    'box-one',
    '--memory',
    '256M',
    '-q',
    '--',
    '/bin/sh',
    '-c',
    "trap 'exit 0' TERM; while :; do sleep 1; done",
  ]);
  assert.equal(launched.code, 0, launched.stderr);

  const osRelease = await strata(['exec', name, '--', 'cat', '/etc/os-release']);
  assert.equal(osRelease.code, 0, osRelease.stderr);
  assert.match(osRelease.stdout, /^ID=debian$/m);
  assert.equal((await strata(['exec', name, '--', 'hostname'])).stdout, 'box-one\n', 'the hostname option');
  assert.equal((await strata(['exec', name, '--', 'cat', '/etc/hostname'])).stdout, 'box-one\n', '/etc/hostname');
  const init = await strata(['exec', name, '--', 'cat', '/proc/1/cmdline']);
  assert.match(init.stdout, /while :; do sleep 1; done/, 'the init is the command given after --');
  assert.equal((await strata(['exec', name, '--', 'sh', '-c', 'exit 42'])).code, 42, 'exit code passthrough');

  const list = await strata(['list']);
  assert.match(list.stdout, /^NAME\s+TYPE\s+STATUS/m, 'list has a type column');
  assert.match(list.stdout, new RegExp(`${name}\\s+container\\s+running\\s+runc`));

  const inst = await show(name);
  assert.equal(inst.container?.hostname, 'box-one');
  assert.deepEqual(inst.container?.command.slice(0, 2), ['/bin/sh', '-c']);
  assert.equal(inst.container?.memoryLimitBytes, 256 * 1024 * 1024);
  const info = await strata(['info', name]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /hostname: box-one/);
  assert.match(info.stdout, /memory\s+256 MiB \(hard cap\)\s+\S+ \S+ in use/);
  const infoJson = JSON.parse((await strata(['info', name, '--format', 'json'])).stdout) as Instance & {
    state: InstanceState;
  };
  assert.equal(infoJson.container?.hostname, 'box-one');
  assert.ok(infoJson.state.usage, 'a running container has usage');

  // Usage from its cgroups, in the state and in /metrics under the VM metric names.
  await strata(['exec', name, '--', 'sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
  const st = await state(name);
  assert.ok(st.usage);
  assert.ok(st.usage.cpuSeconds > 0.05, `CPU seconds counted (${st.usage.cpuSeconds})`);
  assert.ok(st.usage.memoryRssBytes > 0 && st.usage.memoryRssBytes < 256 * 1024 * 1024);
  assert.ok((st.usage.pids ?? 0) >= 2, `pids counted (${st.usage.pids})`);
  assert.equal(st.usage.oomKills, 0);
  assert.equal(await metric('strata_instance_up', name), 1);
  assert.ok(((await metric('strata_instance_cpu_seconds_total', name)) ?? 0) > 0.05);
  assert.equal(await metric('strata_instance_memory_limit_bytes', name), 256 * 1024 * 1024);
  assert.ok(((await metric('strata_instance_pids', name)) ?? 0) >= 2);

  // stop/start keeps the files written in the container's layer.
  assert.equal((await strata(['exec', name, '--', 'sh', '-c', 'echo kept > /root/kept.txt'])).code, 0);
  assert.equal((await strata(['stop', name, '-q'])).code, 0);
  assert.equal((await state(name)).usage, null, 'a stopped container has no usage');
  assert.equal(await metric('strata_instance_up', name), 0);
  assert.equal((await strata(['start', name, '-q'])).code, 0);
  assert.equal((await strata(['exec', name, '--', 'cat', '/root/kept.txt'])).stdout, 'kept\n');
  const ends = lifecycle(name).filter((d) => d.action === 'instance-stopped');
  assert.equal(ends.length, 1, 'one stop event for one stop (the asked end is not reported twice)');

  const del = await strata(['delete', name, '--force', '-q']);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(await containerTraces(home, name), [], 'delete leaves no mount, cgroup, folder or runc state');
  assert.ok(!(await instanceNames()).includes(name));
});

test('a memory limit OOM-kills a process that exceeds it; info and the event stream report it', {
  skip,
  timeout: 300_000,
}, async () => {
  await seedContainerImage(home, 'debian');
  const name = `${tag}-oom`;
  const launched = await strata(['launch', 'debian', name, '--type', 'container', '--memory', '32M', '-q']);
  assert.equal(launched.code, 0, launched.stderr);
  // tail keeps the last "line" of endless zero bytes in memory: it grows until the OOM killer ends it.
  const hog = await strata(['exec', name, '--', 'sh', '-c', 'head -c 400M /dev/zero | tail -c 300M > /dev/null']);
  assert.equal(hog.code, 137, 'the allocating process was killed (SIGKILL: 128+9), and exec says so');
  const inst = await show(name);
  assert.equal(inst.status, 'running', 'the container lives on: only the process was killed');
  assert.ok((inst.container?.oomKills ?? 0) >= 1, `OOM kills counted (${inst.container?.oomKills})`);
  const info = await strata(['info', name]);
  assert.match(info.stdout, /OOM kills: [1-9]/);
  assert.ok(((await state(name)).usage?.oomKills ?? 0) >= 1);
  assert.ok(((await metric('strata_instance_oom_kills_total', name)) ?? 0) >= 1);
  const oom = lifecycle(name).find((d) => d.action === 'instance-oom-kill');
  assert.ok(oom, 'an OOM event on the stream');
  assert.match(String(oom.reason), /OOM/);
  // A process started from the console (not through exec) is seen too: the daemon watches the counter.
  const con = new WebSocket(`${daemon.url.replace('http', 'ws')}/1.0/instances/${name}/console`, {
    headers: { authorization: `Bearer ${daemon.token}` },
  });
  await new Promise<void>((resolve, reject) => {
    con.once('open', () => resolve());
    con.once('error', reject);
  });
  con.send(Buffer.from('head -c 400M /dev/zero | tail -c 300M > /dev/null\n'));
  await until('an OOM event for the console process', () =>
    lifecycle(name).some((d) => d.action === 'instance-oom-kill' && Number(d.oomKills) >= 2),
  );
  con.close();
  assert.equal((await show(name)).status, 'running');

  // `strata monitor` replays it from the event log.
  const oomSeq = events.find((e) => (e.data as Record<string, unknown>).action === 'instance-oom-kill')?.seq ?? 1;
  const monitor = await strata(['monitor', '--since', String(oomSeq - 1), '--count', '1']);
  assert.equal(monitor.code, 0, monitor.stderr);
  assert.match(monitor.stdout, new RegExp(`/1\\.0/instances/${name}\\s+instance-oom-kill \\(.*OOM`));
  assert.equal((await strata(['delete', name, '--force', '-q'])).code, 0);
  assert.deepEqual(await containerTraces(home, name), []);

  // The init's own run beyond the limit: the container stops, says why, and the event carries the reason.
  const name2 = `${tag}-oom2`;
  const hogInit = await strata([
    'launch',
    'debian',
    name2,
    '--type',
    'container',
    '--memory',
    '32M',
    '--command',
    'sleep 1; head -c 400M /dev/zero | tail -c 300M > /dev/null',
    '-q',
  ]);
  assert.equal(hogInit.code, 0, hogInit.stderr);
  await until('the init to end', async () => (await show(name2)).status === 'stopped', 60_000);
  assert.match(String((await show(name2)).statusReason), /OOM/);
  assert.equal((await show(name2)).container?.oomKills, 1);
  await until('the stop event', () => lifecycle(name2).some((d) => d.action === 'instance-stopped'));
  const stopped = lifecycle(name2).find((d) => d.action === 'instance-stopped');
  assert.equal(stopped?.cause, 'oom');
  assert.match(String(stopped?.reason), /OOM/);
  assert.equal((await strata(['delete', name2, '-q'])).code, 0);
  assert.deepEqual(await containerTraces(home, name2), []);
});

test('a pids limit stops a fork loop and the container stays alive', { skip, timeout: 300_000 }, async () => {
  await seedContainerImage(home, 'debian');
  const name = `${tag}-pids`;
  const launched = await strata(['launch', 'debian', name, '--type', 'container', '--pids-limit', '16', '-q']);
  assert.equal(launched.code, 0, launched.stderr);
  assert.equal((await show(name)).container?.pidsLimit, 16);
  // Ask for 64 sleepers in the background (a bounded fork loop): forks beyond the limit are refused.
  const loop = await strata([
    'exec',
    name,
    '--',
    'sh',
    '-c',
    'for i in $(seq 1 64); do sleep 4 >/dev/null 2>&1 & done; echo looped',
  ]);
  assert.match(loop.stderr, /fork/i, `the limit refused forks: ${loop.stderr}`);
  const st = await state(name);
  assert.ok((st.usage?.pids ?? 99) <= 16, `pids held at the limit (${st.usage?.pids})`);
  assert.ok((st.usage?.pids ?? 0) >= 10, `the sleepers that did start are there (${st.usage?.pids})`);
  assert.equal((await show(name)).status, 'running', 'the container is still alive');
  // Once the sleepers are done, the container takes new processes again.
  await until('the sleepers to end', async () => ((await state(name)).usage?.pids ?? 99) <= 3);
  assert.equal((await strata(['exec', name, '--', 'echo', 'alive'])).stdout, 'alive\n');
  assert.equal((await strata(['delete', name, '--force', '-q'])).code, 0);
  assert.deepEqual(await containerTraces(home, name), []);
});

test('an init that exits by itself stops the container with its exit code, as an event', {
  skip,
  timeout: 120_000,
}, async () => {
  await seedContainerImage(home, 'debian');
  const name = `${tag}-exit`;
  const launched = await strata([
    'launch',
    'debian',
    name,
    '--type',
    'container',
    '--command',
    'sleep 1; exit 3',
    '-q',
  ]);
  assert.equal(launched.code, 0, launched.stderr);
  await until('the init to exit', async () => (await show(name)).status === 'stopped');
  assert.equal((await show(name)).exitCode, 3);
  await until('the stop event', () => lifecycle(name).some((d) => d.action === 'instance-stopped'));
  const ev = lifecycle(name).find((d) => d.action === 'instance-stopped');
  assert.equal(ev?.exitCode, 3);
  assert.equal(ev?.cause, 'exit');
  assert.match(String(ev?.reason), /exited with code 3/);
  const actions = lifecycle(name).map((d) => d.action);
  assert.deepEqual(actions.slice(0, 3), ['instance-created', 'instance-started', 'instance-stopped']);
  assert.equal((await strata(['delete', name, '-q'])).code, 0);
  assert.deepEqual(await containerTraces(home, name), []);
});

test('a sandbox: exit code and the CPU-limit end arrive as events; usage while it runs', {
  timeout: 120_000,
}, async () => {
  const dir = join(home, 'modules');
  mkdirSync(dir, { recursive: true });
  const hello = join(dir, 'hello.wasm');
  writeFileSync(hello, helloModule('hi\n', 5));
  assert.equal((await strata(['launch', hello, 'dsb-exit', '--type', 'sandbox', '-q'])).code, 0);
  await until('the exit event', () => lifecycle('dsb-exit').some((d) => d.action === 'instance-stopped'));
  const exitEv = lifecycle('dsb-exit').find((d) => d.action === 'instance-stopped');
  assert.equal(exitEv?.exitCode, 5);
  assert.equal(exitEv?.cause, 'exit');

  const spin = join(dir, 'spin.wasm');
  writeFileSync(spin, spinModule());
  const r = await strata(['launch', spin, 'dsb-cpu', '--type', 'sandbox', '--cpu-time-limit', '1500', '-q']);
  assert.equal(r.code, 0, r.stderr);
  await until('CPU time counted', async () => ((await state('dsb-cpu')).usage?.cpuSeconds ?? 0) > 0.2, 5_000);
  const st = await state('dsb-cpu');
  assert.ok((st.usage?.memoryRssBytes ?? 0) >= 65536, 'the module memory is shown');
  await until('the CPU-limit event', () => lifecycle('dsb-cpu').some((d) => d.action === 'instance-stopped'));
  const cpuEv = lifecycle('dsb-cpu').find((d) => d.action === 'instance-stopped');
  assert.equal(cpuEv?.cause, 'cpu-limit');
  assert.equal(cpuEv?.exitCode, null);
  assert.match(String(cpuEv?.reason), /CPU time limit of 1500 ms/);
  const info = await strata(['info', 'dsb-cpu']);
  assert.match(info.stdout, /ended by: cpu-limit/);
  assert.match(info.stdout, /CPU time\s+1500 ms per run/);
  for (const n of ['dsb-exit', 'dsb-cpu']) assert.equal((await strata(['delete', n, '-q'])).code, 0);
});

test('bad input through the daemon: one line each, nothing left behind', { timeout: 120_000 }, async () => {
  const before = await instanceNames();
  const oneLine = (s: string) => s.trim().split('\n').length === 1;

  // Options of another type.
  const hostForSandbox = await strata(['launch', 'x.wasm', 'dbad-a', '--type', 'sandbox', '--hostname', 'h']);
  assert.equal(hostForSandbox.code, 1);
  assert.match(hostForSandbox.stderr, /--hostname is for a container/);
  const viaApi = await client.raw('POST', '/1.0/instances', {
    name: 'dbad-b',
    image: 'debian',
    type: 'container',
    hostname: 'not_a_label',
  });
  assert.equal(viaApi.status, 400);
  assert.match(JSON.stringify(viaApi.body), /invalid hostname: 'not_a_label' is not a host name label/);
  const pidsForVm = await client.raw('POST', '/1.0/instances', { name: 'dbad-c', image: 'debian', pidsLimit: 5 });
  assert.equal(pidsForVm.status, 400);
  assert.match(JSON.stringify(pidsForVm.body), /invalid pidsLimit: only a container takes it, not a vm/);
  const zeroPids = await strata(['launch', 'debian', 'dbad-d', '--type', 'container', '--pids-limit', '0']);
  assert.equal(zeroPids.code, 1);
  assert.match(zeroPids.stderr, /invalid pidsLimit: '0'/);

  // A module that is not WebAssembly.
  const bad = join(home, 'bad.wasm');
  writeFileSync(bad, 'not a module');
  const badWasm = await strata(['launch', bad, 'dbad-e', '--type', 'sandbox', '-q']);
  assert.equal(badWasm.code, 1);
  assert.ok(oneLine(badWasm.stderr), badWasm.stderr);
  assert.match(badWasm.stderr, /bad\.wasm|not a valid WebAssembly/);
  assert.ok(!existsSync(join(home, 'sandboxes', 'dbad-e')));

  if (!skip) {
    // An image of another architecture.
    const shared = await ensureContainerImage('busybox');
    const imgDir = join(home, 'images', 'foreign-container');
    mkdirSync(join(imgDir, 'rootfs'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dirname(shared.rootfsPath), 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const foreignArch = manifest.arch === 'riscv64' ? 'amd64' : 'riscv64';
    writeFileSync(
      join(imgDir, 'manifest.json'),
      JSON.stringify({ ...manifest, name: 'foreign-container', arch: foreignArch }),
    );
    const name = `${tag}-arch`;
    const wrongArch = await strata(['launch', 'foreign', name, '--type', 'container', '-q']);
    assert.equal(wrongArch.code, 1);
    assert.ok(oneLine(wrongArch.stderr), wrongArch.stderr);
    assert.match(wrongArch.stderr, new RegExp(`is for ${foreignArch}, but this host is`));
    assert.deepEqual(await containerTraces(home, name), []);
  }
  assert.deepEqual(await instanceNames(), before, 'the instance list is unchanged');
});

test('a daemon on a host without runc refuses containers in one line', { timeout: 60_000 }, async () => {
  const home2 = tempHome('sdc-norunc-');
  const emptyBin = join(home2, 'bin');
  mkdirSync(emptyBin, { recursive: true });
  const d = await startDaemonProcess(home2, { PATH: emptyBin });
  try {
    const r = await runStrata(['launch', 'busybox', 'nr1', '--type', 'container', '-q'], {
      env: { STRATA_HOME: home2 },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /runc.*not installed or not in PATH/);
    const list = await runStrata(['list', '--format', 'json'], { env: { STRATA_HOME: home2 }, timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(list.stdout), []);
    assert.ok(!existsSync(join(home2, 'containers', 'nr1')));
  } finally {
    await d.stop();
    rmSync(home2, { recursive: true, force: true });
  }
});

test('containers of one name in two daemon homes run in separate cgroups, and a stopped daemon leaves no cgroup folder', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const name = `${tag}-twin`;
  const home2 = tempHome('sdc-twin-');
  const daemon2 = await startTestDaemon(home2);
  let daemon2Open = true;
  t.after(async () => {
    if (daemon2Open) {
      await daemon2.instances.deleteAny(name, true).catch(() => undefined);
      await daemon2.close();
    }
    rmSync(home2, { recursive: true, force: true });
  });
  const pids: number[] = [];
  for (const h of [home, home2]) {
    const env = { STRATA_HOME: h };
    assert.equal(
      (await runStrata(['image', 'pull', 'busybox', '--type', 'container', '-q'], { env, timeoutMs: 120_000 })).code,
      0,
    );
    const r = await runStrata(['launch', 'busybox', name, '--type', 'container', '-q'], { env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(
      (await runStrata(['list', '--format', 'json'], { env, timeoutMs: 30_000 })).stdout,
    ) as Instance[];
    pids.push(list.find((i) => i.name === name)?.vmmPid ?? 0);
  }
  // The memory cgroup of each init: its own daemon's, not one shared by the two.
  const memoryGroup = (pid: number) =>
    readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => /:memory:|^0::/.test(l))
      ?.replace(/^[^:]*:[^:]*:/, '');
  const [g1, g2] = pids.map(memoryGroup);
  assert.equal(g1, `/${cgParent(home)}/${name}`);
  assert.equal(g2, `/${cgParent(home2)}/${name}`);
  assert.notEqual(g1, g2);

  // The second daemon stops and keeps its container; once that container is gone, a later daemon's stop removes the
  // home's cgroup folder.
  await daemon2.close();
  daemon2Open = false;
  const again = await startTestDaemon(home2);
  const op = await again.instances.deleteAny(name, true);
  const c2 = new DaemonClient({ baseUrl: again.url, token: again.token });
  await c2.call('GET', `/1.0/operations/${op.id}/wait?timeout=60`);
  await again.close();
  const left = readdirSync(CG).filter((h) => existsSync(join(CG, h, cgParent(home2))));
  assert.deepEqual(left, [], 'no cgroup folder of the second home is left');
  assert.equal((await strata(['delete', name, '--force', '-q'])).code, 0);
  assert.deepEqual(await containerTraces(home, name), []);
});
