// Files, arguments, environment and limits changes of containers and sandboxes through the daemon and the `strata`
// command line. Sandboxes: arguments and environment reach the WASI module; a folder given at launch and a file
// pushed later are what the module reads; escapes through the file route (`..`, an absolute path, a symbolic link
// or a hard link planted in the folder) are refused in one line and nothing is written outside. Containers (the
// real runc, the Debian image): push and pull round-trip byte for byte and the container sees the file; links in
// the container are resolved inside its root; a stopped container takes a push too; a memory limit lowered on the
// running container is in its cgroup at once and OOM-kills a process above it, and survives a restart.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Instance } from '../../src/api/schema/index.js';
import { DaemonClient } from '../../src/cli/client.js';
import { mountPoints } from '../../src/services/containers/host-checks.js';
import { CGROUP_ROOT, containerCgroupParent, containerSkipReason } from '../helpers/container-cgroups.js';
import { seedContainerImage } from '../helpers/container-images.js';
import { closeTestDaemon, startTestDaemon, tempHome } from '../helpers/daemon-harness.js';
import { runStrata } from '../helpers/strata-cli.js';
import { until } from '../helpers/until.js';
import { argsEnvModule, catModule } from '../helpers/wasi-modules.js';

const skipContainers = containerSkipReason();
/** Names unique to this test process: cgroups and runc ids are host-global. */
const tag = `df${process.pid}`;

let home: string;
let work: string;
let daemon: Awaited<ReturnType<typeof startTestDaemon>>;
let client: DaemonClient;

before(async () => {
  home = tempHome('sdf-');
  work = tempHome('sdf-work-');
  daemon = await startTestDaemon(home);
  client = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
});

