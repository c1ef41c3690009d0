// System containers end to end with the real runc (Debian 12's runc 1.1.5) on the host's cgroups: a Debian
// container built by debootstrap and a busybox one, exec with exit codes, the console, cgroup limits as the kernel
// sees them, a memory limit that kills, pause/resume, stop/start keeping the layer, and delete leaving no trace.
// Bad input (no runc, no cgroups, wrong architecture) fails at launch with one line and leaves nothing behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ContainerManager } from '../../src/services/containers/container-manager.js';
import { mountPoints } from '../../src/services/containers/host-checks.js';
import { attachContainerNic, TAP_BRIDGE_PATH } from '../../src/services/containers/network-hook.js';
import { serveNetwork } from '../../src/services/network/network-host.js';
import { ensureContainerImage, type SharedContainerImage } from '../helpers/container-images.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'containers need root (mount, cgroups)';
const CG = '/sys/fs/cgroup';
const PARENT = `/strata-test-${process.pid}`;
const home = mkdtempSync(join(tmpdir(), 'strata-ct-'));
let debian: SharedContainerImage;
let busybox: SharedContainerImage;
let mgr: ContainerManager;

before(async () => {
  if (!isRoot) return;
  [debian, busybox] = await Promise.all([ensureContainerImage('debian'), ensureContainerImage('busybox')]);
  mgr = new ContainerManager({ home, cgroupParent: PARENT, stopTimeoutMs: 3000 });
});

after(async () => {
  if (mgr) {
    for (const c of await mgr.list()) await mgr.delete(c.name, { force: true }).catch(() => undefined);
  }
  for (const h of readdirSync(CG)) spawnSync('rmdir', [join(CG, h, PARENT.slice(1))]);
  rmSync(home, { recursive: true, force: true });
});

function image(img: SharedContainerImage) {
  return { name: img.name, arch: img.arch, rootfsPath: img.rootfsPath };
}

/** Every trace a container could leave: mounts, cgroup folders, its folder, runc state. */
async function traces(name: string): Promise<string[]> {
  const out: string[] = [];
  const dir = join(home, 'containers', name);
  for (const m of await mountPoints()) if (m.startsWith(dir)) out.push(`mount ${m}`);
  for (const h of readdirSync(CG)) {
    const p = join(CG, h, PARENT.slice(1), name);
    if (existsSync(p)) out.push(`cgroup ${p}`);
  }
  if (existsSync(dir)) out.push(`folder ${dir}`);
  if (existsSync(join(home, 'containers', '.runc', name))) out.push(`runc state ${name}`);
  return out;
}

async function consoleUntil(name: string, input: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let text = '';
  let resolveSeen!: () => void;
  const seen = new Promise<void>((r) => {
    resolveSeen = r;
  });
  const sub = mgr.subscribeConsole(name, (b) => {
    text += Buffer.from(b).toString('utf8');
    if (pattern.test(text)) resolveSeen();
  });
  try {
    await mgr.sendConsole(name, input);
    const timer = new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`console: no ${pattern} in ${JSON.stringify(text)}`)), timeoutMs),
    );
    await Promise.race([seen, timer]);
    return text;
  } finally {
    sub.close();
  }
}

