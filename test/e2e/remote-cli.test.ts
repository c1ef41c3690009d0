// `strata network ...` and `strata storage ...` against a remote daemon: the daemon runs on its own STRATA_HOME, the
// CLI runs with a different, empty STRATA_HOME and STRATA_URL/STRATA_TOKEN naming the daemon. Everything must land in
// the daemon's home (the CLI's stays empty), print the same JSON as the local command prints for the same object,
// follow long operations with a progress line, move files for import and export over the API, and refuse the
// commands that only make sense on the daemon's host with one line and nothing changed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { PoolRegistry } from '../../src/services/storage/pools/pool-registry.js';
import { type DaemonProcess, startDaemonProcess } from '../helpers/daemon-process.js';
import { type CliResult, runStrata, STRATA_BIN } from '../helpers/strata-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-remote-cli-'));
const daemonHome = join(dir, 'daemon-home');
const cliHome = join(dir, 'cli-home');
let daemon: DaemonProcess;
let serve: ChildProcess | undefined;

before(async () => {
  // The local runs below must not follow a STRATA_URL of the environment the tests run in.
  delete process.env.STRATA_URL;
  delete process.env.STRATA_TOKEN;
  daemon = await startDaemonProcess(daemonHome);
  mkdirSync(cliHome);
  writeFileSync(join(dir, 'image.raw'), Buffer.alloc(1024 * 1024, 1));
});