after(async () => {
  if (daemon) await closeTestDaemon(daemon, client);
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

function strata(args: string[], opts: { input?: Buffer } = {}) {
  return runStrata(args, { env: { STRATA_HOME: home }, timeoutMs: 120_000, ...opts });
}

function show(name: string): Promise<Instance> {
  return client.call<Instance>('GET', `/1.0/instances/${name}`);
}

/** Waits for a sandbox's run to end, then returns what the module wrote (the console keeps its last run). */
async function runOutput(name: string): Promise<Buffer> {
  await until(`${name} to stop`, async () => (await show(name)).status === 'stopped');
  const res = await client.raw<Buffer>('GET', `/1.0/instances/${name}/console`);
  assert.equal(res.status, 200);
  return res.body;
}

/** Every file below `dir` (relative paths), to see that nothing was written there. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

test('a sandbox gets its arguments and environment; info shows them; bad ones fail in one line', async () => {
  const wasm = join(work, 'args-env.wasm');
  writeFileSync(wasm, argsEnvModule());
  const launched = await strata([
    'launch',
    wasm,
    `${tag}-args`,
    '--type',
    'sandbox',
    '--env',
    'GREETING=hi there',
    '--env',
    'EMPTY=',
    '-q',
    '--',
    'two words',
    '--flag',
  ]);
  assert.equal(launched.code, 0, launched.stderr);
  const out = await runOutput(`${tag}-args`);
  assert.equal(out.toString('utf8'), `${tag}-args\0two words\0--flag\0|GREETING=hi there\0EMPTY=\0`);
  const inst = await show(`${tag}-args`);
  assert.deepEqual(inst.sandbox?.args, ['two words', '--flag']);
  assert.deepEqual(inst.sandbox?.env, { GREETING: 'hi there', EMPTY: '' });
  assert.equal(inst.exitCode, 0);
  const info = await strata(['info', `${tag}-args`]);
  assert.match(info.stdout, /^args: {5}'two words' --flag$/m);
  assert.match(info.stdout, /^env: {6}GREETING='hi there'$/m);

  const namesBefore = (await client.call<Instance[]>('GET', '/1.0/instances')).map((i) => i.name);
  for (const [args, message] of [
    [['--env', '1X=y'], /^strata: invalid env: '1X' is not a variable name/],
    [['--env', 'NOEQUALS'], /^strata: invalid --env 'NOEQUALS': give NAME=value/],
    [
      ['--', ...Array.from({ length: 20 }, () => 'x'.repeat(4000))],
      /^strata: invalid args: 80020 bytes, at most 65536/,
    ],
  ] as const) {
    const bad = await strata(['launch', wasm, `${tag}-bad`, '--type', 'sandbox', '-q', ...args]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split('\n').length, 1, `one line: ${bad.stderr}`);
  }
  const bad = await strata(['launch', 'fake', `${tag}-vm`, '--env', 'A=b', '-q']);
  assert.match(bad.stderr, /--env is for a container or a sandbox, not a vm/);
  assert.deepEqual(
    (await client.call<Instance[]>('GET', '/1.0/instances')).map((i) => i.name),
    namesBefore,
    'no instance was made',
  );
});

test('a sandbox reads the folder given at launch, then a pushed file; pull gives the bytes back', async () => {
  const name = `${tag}-cat`;
  const wasm = join(work, 'cat.wasm');
  writeFileSync(wasm, catModule('data/in.txt'));
  const local = join(work, 'seed');
  mkdirSync(join(local, 'data'), { recursive: true });
  writeFileSync(join(local, 'data', 'in.txt'), 'from the launch folder\n');
  writeFileSync(join(local, 'top.txt'), 'top\n');
  const launched = await strata(['launch', wasm, name, '--type', 'sandbox', '--dir', local, '-q']);
  assert.equal(launched.code, 0, launched.stderr);
  assert.equal((await runOutput(name)).toString(), 'from the launch folder\n');
  assert.equal(readFileSync(join(home, 'sandboxes', name, 'files', 'top.txt'), 'utf8'), 'top\n');

  const next = join(work, 'next.txt');
  writeFileSync(next, 'pushed later\n');
  const pushed = await strata(['file', 'push', next, `${name}/data/in.txt`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal(pushed.stdout, `pushed 13 bytes to ${name}/data/in.txt\n`);
  assert.equal((await strata(['start', name, '-q'])).code, 0);
  assert.equal((await runOutput(name)).toString(), 'pushed later\n', 'the module prints the pushed file');

  // Binary bytes, into a folder that did not exist, through standard input; pulled back to a file and to stdout.
  const blob = randomBytes(100_000);
  const viaStdin = await strata(['file', 'push', '-', `${name}/new/deep/blob.bin`], { input: blob });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  const back = join(work, 'blob.back');
  const pulled = await strata(['file', 'pull', `${name}/new/deep/blob.bin`, back]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.ok(readFileSync(back).equals(blob), 'pull gives the pushed bytes back');
  assert.equal((await strata(['file', 'pull', `${name}/data/in.txt`, '-'])).stdout, 'pushed later\n');
  const missing = await strata(['file', 'pull', `${name}/data/nope.txt`, back]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^strata: no file 'data\/nope.txt' in sandbox/);
});

test('escapes through the file route are refused in one line and write nothing outside the folder', async () => {
  const name = `${tag}-esc`;
  const wasm = join(work, 'cat2.wasm');
  writeFileSync(wasm, catModule('in.txt'));
  assert.equal((await strata(['launch', wasm, name, '--type', 'sandbox', '-q'])).code, 0);
  await until('the run to end', async () => (await show(name)).status === 'stopped');
  const folder = join(home, 'sandboxes', name, 'files');
  const outside = join(work, 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'host secret\n');
  const src = join(work, 'payload.txt');
  writeFileSync(src, 'payload\n');
  symlinkSync(outside, join(folder, 'link'));
  symlinkSync(join(outside, 'secret.txt'), join(folder, 'secret-link'));
  linkSync(join(outside, 'secret.txt'), join(folder, 'hard.txt'));
  const outsideBefore = filesBelow(outside);

  for (const [target, message] of [
    [`${name}/../x`, /^strata: invalid path '\.\.\/x': '\.\.' could lead outside the instance\n$/],
    [`${name}//etc/passwd`, /^strata: invalid path '\/etc\/passwd': it is absolute/],
    [`${name}/link/x.txt`, /^strata: invalid path 'link\/x.txt': 'link' is a symbolic link/],
    [`${name}/secret-link`, /^strata: invalid path 'secret-link': 'secret-link' is a symbolic link/],
  ] as const) {
    const r = await strata(['file', 'push', src, target]);
    assert.equal(r.code, 1, `${target}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    const p = await strata(['file', 'pull', target, join(work, 'pulled')]);
    assert.equal(p.code, 1, `pull ${target}`);
    assert.equal(p.stderr.trim().split('\n').length, 1);
  }
  assert.ok(!existsSync(join(work, 'pulled')), 'no refused pull wrote a local file');
  // A hard link to a host file: pulling it is refused, pushing replaces the link and leaves the host file alone.
  const hard = await strata(['file', 'pull', `${name}/hard.txt`, '-']);
  assert.equal(hard.code, 1);
  assert.match(hard.stderr, /2 hard links and may be a file from outside the sandbox/);
  assert.equal((await strata(['file', 'push', src, `${name}/hard.txt`])).code, 0);
  assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'host secret\n', 'the host file is unchanged');
  assert.equal(readFileSync(join(folder, 'hard.txt'), 'utf8'), 'payload\n');
  assert.deepEqual(filesBelow(outside), outsideBefore, 'nothing was written outside the folder');
  assert.ok(!existsSync(join(home, 'sandboxes', 'x')) && !existsSync(join(home, 'sandboxes', name, 'x')));

  // A VM has no such route; a sandbox refuses limits it does not have, and takes those it has.
  const weight = await strata(['limits', name, '--cpu-weight', '5']);
  assert.equal(weight.code, 1);
  assert.match(weight.stderr, /^strata: invalid limits\.cpuWeight: a sandbox has a CPU time limit, not a weight/);
  const cpu = await strata(['limits', name, '--cpu-time-limit', '1500', '--memory', '8M']);
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.match(cpu.stdout, /CPU time\s+1500 ms per run/);
  assert.match(cpu.stdout, /memory\s+8(\.0)? MiB \(linear memory cap\)/);
});

/** The container's memory limit as its cgroup holds it (v1 or v2). */
function cgroupFile(name: string, v1: [string, string], v2: string): string {
  const p1 = join(CGROUP_ROOT, v1[0], containerCgroupParent(home), name, v1[1]);
  if (existsSync(p1)) return readFileSync(p1, 'utf8').trim();
  return readFileSync(join(CGROUP_ROOT, containerCgroupParent(home), name, v2), 'utf8').trim();
}

test('a container: push and pull round-trip, links stay inside its root, a stopped one takes a push too', {
  skip: skipContainers,
  timeout: 600_000,
}, async () => {
  await seedContainerImage(home, 'debian');
  const name = `${tag}-ct`;
  const launched = await strata([
    'launch',
    'debian',
    name,
    '--type',
    'container',
    '--env',
    'FOO=bar baz',
    '-q',
    '--',
    '/bin/sh',
    '-c',
    "trap 'exit 0' TERM; while :; do sleep 1; done",
  ]);
  assert.equal(launched.code, 0, launched.stderr);
  assert.equal((await strata(['exec', name, '--', 'sh', '-c', 'echo "$FOO"'])).stdout, 'bar baz\n');
  assert.deepEqual((await show(name)).container?.env, { FOO: 'bar baz' });

  const blob = randomBytes(300_000);
  const local = join(work, 'ct-blob.bin');
  writeFileSync(local, blob);
  const pushed = await strata(['file', 'push', local, `${name}/root/sub/blob.bin`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const sum = await strata(['exec', name, '--', 'sha256sum', '/root/sub/blob.bin']);
  assert.equal(sum.stdout.split(' ')[0], createHash('sha256').update(blob).digest('hex'), 'the container sees it');
  const back = join(work, 'ct-blob.back');
  assert.equal((await strata(['file', 'pull', `${name}/root/sub/blob.bin`, back])).code, 0);
  assert.ok(readFileSync(back).equals(blob), 'pull gives the same bytes');
  const osRelease = await strata(['file', 'pull', `${name}/etc/os-release`, '-']);
  assert.match(osRelease.stdout, /^ID=debian$/m, 'image files can be pulled');

  // Links made inside the container resolve inside its root: an absolute link to /etc, a relative one climbing
  // above the root. Neither reaches the host's files.
  const mark = `strata-${tag}-mark`;
  const made = await strata([
    'exec',
    name,
    '--',
    'sh',
    '-c',
    `ln -s /etc /root/etc-link && ln -s ../../../../../../../etc/${mark}-2 /root/climb`,
  ]);
  assert.equal(made.code, 0, made.stderr);
  const text = join(work, 'mark.txt');
  writeFileSync(text, 'inside\n');
  assert.equal((await strata(['file', 'push', text, `${name}/root/etc-link/${mark}`])).code, 0);
  assert.equal((await strata(['file', 'push', text, `${name}/root/climb`])).code, 0);
  assert.ok(!existsSync(`/etc/${mark}`) && !existsSync(`/etc/${mark}-2`), 'nothing was written to the host /etc');
  const seen = await strata(['exec', name, '--', 'cat', `/etc/${mark}`, `/etc/${mark}-2`]);
  assert.equal(seen.stdout, 'inside\ninside\n', 'the files landed in the container /etc');
  const passwd = await strata(['file', 'pull', `${name}/root/etc-link/passwd`, '-']);
  assert.equal(passwd.stdout, (await strata(['exec', name, '--', 'cat', '/etc/passwd'])).stdout);
  for (const target of [`${name}/../x`, `${name}//etc/passwd`]) {
    const r = await strata(['file', 'push', text, target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^strata: invalid path '/);
  }

  // Stopped: the push goes into its layer (the overlay is mounted for it and unmounted again).
  assert.equal((await strata(['stop', name, '-q'])).code, 0);
  assert.equal((await strata(['file', 'push', text, `${name}/root/while-stopped.txt`])).code, 0);
  assert.equal((await strata(['file', 'pull', `${name}/root/sub/blob.bin`, back])).code, 0);
  assert.ok(readFileSync(back).equals(blob));
  const rootfs = join(home, 'containers', name, 'bundle', 'rootfs');
  assert.ok(!(await mountPoints()).includes(rootfs), 'no overlay left mounted after a push to a stopped container');
  assert.ok(existsSync(join(home, 'containers', name, 'layer', 'upper', 'root', 'while-stopped.txt')));
  assert.equal((await strata(['start', name, '-q'])).code, 0);
  assert.equal((await strata(['exec', name, '--', 'cat', '/root/while-stopped.txt'])).stdout, 'inside\n');
  assert.equal((await strata(['delete', name, '--force', '-q'])).code, 0);
});

test('limits of a running container change at once (runc update): cgroup, info, enforcement, kept across restart', {
  skip: skipContainers,
  timeout: 600_000,
}, async () => {
  await seedContainerImage(home, 'debian');
  const name = `${tag}-lim`;
  const launched = await strata(['launch', 'debian', name, '--type', 'container', '--memory', '256M', '-q']);
  assert.equal(launched.code, 0, launched.stderr);
  const memLimit = () => cgroupFile(name, ['memory', 'memory.limit_in_bytes'], 'memory.max');
  assert.equal(memLimit(), String(256 * 1024 * 1024));
  // tail keeps the last "line" of endless zero bytes in memory: about 64 MiB here, well under 256 MiB.
  const hog = ['exec', name, '--', 'sh', '-c', 'head -c 80M /dev/zero | tail -c 64M > /dev/null'];
  assert.equal((await strata(hog)).code, 0, 'under the first limit the process runs to its end');

  const changed = await strata(['limits', name, '--memory', '32M', '--cpu-quota', '50', '--pids-limit', '64']);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /memory\s+32(\.0)? MiB \(hard cap\)/);
  assert.match(changed.stdout, /CPU quota\s+50% of a CPU/);
  assert.match(changed.stdout, /processes\s+64/);
  assert.equal(memLimit(), String(32 * 1024 * 1024), 'the cgroup holds the new memory limit');
  assert.equal(cgroupFile(name, ['cpu', 'cpu.cfs_quota_us'], 'cpu.max').split(' ')[0], '50000');
  assert.equal(cgroupFile(name, ['pids', 'pids.max'], 'pids.max'), '64');
  const inst = await show(name);
  assert.equal(inst.container?.memoryLimitBytes, 32 * 1024 * 1024);
  assert.equal(inst.container?.cpuQuotaPercent, 50);
  assert.equal(inst.container?.pidsLimit, 64);
  const killed = await strata(hog);
  assert.equal(killed.code, 137, 'the same process is now OOM-killed (SIGKILL: 128+9)');
  assert.equal((await show(name)).status, 'running', 'the container lives on');
  assert.ok(((await show(name)).container?.oomKills ?? 0) >= 1);

  // A quota of 0 lifts the quota; a field a container does not have is refused naming it.
  assert.equal((await strata(['limits', name, '--cpu-quota', '0'])).code, 0);
  const lifted = cgroupFile(name, ['cpu', 'cpu.cfs_quota_us'], 'cpu.max').split(' ')[0];
  assert.ok(lifted === '-1' || lifted === 'max', `the quota is lifted (${lifted})`);
  const wrong = await strata(['limits', name, '--cpu-time-limit', '100']);
  assert.equal(wrong.code, 1);
  assert.match(
    wrong.stderr,
    /^strata: invalid cpuTimeLimitMs: a container has a CPU weight and quota, not a CPU time budget/,
  );
  const tooSmall = await strata(['limits', name, '--memory', '1M']);
  assert.match(tooSmall.stderr, /^strata: invalid memory: '1M' is below the minimum of 4M/);

  assert.equal((await strata(['restart', name, '-q'])).code, 0);
  assert.equal(memLimit(), String(32 * 1024 * 1024), 'a restart keeps the changed limit');
  assert.equal((await strata(['delete', name, '--force', '-q'])).code, 0);
});