test('a Debian container: exec, exit codes, hostname, namespaces, cgroup limits, console', {
  skip,
  timeout: 600_000,
}, async () => {
  const name = `deb-${process.pid}`;
  const info = await mgr.launch({
    name,
    image: image(debian),
    hostname: 'web-1',
    limits: { memoryBytes: 96 * 1024 * 1024, cpuWeight: 200, cpuQuotaPercent: 50, pids: 64 },
  });
  assert.equal(info.status, 'running');
  assert.ok(info.pid && info.pid > 0);

  const osr = await mgr.exec(name, ['cat', '/etc/os-release']);
  assert.equal(osr.exitCode, 0);
  assert.match(osr.stdout.toString(), /^PRETTY_NAME="Debian GNU\/Linux/m);
  assert.equal((await mgr.exec(name, ['sh', '-c', 'exit 42'])).exitCode, 42);
  assert.equal((await mgr.exec(name, ['false'])).exitCode, 1);
  assert.equal((await mgr.exec(name, ['hostname'])).stdout.toString().trim(), 'web-1');
  const piped = await mgr.exec(name, ['sh', '-c', 'cat; echo err >&2'], { stdin: 'from stdin\n' });
  assert.equal(piped.stdout.toString(), 'from stdin\n');
  assert.equal(piped.stderr.toString(), 'err\n');
  // Streamed stdin: lines arrive while the process runs.
  const { PassThrough } = await import('node:stream');
  const stream = new PassThrough();
  const chunks: string[] = [];
  const streamed = mgr.exec(name, ['sh', '-c', 'while read l; do echo "got $l"; done'], {
    stdin: stream,
    onStdout: (b) => chunks.push(b.toString()),
  });
  stream.write('one\n');
  for (let i = 0; i < 100 && !chunks.join('').includes('got one'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(chunks.join(''), 'got one\n', 'output arrives before the input ends');
  stream.end('two\n');
  assert.equal((await streamed).stdout.toString(), 'got one\ngot two\n');
  await assert.rejects(mgr.exec(name, ['/no/such/program']), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, /no such file|not found/);
    return true;
  });

  // Namespaces: its own pid 1, network, uts, ipc and mount namespaces differ from the host's.
  const pid1 = await mgr.exec(name, ['cat', '/proc/1/cmdline']);
  assert.match(pid1.stdout.toString(), /^\/bin\/sh\0-c\0/);
  for (const ns of ['pid', 'net', 'uts', 'ipc', 'mnt']) {
    const inside = (await mgr.exec(name, ['readlink', `/proc/1/ns/${ns}`])).stdout.toString().trim();
    const host = spawnSync('readlink', [`/proc/1/ns/${ns}`])
      .stdout.toString()
      .trim();
    assert.notEqual(inside, host, `namespace ${ns} is the host's`);
  }
  const links = (await mgr.exec(name, ['ip', '-o', 'link'])).stdout.toString();
  assert.match(links, /\blo:/);
  assert.doesNotMatch(links, /\beth0:/, 'a new network namespace has only lo until the network hook adds one');

  // The limits as the kernel holds them (cgroup v1 files of the container's groups).
  const rel = `${PARENT.slice(1)}/${name}`;
  const cg = (h: string, f: string) => readFileSync(join(CG, h, rel, f), 'utf8').trim();
  if (existsSync(join(CG, 'memory', rel))) {
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(96 * 1024 * 1024));
    assert.equal(cg('pids', 'pids.max'), '64');
    assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('cpu', 'cpu.cfs_period_us'), '100000');
    assert.ok(Number(cg('cpu', 'cpu.shares')) > 1024, 'weight 200 maps above the default 1024 shares');
  } else {
    assert.equal(cg('', 'memory.max'), String(96 * 1024 * 1024));
  }
  // The pids limit holds: the 64th fork fails.
  const forks = await mgr.exec(name, ['sh', '-c', 'for i in $(seq 1 100); do sleep 2 & done; wait']);
  assert.match(forks.stderr.toString(), /fork|Resource temporarily unavailable/i);

  // The console is the init's shell: input in, output out.
  const text = await consoleUntil(name, 'echo console-$((6*7))\n', /console-42/);
  assert.match(text, /console-42/);

  await mgr.delete(name, { force: true });
  assert.deepEqual(await traces(name), []);
});