after(async () => {
  serve?.kill('SIGKILL');
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `strata ARGS` on the CLI's own (empty) home, pointed at the daemon. */
function remote(...args: string[]): Promise<CliResult> {
  return runStrata(args, {
    env: { STRATA_HOME: cliHome, STRATA_URL: daemon.url, STRATA_TOKEN: daemon.token },
    timeoutMs: 30_000,
  });
}

/** `strata ARGS` run locally on the daemon's home (no STRATA_URL): the local command on the same store. */
function local(...args: string[]): Promise<CliResult> {
  return runStrata(args, { env: { STRATA_HOME: daemonHome }, timeoutMs: 30_000 });
}

async function ok(run: Promise<CliResult>): Promise<CliResult> {
  const r = await run;
  assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
  return r;
}

async function json<T = unknown>(run: Promise<CliResult>): Promise<T> {
  return JSON.parse((await ok(run)).stdout) as T;
}

/** One line on stderr matching `mention`, nothing on stdout, exit `code`. */
async function oneLineError(run: Promise<CliResult>, mention: RegExp, code = 1): Promise<void> {
  const r = await run;
  assert.equal(r.code, code, `exit code: ${r.stderr}${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, mention);
}

/** The CLI's own home holds nothing: no command acted on it. */
function cliHomeUntouched(): void {
  assert.deepEqual(readdirSync(cliHome), [], 'the CLI home stays empty');
}

test('the help of network and storage states where they act', async () => {
  for (const group of ['network', 'storage']) {
    const h = await ok(remote(group, '--help'));
    assert.match(h.stdout, /STRATA_URL set .*on the daemon at/s);
    assert.match(h.stdout, /without it, on the local \$STRATA_HOME/);
  }
});

test('a wrong token is one line naming STRATA_TOKEN and exit 1, for every command group', async () => {
  for (const args of [['list'], ['network', 'list'], ['storage', 'pool', 'list']]) {
    const r = await runStrata(args, {
      env: { STRATA_HOME: cliHome, STRATA_URL: daemon.url, STRATA_TOKEN: 'not-the-token' },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1, `strata ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^strata: .*set STRATA_TOKEN/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('networks: create, list, show, flows and delete act on the daemon, with the local JSON', async () => {
  const c = await ok(
    remote('network', 'create', 'rnet-a', '--subnet', '10.0.61.0/24', '--dhcp', '--nat', '--vlan', '7'),
  );
  assert.equal(c.stdout, 'created network rnet-a (10.0.61.0/24, gateway 10.0.61.1/24)\n');
  assert.equal((await ok(remote('network', 'create', 'rnet-b'))).stdout, 'created network rnet-b\n');
  assert.deepEqual(readdirSync(join(daemonHome, 'networks')).sort(), ['rnet-a.json', 'rnet-b.json']);
  cliHomeUntouched();

  const table = (await ok(remote('network', 'list'))).stdout;
  assert.match(table, /^NAME\s+SUBNET\s+GATEWAY\s+VLAN\s+DHCP\s+NAT\s+ROUTER\s+STATE\n/);
  assert.match(table, /\nrnet-a\s+10\.0\.61\.0\/24\s+10\.0\.61\.1\s+7\s+yes\s+yes\s+-\s+stopped\n/);
  assert.match(table, /\nrnet-b\s+-\s+-\s+1\s+no\s+no\s+-\s+stopped\n/);
  const listed = await json<{ name: string; running: boolean }[]>(remote('network', 'list', '--format', 'json'));
  assert.deepEqual(
    listed.map((n) => [n.name, n.running]),
    [
      ['rnet-a', false],
      ['rnet-b', false],
    ],
  );
  assert.deepEqual(listed, await json(local('network', 'list', '--format', 'json')), 'list: same JSON as local');
  const yaml = parseYaml((await ok(remote('network', 'list', '--format', 'yaml'))).stdout) as unknown;
  assert.deepEqual(yaml, listed, 'YAML carries the same data');

  const shown = await json<{ gateway: string; vlan: number; ports: unknown[]; leases: unknown[] }>(
    remote('network', 'show', 'rnet-a', '--format', 'json'),
  );
  assert.deepEqual([shown.gateway, shown.vlan, shown.ports, shown.leases], ['10.0.61.1', 7, [], []]);
  assert.deepEqual(shown, await json(local('network', 'show', 'rnet-a', '--format', 'json')), 'show: same JSON');
  const showTable = (await ok(remote('network', 'show', 'rnet-a'))).stdout;
  assert.match(showTable, /gateway:\s+10\.0\.61\.1\/24\n/);
  assert.match(showTable, /state:\s+stopped\n/);

  // Not served: the same one-line refusal as the local command.
  const notRunning = /network 'rnet-a' is not running \(no NIC is attached to it\)/;
  await oneLineError(remote('network', 'flows', 'rnet-a'), notRunning);
  await oneLineError(local('network', 'flows', 'rnet-a'), notRunning);
  await oneLineError(remote('network', 'show', 'nope'), /unknown network 'nope'/);
  await oneLineError(remote('network', 'create', 'rnet-c', '--subnet', '10.0.300.0/24'), /10\.0\.300\.0/, 2);
  await oneLineError(remote('network', 'create', 'rnet-b'), /already exists/);

  assert.equal((await ok(remote('network', 'delete', 'rnet-b'))).stdout, 'deleted network rnet-b\n');
  assert.deepEqual(readdirSync(join(daemonHome, 'networks')), ['rnet-a.json']);
  await oneLineError(remote('network', 'delete', 'rnet-b'), /unknown network 'rnet-b'/);
  cliHomeUntouched();
});

test('a network served on the daemon host: show, flows and a refused delete through the daemon', async () => {
  serve = spawn(process.execPath, [STRATA_BIN, 'network', 'serve', 'rnet-a'], {
    env: { ...process.env, STRATA_HOME: daemonHome },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  serve.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (let i = 0; i < 200 && !out.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /^serving rnet-a/);

  const shown = await json<{ running: boolean; runtime: { pid: number }; ports: { name: string }[] }>(
    remote('network', 'show', 'rnet-a', '--format', 'json'),
  );
  assert.equal(shown.running, true);
  assert.equal(shown.runtime.pid, serve.pid);
  assert.deepEqual(
    shown.ports.map((p) => p.name),
    ['gw-rnet-a'],
  );
  assert.deepEqual(shown, await json(local('network', 'show', 'rnet-a', '--format', 'json')), 'same JSON as local');
  const table = (await ok(remote('network', 'show', 'rnet-a'))).stdout;
  assert.match(table, new RegExp(`state:\\s+running \\(pid ${serve.pid}\\)`));
  assert.match(table, /\n\s*1\s+gw-rnet-a\s+7\s/);

  const flows = (await ok(remote('network', 'flows', 'rnet-a'))).stdout;
  assert.match(
    flows,
    /^TABLE\s+PRIORITY\s+MATCH\s+ACTIONS\s+PACKETS\s+BYTES\s+COOKIE\s+DURATION\n\s+0\s+0\s+\*\s+output:NORMAL/,
  );
  type Flow = { durationS: number };
  const ageless = (rows: Flow[]) => rows.map((f) => ({ ...f, durationS: 0 }));
  assert.deepEqual(
    ageless(await json<Flow[]>(remote('network', 'flows', 'rnet-a', '--format', 'json'))),
    ageless(await json<Flow[]>(local('network', 'flows', 'rnet-a', '--format', 'json'))),
    'flows: same JSON as local (ages aside)',
  );
  await oneLineError(remote('network', 'delete', 'rnet-a'), /network 'rnet-a' is running \(pid \d+\)/);

  serve.kill('SIGTERM');
  await new Promise((r) => serve?.once('close', r));
  serve = undefined;
  assert.equal((await ok(remote('network', 'delete', 'rnet-a'))).stdout, 'deleted network rnet-a\n');
  assert.deepEqual(readdirSync(join(daemonHome, 'networks')), []);
  cliHomeUntouched();
});

test('commands that cannot act through the daemon are refused remotely with one line, and nothing changes', async () => {
  await ok(remote('network', 'create', 'rnet-r'));
  await ok(remote('storage', 'volume', 'create', 'rvx', '--size', '1M'));
  const before = await json(local('storage', 'volume', 'list', '--format', 'json'));
  const pcap = join(dir, 'cap.pcap');
  await oneLineError(
    remote('network', 'capture', 'rnet-r', '--port', '1', '--output', pcap, '--count', '1'),
    /^strata: network capture cannot run against the daemon at http:\/\/127\.0\.0\.1:\d+ \(STRATA_URL is set\): .*pcap/,
  );
  assert.equal(existsSync(pcap), false);
  await oneLineError(remote('network', 'serve', 'rnet-r'), /^strata: network serve cannot run against the daemon/);
  assert.equal(existsSync(join(daemonHome, 'run', 'net-rnet-r.json')), false);
  // A malformed command line is a usage error (exit 2) before the daemon is asked anything.
  await oneLineError(remote('storage', 'volume', 'create', 'a/b', '--size', '1M'), /invalid volume name 'a\/b'/, 2);
  await oneLineError(remote('storage', 'volume', 'resize', 'rvx', '12X'), /invalid size/, 2);
  await oneLineError(
    remote('storage', 'volume', 'export', 'rvx', join(dir, 'x.raw'), '--image-format', 'raw', '--compress'),
    /--compress needs --image-format qcow2/,
    2,
  );
  assert.equal(existsSync(join(dir, 'x.raw')), false);
  const missing = await remote('network', 'capture', 'rnet-r');
  assert.equal(missing.code, 2, 'a missing required option is a usage error');
  assert.deepEqual(await json(local('storage', 'volume', 'list', '--format', 'json')), before, 'nothing changed');
  await ok(remote('storage', 'volume', 'delete', 'rvx'));
  await ok(remote('network', 'delete', 'rnet-r'));
  cliHomeUntouched();
});

test('storage: pools, volumes, snapshots, resize, clone and copy act on the daemon, with the local JSON', async () => {
  const made = await ok(remote('storage', 'pool', 'create', 'rpool'));
  assert.equal(
    made.stdout,
    `created storage pool rpool (dir, ${join(daemonHome, 'storage-pools', 'rpool', 'volumes')})\n`,
  );
  assert.ok(existsSync(join(daemonHome, 'storage-pools', 'rpool', 'pool.json')));
  cliHomeUntouched();
  await oneLineError(remote('storage', 'pool', 'create', 'rpool'), /storage pool 'rpool' already exists/);
  const poolTable = (await ok(remote('storage', 'pool', 'list'))).stdout;
  assert.match(poolTable, /^NAME\s+TYPE\s+VOLUMES\s+ALLOCATED\s+AVAILABLE\s+PATH\n/);
  assert.match(poolTable, /\nrpool\s+dir\s+0\s/);
  // Free space moves with everything else on the host: compared apart from it.
  type Pool = { name: string; availableBytes: number | null };
  const steady = (pools: Pool[]) => pools.map((p) => ({ ...p, availableBytes: p.availableBytes !== null }));
  assert.deepEqual(
    steady(await json<Pool[]>(remote('storage', 'pool', 'list', '--format', 'json'))),
    steady(await json<Pool[]>(local('storage', 'pool', 'list', '--format', 'json'))),
  );
  const shownPool = await json<Pool>(remote('storage', 'pool', 'show', 'rpool', '--format', 'json'));
  assert.deepEqual(
    steady([shownPool]),
    steady([await json<Pool>(local('storage', 'pool', 'show', 'rpool', '--format', 'json'))]),
  );

  const p = ['--pool', 'rpool'];
  assert.equal(
    (await ok(remote('storage', 'volume', 'create', 'rv1', '--size', '8M', ...p))).stdout,
    'created volume rpool/rv1 (qcow2, 8.0 MiB)\n',
  );
  assert.ok(existsSync(join(daemonHome, 'storage-pools', 'rpool', 'volumes', 'rv1.qcow2')));
  const vtable = (await ok(remote('storage', 'volume', 'list', ...p))).stdout;
  assert.match(vtable, /\nrpool\s+rv1\s+qcow2\s+8\.0 MiB\s/);
  type Volume = { name: string; capacityBytes: number; snapshotCount: number; backing: string | null };
  const all = await json<Volume[]>(remote('storage', 'volume', 'list', '--format', 'json'));
  assert.ok(
    all.some((v) => v.name === 'rv1'),
    'volume list without --pool covers every pool',
  );
  assert.deepEqual(all, await json(local('storage', 'volume', 'list', '--format', 'json')), 'volume list: same JSON');
  const shown = await json<Volume>(remote('storage', 'volume', 'show', 'rv1', ...p, '--format', 'json'));
  assert.deepEqual(shown, await json(local('storage', 'volume', 'show', 'rv1', ...p, '--format', 'json')));
  assert.match(
    (await ok(remote('storage', 'volume', 'show', 'rv1', ...p))).stdout,
    /capacity:\s+8\.0 MiB \(8388608 bytes\)/,
  );

  // Snapshots.
  assert.match(
    (await ok(remote('storage', 'volume', 'snapshot', 'create', 'rv1', 's1', ...p))).stdout,
    /^created snapshot s1 \(id \d+\) of volume rpool\/rv1\n$/,
  );
  const snaps = await json<{ name: string }[]>(
    remote('storage', 'volume', 'snapshot', 'list', 'rv1', ...p, '--format', 'json'),
  );
  assert.deepEqual(
    snaps.map((s) => s.name),
    ['s1'],
  );
  assert.deepEqual(snaps, await json(local('storage', 'volume', 'snapshot', 'list', 'rv1', ...p, '--format', 'json')));
  assert.match(
    (await ok(remote('storage', 'volume', 'snapshot', 'list', 'rv1', ...p))).stdout,
    /^ID\s+NAME\s+DISK SIZE\s+CREATED\n/,
  );

  // Resize: grow, grow by, refused shrink, refused while in use.
  assert.equal(
    (await ok(remote('storage', 'volume', 'resize', 'rv1', '16M', ...p))).stdout,
    'resized volume rpool/rv1 to 16.0 MiB\n',
  );
  assert.equal(
    (await ok(remote('storage', 'volume', 'resize', 'rv1', '+1M', ...p))).stdout,
    'resized volume rpool/rv1 to 17.0 MiB\n',
  );
  await oneLineError(remote('storage', 'volume', 'resize', 'rv1', '4M', ...p), /shrink/);
  const pool = await new PoolRegistry(daemonHome).open('rpool');
  const held = await pool.attachVolume('rv1', { readOnly: false, pid: process.pid });
  await oneLineError(remote('storage', 'volume', 'resize', 'rv1', '32M', ...p), /in use by pid \d+/);
  await held.release();
  assert.equal((await pool.getVolume('rv1')).capacityBytes, 17 * 1024 * 1024, 'refusals changed nothing');

  // Revert puts the size back to the snapshot's.
  assert.equal(
    (await ok(remote('storage', 'volume', 'snapshot', 'revert', 'rv1', 's1', ...p))).stdout,
    'reverted volume rpool/rv1 to snapshot s1\n',
  );
  assert.equal((await pool.getVolume('rv1')).capacityBytes, 8 * 1024 * 1024);
  assert.equal(
    (await ok(remote('storage', 'volume', 'snapshot', 'delete', 'rv1', 's1', ...p))).stdout,
    'deleted snapshot s1 of volume rpool/rv1\n',
  );
  assert.deepEqual(await pool.listSnapshots('rv1'), []);

  // Clone (an operation followed to its end), and the base then refuses to change.
  const cl = await ok(remote('storage', 'volume', 'clone', 'rv1', 'rc1', ...p));
  assert.equal(cl.stdout, 'created volume rpool/rc1, a clone of rv1\n');
  assert.match(cl.stderr, /cloning rpool\/rv1/);
  assert.equal((await pool.getVolume('rc1')).backing, 'rv1');
  assert.deepEqual((await pool.getVolume('rv1')).dependents, ['rc1']);
  await oneLineError(remote('storage', 'volume', 'resize', 'rv1', '32M', ...p), /backing of 'rc1'/);
  await oneLineError(remote('storage', 'volume', 'delete', 'rv1', ...p), /backing of 'rc1'/);
  await oneLineError(remote('storage', 'volume', 'clone', 'rv1', 'rc1', ...p), /already exists/);

  // Copy: a standalone volume, with the operation's byte progress on stderr.
  const cp = await ok(remote('storage', 'volume', 'copy', 'rc1', 'rcopy', '--image-format', 'raw', ...p));
  assert.equal(cp.stdout, 'created volume rpool/rcopy (raw), a copy of rc1\n');
  assert.match(cp.stderr, /copying rpool\/rc1/);
  const copy = await pool.getVolume('rcopy');
  assert.deepEqual([copy.format, copy.backing, copy.capacityBytes], ['raw', null, 8 * 1024 * 1024]);
  const localCopy = await ok(local('storage', 'volume', 'copy', 'rc1', 'lcopy', '--quiet', ...p));
  assert.equal(localCopy.stdout, 'created volume rpool/lcopy (qcow2), a copy of rc1\n');

  // Export: the daemon writes the image, then it is downloaded here, with progress; same bytes as a local export.
  const remoteRaw = join(dir, 'remote.raw');
  const ex = await ok(remote('storage', 'volume', 'export', 'rc1', remoteRaw, '--image-format', 'raw', ...p));
  assert.equal(ex.stdout, `exported volume rpool/rc1 to ${remoteRaw} (raw)\n`);
  assert.match(ex.stderr, /exporting rpool\/rc1/);
  assert.match(ex.stderr, /downloading rpool\/rc1.*8\.0 MiB/);
  const localRaw = join(dir, 'local.raw');
  await ok(local('storage', 'volume', 'export', 'rc1', localRaw, '--image-format', 'raw', '--quiet', ...p));
  assert.ok(readFileSync(remoteRaw).equals(readFileSync(localRaw)), 'the remote export has the same bytes');
  const remoteQcow = join(dir, 'remote.qcow2');
  await ok(remote('storage', 'volume', 'export', 'rv1', remoteQcow, '--compress', '--quiet', ...p));
  assert.equal(readFileSync(remoteQcow).subarray(0, 4).toString('latin1'), 'QFI\xfb');
  assert.deepEqual(readdirSync(join(daemonHome, 'exports')), [], "the daemon's copies are gone once downloaded");
  await oneLineError(
    remote('storage', 'volume', 'export', 'rv1', remoteRaw, ...p),
    new RegExp(`${remoteRaw}: the file exists`),
  );
  assert.ok(readFileSync(remoteRaw).equals(readFileSync(localRaw)), 'an existing file is left as it was');
  cliHomeUntouched();

  // Import: the file of this machine is uploaded with progress, then imported by the daemon.
  const image = join(dir, 'image.raw');
  const imp = await ok(remote('storage', 'volume', 'import', 'rimp', image, '--image-format', 'raw', ...p));
  assert.equal(imp.stdout, `imported ${image} as volume rpool/rimp (raw, 1.0 MiB)\n`);
  assert.match(imp.stderr, /uploading .*image\.raw.*1\.0 MiB/);
  assert.match(imp.stderr, /importing .*image\.raw/);
  assert.ok(readFileSync((await pool.getVolume('rimp')).path).equals(readFileSync(image)), 'the uploaded bytes');
  await oneLineError(remote('storage', 'volume', 'import', 'rimp', image, ...p), /volume 'rimp' already exists/);
  // A qcow2 that names a backing file is refused: the daemon would look that name up on its own host.
  const scratch = await new PoolRegistry(join(dir, 'scratch-home')).open('default');
  await scratch.createVolume('b', { sizeBytes: 1024 * 1024 });
  const overlay = (await scratch.cloneVolume('o', 'b')).path;
  await oneLineError(remote('storage', 'volume', 'import', 'rimp2', overlay, ...p), /names a backing file/);
  await oneLineError(
    remote('storage', 'volume', 'import', 'rimp2', join(dir, 'nope.raw'), ...p),
    /nope\.raw: no such file/,
  );
  assert.ok(!(await pool.listVolumes()).some((v) => v.name === 'rimp2'), 'no refused volume');
  assert.deepEqual(readdirSync(join(daemonHome, 'uploads')), [], 'no upload left on the daemon');
  cliHomeUntouched();

  await oneLineError(remote('storage', 'pool', 'delete', 'rpool'), /not empty/);
  for (const v of ['rimp', 'lcopy', 'rcopy', 'rc1', 'rv1']) {
    assert.equal((await ok(remote('storage', 'volume', 'delete', v, ...p))).stdout, `deleted volume rpool/${v}\n`);
  }
  assert.deepEqual(readdirSync(join(daemonHome, 'storage-pools', 'rpool', 'volumes')), []);
  assert.equal((await ok(remote('storage', 'pool', 'delete', 'rpool'))).stdout, 'deleted storage pool rpool\n');
  assert.equal(existsSync(join(daemonHome, 'storage-pools', 'rpool')), false);
  await oneLineError(remote('storage', 'pool', 'show', 'rpool'), /rpool/);
  cliHomeUntouched();
});
