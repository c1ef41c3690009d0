// The TAP bridge helper (native/strata-tap-bridge.c) on its own, against a real switch endpoint in this process:
// two helpers put `eth0` into two network namespaces made for the test, the namespaces ping each other through our
// switch, the ports show on the switch with their names, a helper exits when the endpoint closes, on SIGTERM and when
// the process it watches ends, leaving no device behind; bad arguments are one-line errors. Skipped unless root with
// /dev/net/tun, ip and a built helper (the build compiles it whenever a C compiler is there).
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  attachContainerNic,
  readInterfaceIpv4,
  removeHelperByPid,
  TAP_BRIDGE_PATH,
  tapBridgeUnavailable,
} from '../../src/services/containers/network-hook.js';
import { serveNetwork } from '../../src/services/network/network-host.js';

const run = promisify(execFile);
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : spawnSync('ip', ['-V']).status !== 0
        ? 'no ip (iproute2)'
        : spawnSync('busybox', ['true']).status !== 0
          ? 'no busybox'
          : !existsSync(TAP_BRIDGE_PATH)
            ? 'helper not built (no C compiler)'
            : false;

/** Runs the helper with `args` and returns its exit status and stderr. */
function helperRun(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(TAP_BRIDGE_PATH, args, { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function links(ns: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'ip', '-o', 'link'], { encoding: 'utf8' }).stdout;
}

test('bad arguments are one-line errors with exit 2', { skip }, () => {
  const cases: [string[], RegExp][] = [
    [[], /missing --socket/],
    [['--socket', '/nonexistent'], /missing --ifname/],
    [['--socket', '/x', '--ifname', 'this-name-is-too-long'], /invalid interface name 'this-name-is-too-long'/],
    [['--socket', '/x', '--ifname', 'eth0', '--mac', '01:00:5e:00:00:01'], /invalid MAC address '01:00:5e:00:00:01'/],
    [['--socket', '/x', '--ifname', 'eth0', '--mac', 'zz:00:00:00:00:01'], /invalid MAC address/],
    [['--socket', '/x', '--ifname', 'eth0', '--vlan', '5000'], /invalid VLAN id '5000'/],
    [['--socket', '/x', '--ifname', 'eth0', '--bogus', '1'], /unknown option '--bogus'/],
    [['--socket', '/x', '--ifname'], /option --ifname needs a value/],
    [['--socket', '/x', '--ifname', 'eth0', '--watch-pid', 'abc'], /invalid pid 'abc'/],
    [['--socket', '/x', '--ifname', 'eth0', '--hello-timeout', '0'], /invalid hello timeout '0'/],
  ];
  for (const [args, re] of cases) {
    const r = helperRun(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const noSocket = helperRun(['--socket', '/nonexistent/strata.sock', '--ifname', 'stbtest0']);
  assert.equal(noSocket.status, 1);
  assert.match(noSocket.stderr, /cannot connect to the switch endpoint \/nonexistent\/strata\.sock/);
});

test('the hook refuses bad input and names a missing helper', async () => {
  const base = { netnsPath: '/proc/1/ns/net', endpointPath: '/nonexistent', network: 'n' };
  await assert.rejects(attachContainerNic({ ...base, netnsPath: '/etc/passwd' }), /not a network namespace path/);
  await assert.rejects(attachContainerNic({ ...base, ifName: 'bad name' }), /invalid interface name 'bad name'/);
  await assert.rejects(attachContainerNic({ ...base, mac: '52:54' }), /invalid MAC address '52:54'/);
  await assert.rejects(attachContainerNic({ ...base, vlan: 0 }), /invalid VLAN id 0/);
  const missing = '/nonexistent/strata-tap-bridge';
  assert.match(tapBridgeUnavailable(missing) ?? '', /helper \/nonexistent\/strata-tap-bridge is missing.*C compiler/);
  await assert.rejects(
    attachContainerNic({ ...base, helperPath: missing }),
    (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /cannot join networks/.test(e.message),
  );
});

test('two helpers on one switch endpoint: namespaces ping each other; helpers end on close, SIGTERM, watched pid', {
  skip,
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = await serveNetwork({ name: 'taptest' }, { runDir: dir, dnsUpstream: null });
  let hostClosed = false;
  t.after(async () => {
    if (!hostClosed) await host.close();
  });
  const nsA = `stb-a-${process.pid}`;
  const nsB = `stb-b-${process.pid}`;
  for (const ns of [nsA, nsB]) {
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (add.status !== 0) {
      t.skip(`cannot create a network namespace: ${add.stderr.trim()}`);
      return;
    }
    t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  }
  const macA = '02:00:5e:10:00:0a';
  const a = await attachContainerNic({
    netnsPath: `/run/netns/${nsA}`,
    endpointPath: host.endpoint.path,
    network: 'taptest',
    portName: 'ctr-a',
    mac: macA,
  });
  t.after(() => a.remove());
  const b = await attachContainerNic({
    netnsPath: `/run/netns/${nsB}`,
    endpointPath: host.endpoint.path,
    network: 'taptest',
    portName: 'ctr-b',
    mac: '02:00:5e:10:00:0b',
  });
  t.after(() => b.remove());
  assert.deepEqual(
    host.sw
      .ports()
      .map((p) => p.name)
      .sort(),
    ['ctr-a', 'ctr-b'],
  );
  assert.notEqual(a.portNo, b.portNo);
  // The device is inside the namespace, up, with our MAC; the helper itself went back to its own namespace.
  assert.match(links(nsA), new RegExp(`eth0: <[^>]*\\bUP\\b[^>]*>.*link/ether ${macA}`));
  assert.doesNotMatch(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout, /\beth0:.*02:00:5e:10:00:0a/);
  assert.equal(readlinkSync(`/proc/${a.pid}/ns/net`), readlinkSync('/proc/self/ns/net'));

  await run('ip', ['netns', 'exec', nsA, 'ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'eth0']);
  await run('ip', ['netns', 'exec', nsB, 'ip', 'addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
  assert.equal(await readInterfaceIpv4(`/run/netns/${nsA}`), '10.77.0.1/24');
  const ping = await run('ip', [
    'netns',
    'exec',
    nsA,
    'busybox',
    'ping',
    '-c',
    '3',
    '-i',
    '0.2',
    '-W',
    '2',
    '10.77.0.2',
  ]);
  assert.match(ping.stdout, /3 packets received/);
  const portA = host.sw.portByName('ctr-a');
  assert.ok(portA && portA.counters.rxPackets >= 3, 'the switch counted frames from the helper');
  // A bulk transfer in both directions (bounded buffers, no loss of the connection).
  // Many large frames back to back in both directions (-A: the next as soon as the answer is there).
  const flood = await run('ip', [
    'netns',
    'exec',
    nsB,
    'busybox',
    'ping',
    '-A',
    '-c',
    '300',
    '-s',
    '1400',
    '-W',
    '5',
    '10.77.0.1',
  ]);
  assert.match(flood.stdout, /300 packets transmitted, 300 packets received/);

  // SIGTERM: remove() ends the helper, the device goes with it, the port leaves the switch.
  await a.remove();
  assert.equal(alive(a.pid), false);
  assert.doesNotMatch(links(nsA), /eth0/);
  await until('port ctr-a to leave the switch', () => host.sw.portByName('ctr-a') === undefined);

  // A watched process that ends takes its helper along.
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.after(() => sleeper.kill('SIGKILL'));
  const c = await attachContainerNic({
    netnsPath: `/run/netns/${nsA}`,
    endpointPath: host.endpoint.path,
    network: 'taptest',
    portName: 'ctr-c',
    watchPid: sleeper.pid,
  });
  t.after(() => c.remove());
  assert.match(links(nsA), /eth0/);
  sleeper.kill('SIGKILL');
  await until('the helper to follow the watched process', () => !alive(c.pid));
  assert.doesNotMatch(links(nsA), /eth0/);

  // A later daemon ends a helper by the pid and start time its record kept: a pid now used by another helper
  // (one that started at another time) is left alone.
  assert.ok(b.startTime, 'the NIC knows when its helper started');
  await removeHelperByPid(b.pid, `${b.startTime}1`);
  assert.equal(alive(b.pid), true, 'a helper with another start time is not signalled');
  assert.match(links(nsB), /eth0/);

  // The network going away ends the remaining helper.
  assert.match(links(nsB), /eth0/);
  await host.close();
  hostClosed = true;
  await until('the helper to exit after the endpoint closed', () => !alive(b.pid));
  assert.doesNotMatch(links(nsB), /eth0/);
});

test('a helper whose interface name is taken fails with the kernel reason and leaves nothing', {
  skip,
  timeout: 30_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = await serveNetwork({ name: 'taptest2' }, { runDir: dir, dnsUpstream: null });
  t.after(() => host.close());
  const ns = `stb-c-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) {
    t.skip('cannot create a network namespace');
    return;
  }
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  await assert.rejects(
    attachContainerNic({ netnsPath: `/run/netns/${ns}`, endpointPath: host.endpoint.path, network: 'taptest2' }),
    /container NIC on network 'taptest2' failed: cannot create TAP device eth0: /,
  );
  await until('no port on the switch', () => host.sw.ports().length === 0);
});

test('an endpoint that never answers the hello makes the helper fail after its timeout, leaving nothing', {
  skip,
  timeout: 30_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Takes the connection, reads the hello, never answers (a hung switch process).
  const held: Socket[] = [];
  const mute = createServer((s) => {
    held.push(s);
    s.resume();
  });
  const path = join(dir, 'mute.sock');
  await new Promise<void>((r) => mute.listen(path, r));
  t.after(() => {
    for (const s of held) s.destroy();
    mute.close();
  });
  const ns = `stb-d-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) {
    t.skip('cannot create a network namespace');
    return;
  }
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  const child = spawn(
    TAP_BRIDGE_PATH,
    ['--socket', path, '--ifname', 'eth0', '--netns', `/run/netns/${ns}`, '--hello-timeout', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /the switch endpoint .*mute\.sock did not answer the hello within 1 s/);
  assert.doesNotMatch(links(ns), /eth0/);
});

test('the helper refuses to put its device into its own network namespace', { skip, timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = await serveNetwork({ name: 'taptest3' }, { runDir: dir, dnsUpstream: null });
  t.after(() => host.close());
  // A container's /proc/PID/ns/net whose PID now names a host process: the device must never reach the host.
  const own = helperRun(['--socket', host.endpoint.path, '--ifname', 'stbhost0', '--netns', '/proc/self/ns/net']);
  assert.equal(own.status, 1, own.stderr);
  assert.match(own.stderr, /network namespace \/proc\/self\/ns\/net is the helper's own/);
  assert.doesNotMatch(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout, /stbhost0/);
  await until('no port on the switch', () => host.sw.ports().length === 0);
});