test('a memory limit kills the process that exceeds it and the container reports it', {
  skip,
  timeout: 600_000,
}, async () => {
  const name = `oom-${process.pid}`;
  await mgr.launch({ name, image: image(debian), limits: { memoryBytes: 48 * 1024 * 1024 } });
  const small = await mgr.exec(name, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=8M', 'count=4']);
  assert.equal(small.exitCode, 0, 'an 8 MiB buffer fits');
  assert.equal((await mgr.info(name)).oomKills, 0);
  // dd allocates and fills one 256 MiB buffer: the memory cgroup's OOM killer ends it.
  const big = await mgr.exec(name, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1']);
  assert.equal(big.exitCode, 137, 'killed by SIGKILL');
  assert.equal(big.oomKilled, true);
  const info = await mgr.info(name);
  assert.ok(info.oomKills >= 1, `oomKills ${info.oomKills}`);
  assert.equal(info.status, 'running', 'the container survives the killed process');
  assert.equal((await mgr.exec(name, ['true'])).exitCode, 0);
  const stopped = await mgr.stop(name);
  assert.equal(stopped.lastExit?.oomKilled, true);
  assert.ok(stopped.oomKills >= 1, 'the count is kept after stop');
  await mgr.delete(name);
  assert.deepEqual(await traces(name), []);
});

test('stop/start keeps the layer, the image never changes; pause/resume; restart; exit from the console', {
  skip,
  timeout: 600_000,
}, async () => {
  const name = `life-${process.pid}`;
  await mgr.launch({ name, image: image(debian) });
  const r = await mgr.exec(name, ['sh', '-c', 'echo kept > /root/note && rm /etc/debian_version && echo ok']);
  assert.equal(r.stdout.toString().trim(), 'ok');
  assert.ok(!existsSync(join(debian.rootfsPath, 'root', 'note')), 'the image is never written');
  assert.ok(existsSync(join(debian.rootfsPath, 'etc', 'debian_version')), 'a delete in the container leaves the image');

  const stopped = await mgr.stop(name);
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.lastExit?.code, 0, 'the console init exits 0 on SIGTERM');
  assert.ok(!(await mountPoints()).some((m) => m.startsWith(join(home, 'containers', name))), 'unmounted on stop');
  await assert.rejects(mgr.exec(name, ['true']), { code: 'CONFLICT' });

  await mgr.start(name);
  assert.equal((await mgr.exec(name, ['cat', '/root/note'])).stdout.toString(), 'kept\n');
  assert.equal((await mgr.exec(name, ['test', '-e', '/etc/debian_version'])).exitCode, 1);

  const paused = await mgr.pause(name);
  assert.equal(paused.status, 'paused');
  const freezer = join(CG, 'freezer', PARENT.slice(1), name, 'freezer.state');
  if (existsSync(freezer)) assert.equal(readFileSync(freezer, 'utf8').trim(), 'FROZEN');
  await assert.rejects(mgr.exec(name, ['true']), { code: 'CONFLICT' });
  await assert.rejects(mgr.pause(name), { code: 'CONFLICT' });
  assert.equal((await mgr.resume(name)).status, 'running');
  assert.equal((await mgr.exec(name, ['true'])).exitCode, 0);

  // Stop while paused: resumed first, then stopped.
  await mgr.pause(name);
  assert.equal((await mgr.stop(name)).status, 'stopped');

  const restarted = await mgr.restart(name);
  assert.equal(restarted.status, 'running');
  assert.equal((await mgr.exec(name, ['cat', '/root/note'])).stdout.toString(), 'kept\n');

  // `exit 5` on the console ends the init: the container stops by itself and reports the code.
  const exited = new Promise<number | null>((resolve) => {
    const off = mgr.onExit(name, (e) => {
      off();
      resolve(e.code);
    });
  });
  await mgr.sendConsole(name, 'exit 5\n');
  assert.equal(await exited, 5);
  const info = await mgr.info(name);
  assert.equal(info.status, 'stopped');
  assert.equal(info.lastExit?.code, 5);

  await assert.rejects(mgr.delete(`${name}-nope`), { code: 'NOT_FOUND' });
  await mgr.start(name);
  await assert.rejects(mgr.delete(name), { code: 'CONFLICT' }, 'a running container needs force');
  await mgr.delete(name, { force: true });
  assert.deepEqual(await traces(name), []);
  assert.deepEqual(
    readdirSync(join(home, 'containers')).filter((n) => !n.startsWith('.')),
    [],
    'no container folder is left',
  );
});

test('a busybox container of the host architecture', { skip, timeout: 300_000 }, async () => {
  const name = `bb-${process.pid}`;
  await mgr.launch({ name, image: image(busybox), limits: { memoryBytes: 32 * 1024 * 1024 } });
  const r = await mgr.exec(name, ['sh', '-c', 'echo $(( 6 * 7 )); cat /etc/os-release | head -1']);
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout.toString(), /^42\nNAME=BusyBox/);
  assert.equal((await mgr.exec(name, ['sh', '-c', 'exit 3'])).exitCode, 3);
  await mgr.stop(name, { timeoutMs: 2000 });
  await mgr.delete(name);
  assert.deepEqual(await traces(name), []);
});

test('bad input fails at launch with one line and leaves nothing behind', { skip, timeout: 300_000 }, async () => {
  const before = readdirSync(join(home, 'containers')).filter((n) => !n.startsWith('.'));
  const expectClean = async (name: string) => {
    assert.deepEqual(await traces(name), []);
    assert.deepEqual(
      readdirSync(join(home, 'containers')).filter((n) => !n.startsWith('.')),
      before,
    );
  };

  // No runc on the host.
  const noRunc = new ContainerManager({ home, runcBinary: join(home, 'no-such-runc'), cgroupParent: PARENT });
  await assert.rejects(noRunc.launch({ name: 'norunc', image: image(busybox) }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /runc/);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
  assert.match((await noRunc.unavailableReason()) ?? '', /Debian package 'runc'/);
  await expectClean('norunc');

  // A host without cgroup support (an empty cgroup mount point).
  const emptyCg = mkdtempSync(join(tmpdir(), 'strata-nocg-'));
  const noCg = new ContainerManager({ home, cgroupRoot: emptyCg, cgroupParent: PARENT });
  await assert.rejects(noCg.launch({ name: 'nocg', image: image(busybox) }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /no cgroup support/);
    return true;
  });
  await expectClean('nocg');
  // A v1 host missing the memory hierarchy.
  for (const c of ['cpu', 'pids', 'freezer']) {
    mkdirSync(join(emptyCg, c), { recursive: true });
    writeFileSync(join(emptyCg, c, 'tasks'), '');
  }
  await assert.rejects(noCg.launch({ name: 'nocg', image: image(busybox) }), /lacks the memory hierarchy/);
  await expectClean('nocg');
  rmSync(emptyCg, { recursive: true, force: true });

  // An image whose manifest names another architecture.
  await assert.rejects(
    mgr.launch({ name: 'wrongarch', image: { ...image(busybox), arch: 'riscv64' } }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /is for riscv64, but this host is/);
      return true;
    },
  );
  await expectClean('wrongarch');

  // An image labelled for this host whose programs are for another CPU (a riscv64 ELF header).
  const fake = mkdtempSync(join(tmpdir(), 'strata-fakeimg-'));
  mkdirSync(join(fake, 'bin'));
  const elf = Buffer.alloc(64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeUInt16LE(243, 18);
  writeFileSync(join(fake, 'bin', 'busybox'), elf, { mode: 0o755 });
  spawnSync('ln', ['-s', 'busybox', join(fake, 'bin', 'sh')]);
  await assert.rejects(
    mgr.launch({ name: 'wrongelf', image: { name: 'fake', arch: busybox.arch, rootfsPath: fake } }),
    /holds riscv64 programs/,
  );
  await expectClean('wrongelf');
  rmSync(fake, { recursive: true, force: true });

  // An init that does not exist: runc's own error, and everything undone.
  await assert.rejects(
    mgr.launch({ name: 'noinit', image: image(busybox), command: ['/no/such/init'] }),
    (e: Error & { code?: string }) => {
      assert.match(e.message, /did not start: .*no such file|did not start: .*not found/);
      return true;
    },
  );
  await expectClean('noinit');

  // Bad names, limits, hostnames: refused before anything is written.
  await assert.rejects(mgr.launch({ name: 'Bad/Name', image: image(busybox) }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(
    mgr.launch({ name: 'lim', image: image(busybox), limits: { memoryBytes: 1000 } }),
    /at least 4 MiB/,
  );
  await assert.rejects(
    mgr.launch({ name: 'host', image: image(busybox), hostname: 'bad host' }),
    /invalid container hostname/,
  );
  await expectClean('lim');
  await expectClean('host');

  // A second container of the same name.
  await mgr.create({ name: 'dup', image: image(busybox) });
  await assert.rejects(mgr.create({ name: 'dup', image: image(busybox) }), { code: 'ALREADY_EXISTS' });
  await mgr.delete('dup');
  await expectClean('dup');
});

test('the network hook: a TAP into the container on a Strata network, DHCP from the network, traffic both ways', {
  skip: skip || (!existsSync(TAP_BRIDGE_PATH) ? 'TAP bridge helper not built (no C compiler)' : false),
  timeout: 300_000,
}, async (t) => {
  const octet = 1 + (process.pid % 250);
  const subnet = `10.254.${octet}`;
  const runDir = mkdtempSync(join(tmpdir(), 'strata-hook-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const net = await serveNetwork({ name: 'hooknet', subnet: `${subnet}.1/24` }, { runDir, dnsUpstream: null });
  t.after(() => net.close());
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const name = `net-${process.pid}`;
  const info = await mgr.launch({ name, image: image(debian) });
  assert.ok(info.netnsPath && info.pid);
  const attach = (netnsPath: string, portName: string, extra: { mac?: string; watchPid?: number } = {}) =>
    attachContainerNic({ netnsPath, endpointPath: net.endpoint.path, network: 'hooknet', portName, ...extra });
  const nic = await attach(info.netnsPath, 'debian', { mac: '52:54:00:12:34:56', watchPid: info.pid });
  const link = (await mgr.exec(name, ['ip', '-o', 'link', 'show', 'eth0'])).stdout.toString();
  assert.match(link, /eth0: <[^>]*\bUP\b/);
  assert.match(link, /52:54:00:12:34:56/);
  assert.ok(net.sw.portByName('debian'), 'the container is a port of the switch');
  // The Debian image's DHCP client gets an address from the network's DHCP server.
  const dh = await mgr.exec(name, ['dhclient', '-1', 'eth0']);
  assert.equal(dh.exitCode, 0, dh.stderr.toString());
  const addr = (await mgr.exec(name, ['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout.toString();
  assert.match(addr, new RegExp(`inet ${subnet.replace(/\./g, '\\.')}\\.\\d+/24`));
  const lease = net.router?.interfaces[0]?.dhcp?.list().find((l) => l.state === 'bound');
  assert.ok(lease, 'a bound lease in the network');
  const ping = await mgr.exec(name, ['ping', '-c', '1', '-W', '3', `${subnet}.1`]);
  assert.equal(ping.exitCode, 0, ping.stdout.toString() + ping.stderr.toString());

  // A busybox container on the same network: udhcpc with the image's lease script, then it pings the first one.
  const bb = `netbb-${process.pid}`;
  const bbInfo = await mgr.launch({ name: bb, image: image(busybox) });
  const bbNic = await attach(bbInfo.netnsPath as string, 'busybox', { watchPid: bbInfo.pid as number });
  const udhcpc = await mgr.exec(bb, ['udhcpc', '-i', 'eth0', '-n', '-q', '-t', '5']);
  assert.equal(udhcpc.exitCode, 0, udhcpc.stderr.toString());
  const debianIp = /inet (\S+)\//.exec(addr)?.[1] as string;
  const bbPing = await mgr.exec(bb, ['ping', '-c', '1', '-W', '3', debianIp]);
  assert.equal(bbPing.exitCode, 0, bbPing.stdout.toString() + bbPing.stderr.toString());
  // Deleting the container ends its helper (it follows the container's init) and frees its port.
  await mgr.delete(bb, { force: true });
  const end = Date.now() + 5000;
  while (alive(bbNic.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!alive(bbNic.pid), 'the helper ended with its container');

  // A failed attachment (no such endpoint) leaves no interface behind.
  await assert.rejects(
    attachContainerNic({
      netnsPath: info.netnsPath,
      endpointPath: join(runDir, 'missing.sock'),
      network: 'nosuch',
      ifName: 'eth1',
    }),
    /container NIC on network 'nosuch' failed: cannot connect to the switch endpoint/,
  );
  const links = (await mgr.exec(name, ['ip', '-o', 'link'])).stdout.toString();
  assert.doesNotMatch(links, /eth1/);

  await nic.remove();
  assert.ok(!alive(nic.pid));
  assert.doesNotMatch((await mgr.exec(name, ['ip', '-o', 'link'])).stdout.toString(), /eth0/);
  assert.equal(net.sw.portByName('debian'), undefined);
  // A NIC that is not removed goes with the container.
  const again = await mgr.info(name);
  const last = await attach(again.netnsPath as string, 'debian2', { watchPid: again.pid as number });
  await mgr.delete(name, { force: true });
  const end2 = Date.now() + 5000;
  while (alive(last.pid) && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!alive(last.pid), 'the helper dies with the container');
  assert.deepEqual(await traces(name), []);
  assert.deepEqual(await traces(bb), []);
});

test('a new manager (a restarted daemon) adopts running containers: console, exec, stop, delete', {
  skip,
  timeout: 300_000,
}, async () => {
  const first = new ContainerManager({ home, cgroupParent: PARENT, stopTimeoutMs: 3000 });
  const name = `adopt-${process.pid}`;
  await first.launch({ name, image: image(busybox) });
  first.detach();
  const second = new ContainerManager({ home, cgroupParent: PARENT, stopTimeoutMs: 3000 });
  await assert.rejects(second.start(name), { code: 'CONFLICT' }, 'never kills a container it does not know yet');
  assert.deepEqual(await second.recover(), [name]);
  const info = await second.info(name);
  assert.equal(info.status, 'running');
  assert.equal((await second.exec(name, ['sh', '-c', 'exit 9'])).exitCode, 9);
  let text = '';
  const sub = second.subscribeConsole(name, (b) => {
    text += Buffer.from(b).toString();
  });
  await second.sendConsole(name, 'echo adopted-$((40+2))\n');
  for (let i = 0; i < 100 && !text.includes('adopted-42'); i++) await new Promise((r) => setTimeout(r, 50));
  sub.close();
  assert.match(text, /adopted-42/);
  const stopped = await second.stop(name);
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.lastExit?.code, null, 'an adopted run has no known exit code');
  await second.delete(name);
  assert.deepEqual(await traces(name), []);
});
